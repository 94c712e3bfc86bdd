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
	o, ctx, err := startIn(ctx, in, contract.InspectName, node.Inspecting, node.Manageable,
		func(t *activities.TransitionInput) { t.InspectionStarted = true })
	if err != nil {
		return err
	}
	o.step = "inspect hardware"
	var done bool
	if err := o.driver(ctx, a.InspectHardware, in.NodeUUID).Get(ctx, &done); err != nil {
		return o.fail(ctx, node.InspectFail, err)
	}
	var hooks bool
	if !done {
		if hooks, err = o.agentInspect(ctx); err != nil {
			return o.fail(ctx, node.InspectFail, err)
		}
	}
	o.step = "apply inventory"
	var applied activities.InspectionApplied
	if err := workflow.ExecuteLocalActivity(ctx, a.ApplyInspection, activities.ApplyInspectionInput{
		UUID: in.NodeUUID, Hooks: hooks}).Get(ctx, &applied); err != nil {
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
		if len(applied.RulesApplied) > 0 {
			if t.Event == "" {
				t.Event = "inspecting -> manageable: inspection done"
			}
			t.Event += fmt.Sprintf("; inspection rules applied %v", applied.RulesApplied)
		}
	})
}

// versionInspectCallback: in-band inspection waits for the ramdisk's POST
// /v1/continue_inspection (Ironic's agent inspect interface, ferric's agent
// and ironic-python-agent alike) instead of sending the agent an inspect
// command.
// It is revision 2 (contract.CurrentRevision).
const (
	versionInspectCallback  = "inspect-continue-inspection"
	revisionInspectCallback = 2
)

// agentInspect boots the ramdisk and waits in inspect wait (a durable
// timer bounds it; abort ends it) for the ramdisk to post its inspection
// data; then the hooks process it and it is stored, the ramdisk boot is
// removed and the node powered off. It reports whether the hooks ran
// (runs from before versionInspectCallback had the agent run an inspect
// command).
func (o *op) agentInspect(ctx workflow.Context) (bool, error) {
	if !o.takesAt(ctx, revisionInspectCallback, versionInspectCallback) {
		return false, o.agentInspectCommand(ctx)
	}
	o.clearSteps = true
	err := o.bootRamdisk(ctx)
	if err == nil {
		on := node.PowerOn
		err = o.enter(ctx, node.InspectWait, o.target, func(t *activities.TransitionInput) { t.PowerState = &on })
	}
	if err == nil {
		o.step = "wait for inspection data"
		err = o.waitInspectionData(ctx)
	}
	if err == nil {
		err = o.enter(ctx, node.Inspecting, o.target, nil)
	}
	if err == nil {
		o.step = "process inspection data"
		err = workflow.ExecuteLocalActivity(ctx, a.ProcessInspectionData, o.in.NodeUUID).Get(ctx, nil)
	}
	return true, o.leaveRamdisk(ctx, err, "inspection")
}

// waitInspectionData waits in inspect wait for the inspection-data signal
// (the API stored the data), an abort or the callback timeout. The agent's
// heartbeats (agent-ready) are not what inspection waits for: they are
// taken and ignored.
func (o *op) waitInspectionData(ctx workflow.Context) error {
	timeout := o.callbackTimeout()
	return o.await(ctx, workflow.GetSignalChannel(ctx, contract.SignalInspectionData), timeout, func() error {
		return fmt.Errorf("timeout reached while waiting for inspection data after %s", timeout)
	}, o.agentCh)
}

// agentInspectCommand is the inspection of runs that started before
// versionInspectCallback: wait for the agent, have it run an inspect
// command, store its result.
func (o *op) agentInspectCommand(ctx workflow.Context) error {
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
