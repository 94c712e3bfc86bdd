package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Inspect inspects a node's hardware: manageable (or inspect failed) ->
// inspecting -> manageable, through inspect wait when the ramdisk agent
// inspects (in-band). The inventory is validated and stored by the
// activities (never carried by the workflow); then the node's properties
// are filled and ports created for its NICs. Failures end in inspect
// failed with the cause in last_error; abort from inspect wait too.
func Inspect(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := start(ctx, in, contract.InspectName)
	if err != nil {
		return err
	}
	if err := o.enter(ctx, node.Inspecting, node.Manageable, func(t *activities.TransitionInput) {
		t.InspectionStarted = true
	}); err != nil {
		return err
	}
	o.step = "inspect hardware"
	var done bool
	if err := o.driver(ctx, a.InspectHardware, in.NodeUUID).Get(ctx, &done); err != nil {
		return o.fail(ctx, node.InspectFail, err)
	}
	if !done {
		if err := o.agentInspect(ctx); err != nil {
			return o.fail(ctx, node.InspectFail, err)
		}
	}
	o.step = "apply inventory"
	var applied activities.InspectionApplied
	if err := workflow.ExecuteLocalActivity(ctx, a.ApplyInspection, activities.ApplyInspectionInput{
		UUID: in.NodeUUID}).Get(ctx, &applied); err != nil {
		return o.fail(ctx, node.InspectFail, err)
	}
	return o.succeed(ctx, node.Manageable, func(t *activities.TransitionInput) {
		t.InspectionFinished = true
		if len(applied.PortsCreated) > 0 || len(applied.PortsSkipped) > 0 {
			t.Event = fmt.Sprintf("inspecting -> manageable: inspection done; ports created %v", applied.PortsCreated)
			if len(applied.PortsSkipped) > 0 {
				t.Event += fmt.Sprintf("; MACs of other nodes not added: %v", applied.PortsSkipped)
			}
		}
	})
}

// agentInspect boots the ramdisk, waits in inspect wait for the agent (a
// durable timer bounds it; abort ends it), has it inspect, stores its
// inventory, removes the ramdisk boot and powers the node off.
func (o *op) agentInspect(ctx workflow.Context) error {
	err := o.bootAgent(ctx, node.InspectWait, node.Inspecting, nil)
	if err == nil {
		o.step = "collect inventory"
		id := commandID(ctx, "inspect")
		err = workflow.ExecuteActivity(agentOptions(ctx), a.RunAgentCommand, activities.AgentCommandInput{
			UUID: o.in.NodeUUID, Command: wire.Command{ID: id, Name: wire.CmdInspect}}).Get(ctx, nil)
		if err == nil {
			err = workflow.ExecuteLocalActivity(ctx, a.StoreAgentInventory, activities.StoreAgentInventoryInput{
				UUID: o.in.NodeUUID, CommandID: id}).Get(ctx, nil)
		}
	}
	return o.leaveRamdisk(ctx, err, "inspection")
}
