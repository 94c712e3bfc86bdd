package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// versionHold gates the conductor-level hold step in manual cleaning and
// deploying: a "hold" step stops the run in clean hold or deploy hold until
// an unhold or an abort.
// Runs recorded before it never planned a hold step (their plans refused
// one), so no history takes the other branch.
const versionHold = "hold-step"

// Service runs the request's service steps on a deployed node (API 1.87,
// Ironic's conductor/servicing.py): active|service failed -> servicing ->
// active. Steps of an interface that runs them itself (the fake's) run in
// memory; otherwise the ramdisk boots (service wait until its agent calls
// back), in-band steps run on the agent, the others through their
// interface, and the node boots back from its disk. A hold step stops the
// run in service hold until an unhold (it resumes through service wait) or
// an abort (service failed). Any failure ends in service failed with
// last_error.
func Service(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.ServiceName, node.ServiceState, node.Active, nil)
	if err != nil {
		return err
	}
	o.service = true
	f, err := o.facts(ctx, activities.ServiceSteps)
	if err != nil {
		return o.fail(ctx, node.ServiceFail, err)
	}
	steps := planned(f, func() []activities.StepRef { return f.User })
	if f.RunsSteps || len(steps) == 0 {
		if err := o.runSteps(ctx, activities.ServiceSteps, steps); err != nil {
			return o.fail(ctx, node.ServiceFail, err)
		}
		return o.succeed(ctx, node.Active, nil)
	}
	failed := func(err error) error {
		o.abandonAgent(ctx)
		return o.fail(ctx, node.ServiceFail, err)
	}
	if err := o.bootAgent(ctx, node.ServiceWait, node.ServiceState,
		showStep(activities.ServiceSteps, steps[0])); err != nil {
		return failed(err)
	}
	for _, s := range steps {
		if err := o.runStep(ctx, activities.ServiceSteps, s); err != nil {
			return failed(err)
		}
	}
	return o.bootFromDisk(ctx, failed)
}

// holdStates are the hold, wait and busy states of an operation running
// steps of kind (a hold step moves the node to held; an unhold resumes it
// through wait to busy); ok is false for kinds that have no hold.
func holdStates(kind activities.StepKind) (held, wait, busy node.ProvisionState, ok bool) {
	switch kind {
	case activities.CleanSteps:
		return node.CleanHold, node.CleanWait, node.Cleaning, true
	case activities.ServiceSteps:
		return node.ServiceHold, node.ServiceWait, node.ServiceState, true
	case activities.DeploySteps:
		return node.DeployHold, node.DeployWait, node.Deploying, true
	}
	return "", "", "", false
}

// isHold reports whether s is the conductor-level hold step of a run that
// takes it (cleaning and deploying gate it with versionHold; servicing
// always had it).
func (o *op) isHold(ctx workflow.Context, kind activities.StepKind, s activities.StepRef) bool {
	if s.Name != drivers.StepHold || s.UserIndex < 0 {
		return false
	}
	if _, _, _, ok := holdStates(kind); !ok {
		return false
	}
	return kind == activities.ServiceSteps || o.takes(ctx, versionHold)
}

// hold is Ironic's hold step: the node waits in its hold state for an
// unhold (it moves through the wait state back to busy and the run goes
// on) or an abort (errAborted: the caller fails the node). No timer: a
// held node waits for its operator, as in Ironic.
func (o *op) hold(ctx workflow.Context, kind activities.StepKind) error {
	held, wait, busy, _ := holdStates(kind)
	o.step = drivers.StepHold
	if err := o.enter(ctx, held, o.target, nil); err != nil {
		return err
	}
	if err := o.await(ctx, workflow.GetSignalChannel(ctx, contract.SignalUnhold), 0, nil); err != nil {
		return err
	}
	if err := o.enter(ctx, wait, o.target, nil); err != nil {
		return err
	}
	return o.enter(ctx, busy, o.target, nil)
}
