package workflows

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
)

// versionSteps gates the steps engine: deploys, manual and automated
// cleanings run the steps their request and the node's deploy interface
// give, and a deploy writes the request's config drive. Runs that started
// before it keep their fixed sequences.
const versionSteps = "steps"

// deployPlan orders a deploy's steps as Ironic does: the interface's steps
// with a priority above 0, unless the request disables them (priority 0),
// and the request's steps with the priority it gives; highest priority
// first, the interface's order breaking ties, then the request's.
func deployPlan(catalog, user []activities.StepRef) []activities.StepRef {
	var plan []activities.StepRef
	overridden := func(s activities.StepRef) bool {
		return slices.ContainsFunc(user, func(u activities.StepRef) bool { return u.ID() == s.ID() })
	}
	for _, s := range catalog {
		if s.Priority > 0 && !overridden(s) {
			plan = append(plan, s)
		}
	}
	for _, u := range user {
		if u.Priority > 0 {
			plan = append(plan, u)
		}
	}
	slices.SortStableFunc(plan, func(a, b activities.StepRef) int { return cmp.Compare(b.Priority, a.Priority) })
	return plan
}

// automatedCleanPlan is the interface's clean steps with a priority above
// 0, highest first (Ironic's automated cleaning).
func automatedCleanPlan(catalog []activities.StepRef) []activities.StepRef {
	return deployPlan(catalog, nil)
}

// planned returns the plan the facts carry (OperationFacts plans), or for
// facts recorded before it did, the plan the workflow made itself then.
func planned(f activities.OperationFacts, own func() []activities.StepRef) []activities.StepRef {
	if f.Planned {
		return f.Plan
	}
	return own()
}

// facts loads the operation's step facts.
func (o *op) facts(ctx workflow.Context, kind activities.StepKind) (activities.OperationFacts, error) {
	var f activities.OperationFacts
	err := workflow.ExecuteLocalActivity(ctx, a.OperationFacts, activities.OperationFactsInput{
		UUID: o.in.NodeUUID, OperationID: o.in.OperationID, Kind: kind}).Get(ctx, &f)
	return f, err
}

// stepShown is a step as shown in clean_step or deploy_step before it runs
// (its arguments are filled in when it does, from the store).
func stepShown(s activities.StepRef) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"args":{},"interface":%s,"priority":%d,"step":%s}`,
		strconv.Quote(s.Interface), s.Priority, strconv.Quote(s.Name)))
}

// runSteps runs steps in order through a deploy interface that runs them
// itself (the fake, in memory).
func (o *op) runSteps(ctx workflow.Context, kind activities.StepKind, steps []activities.StepRef) error {
	o.clearSteps = true
	for _, s := range steps {
		if o.isHold(ctx, kind, s) {
			if err := o.hold(ctx, kind); err != nil {
				return err
			}
			continue
		}
		if o.isFlowStep(ctx, kind, s) {
			if err := o.flowStep(ctx, kind, s); err != nil {
				return err
			}
			continue
		}
		o.step = s.ID()
		if err := o.driver(ctx, a.RunDeployStep, activities.StepInput{UUID: o.in.NodeUUID,
			OperationID: o.in.OperationID, Kind: kind, Step: s}).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// runAgentStep runs one step on the ramdisk agent: the command is built
// from the store, and the step (with its progress) is shown on the node.
func (o *op) runAgentStep(ctx workflow.Context, kind activities.StepKind, s activities.StepRef) error {
	o.step = s.ID()
	step := s
	return workflow.ExecuteActivity(agentOptions(ctx), a.RunAgentCommand, activities.AgentCommandInput{
		UUID: o.in.NodeUUID, Command: wire.Command{ID: commandID(ctx, string(kind)+"-"+s.ID())},
		Step: &step, Kind: kind, OperationID: o.in.OperationID,
	}).Get(ctx, nil)
}

// bootAgent boots the ramdisk and waits for its agent in wait (clean wait,
// wait call-back, inspect wait), with show adding to that transition (the
// coming step), then moves to busy (cleaning, deploying, inspecting).
func (o *op) bootAgent(ctx workflow.Context, wait, busy node.ProvisionState, show func(*activities.TransitionInput)) error {
	o.clearSteps = true
	if err := o.bootRamdisk(ctx); err != nil {
		return err
	}
	on := node.PowerOn
	if err := o.enter(ctx, wait, o.target, func(t *activities.TransitionInput) {
		t.PowerState = &on
		if show != nil {
			show(t)
		}
	}); err != nil {
		return err
	}
	o.step = "wait for agent"
	if err := o.waitAgent(ctx); err != nil {
		return err
	}
	return o.enter(ctx, busy, o.target, nil)
}

// showStep shows first as the coming clean or deploy step.
func showStep(kind activities.StepKind, first activities.StepRef) func(*activities.TransitionInput) {
	return func(t *activities.TransitionInput) {
		switch kind {
		case activities.CleanSteps:
			t.CleanStep = stepShown(first)
		case activities.ServiceSteps:
			t.ServiceStep = stepShown(first)
		default:
			t.DeployStep = stepShown(first)
		}
	}
}

// agentCleanSteps runs clean steps with the ramdisk agent up: boot it,
// clean wait, run each step (in band on the agent, the others through
// their interface), remove the ramdisk boot and power off. On failure the
// ramdisk boot is abandoned and the error returned (the caller fails the
// node to clean failed). Manual and automated cleaning share it.
func (o *op) agentCleanSteps(ctx workflow.Context, steps []activities.StepRef) error {
	if len(steps) == 0 {
		return nil
	}
	err := o.bootAgent(ctx, node.CleanWait, node.Cleaning, showStep(activities.CleanSteps, steps[0]))
	for i := 0; err == nil && i < len(steps); i++ {
		err = o.runStep(ctx, activities.CleanSteps, steps[i])
	}
	return o.leaveRamdisk(ctx, err, "cleaning")
}

// runStep runs one step with the ramdisk agent up: on the agent when it
// runs in band, through its interface otherwise.
func (o *op) runStep(ctx workflow.Context, kind activities.StepKind, s activities.StepRef) error {
	if o.isHold(ctx, kind, s) {
		return o.hold(ctx, kind)
	}
	if s.InBand {
		return o.runAgentStep(ctx, kind, s)
	}
	return o.runSteps(ctx, kind, []activities.StepRef{s})
}

// leaveRamdisk ends an agent session that did its work (err == nil): the
// ramdisk boot is removed (the token dies) and the node powered off. After
// a failure (err != nil) the ramdisk boot is abandoned and err returned.
func (o *op) leaveRamdisk(ctx workflow.Context, err error, what string) error {
	if err == nil {
		if err = workflow.ExecuteLocalActivity(ctx, a.CleanUpRamdiskBoot, o.in.NodeUUID).Get(ctx, nil); err != nil {
			err = fmt.Errorf("clean up ramdisk boot: %w", err)
		}
	}
	if err != nil {
		o.abandonAgent(ctx)
		return err
	}
	if err := o.powerOff(ctx); err != nil {
		return fmt.Errorf("power off after %s: %w", what, err)
	}
	return nil
}

// cleanSteps runs the request's clean steps (manual cleaning).
func (o *op) cleanSteps(ctx workflow.Context) error {
	f, err := o.facts(ctx, activities.CleanSteps)
	if err != nil {
		return err
	}
	steps := planned(f, func() []activities.StepRef { return f.User })
	if f.RunsSteps {
		return o.runSteps(ctx, activities.CleanSteps, steps)
	}
	return o.agentCleanSteps(ctx, steps)
}

// deploySteps deploys by steps: through an interface that runs them itself
// (the core deploy step is its Deploy), or through the ramdisk agent: check
// the image, boot the ramdisk (the core step), run the other steps in
// order, write the config drive, boot from disk. Every failure ends in
// deploy failed with the ramdisk boot removed; the node never becomes active
// with a bad image.
func (o *op) deploySteps(ctx workflow.Context) error {
	f, err := o.facts(ctx, activities.DeploySteps)
	if err != nil {
		return o.fail(ctx, node.DeployFail, err)
	}
	plan := planned(f, func() []activities.StepRef { return deployPlan(f.Catalog, f.User) })
	if f.RunsSteps {
		for _, s := range plan {
			if s.Core {
				o.step = "deploy"
				if err := o.driver(ctx, a.DeployImage, o.in.NodeUUID).Get(ctx, nil); err != nil {
					return o.fail(ctx, node.DeployFail, err)
				}
				continue
			}
			if err := o.runSteps(ctx, activities.DeploySteps, []activities.StepRef{s}); err != nil {
				return o.fail(ctx, node.DeployFail, err)
			}
		}
		return o.succeed(ctx, node.Active, nil)
	}
	core := slices.IndexFunc(plan, func(s activities.StepRef) bool { return s.Core })
	if core < 0 {
		// The core step is disabled: no ramdisk boots, the plan holds only
		// steps that run without it (OperationFacts left the agent's out).
		if err := o.runSteps(ctx, activities.DeploySteps, plan); err != nil {
			return o.fail(ctx, node.DeployFail, err)
		}
		return o.succeed(ctx, node.Active, nil)
	}
	o.clearSteps = true
	if err := workflow.ExecuteLocalActivity(ctx, a.CheckInstanceImage, o.in.NodeUUID).Get(ctx, nil); err != nil {
		return o.fail(ctx, node.DeployFail, err)
	}
	failed := func(err error) error {
		o.abandonAgent(ctx)
		return o.fail(ctx, node.DeployFail, err)
	}
	// Steps before the core one run through their interfaces before the
	// ramdisk boots (the API refuses in-band steps there).
	if err := o.runSteps(ctx, activities.DeploySteps, plan[:core]); err != nil {
		return o.fail(ctx, node.DeployFail, err)
	}
	if err := o.bootAgent(ctx, node.DeployWait, node.Deploying, showStep(activities.DeploySteps, plan[core])); err != nil {
		return failed(err)
	}
	for _, s := range plan[core+1:] {
		if err := o.runStep(ctx, activities.DeploySteps, s); err != nil {
			return failed(err)
		}
	}
	if f.HasConfigDrive {
		o.step = "write config drive"
		if err := workflow.ExecuteActivity(agentOptions(ctx), a.RunAgentCommand, activities.AgentCommandInput{
			UUID: o.in.NodeUUID, Command: wire.Command{ID: commandID(ctx, "configdrive")},
			Build: activities.BuildConfigDrive, OperationID: o.in.OperationID,
		}).Get(ctx, nil); err != nil {
			return failed(fmt.Errorf("write config drive: %w", err))
		}
	}
	return o.bootFromDisk(ctx, failed)
}

// bootFromDisk ends an agent deploy: boot device disk, ramdisk boot removed
// (the token dies), power cycle, active.
func (o *op) bootFromDisk(ctx workflow.Context, failed func(error) error) error {
	o.step = "boot from disk"
	if err := o.bootDevice(ctx, drivers.BootDisk, true); err != nil {
		return failed(fmt.Errorf("set boot device to disk: %w", err))
	}
	if err := workflow.ExecuteLocalActivity(ctx, a.CleanUpRamdiskBoot, o.in.NodeUUID).Get(ctx, nil); err != nil {
		return failed(fmt.Errorf("clean up ramdisk boot: %w", err))
	}
	// The agent fsynced what it wrote before reporting success: a hard
	// power cycle is safe and works whatever state the ramdisk is in.
	if err := o.power(ctx, node.PowerOff); err != nil {
		return failed(fmt.Errorf("power off after writing the image: %w", err))
	}
	if err := o.power(ctx, node.PowerOn); err != nil {
		return failed(fmt.Errorf("power on from disk: %w", err))
	}
	on := node.PowerOn
	o.powerState = &on
	return o.succeed(ctx, node.Active, nil)
}
