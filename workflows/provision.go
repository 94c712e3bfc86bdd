package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// a names activities by method value; it is never called directly (the
// worker registers the real *activities.Activities).
var a *activities.Activities

// DefaultAgentTimeout bounds a wait for the agent when neither the input
// nor the worker sets one (Ironic's deploy_callback_timeout).
const DefaultAgentTimeout = 1800 * time.Second

var errAborted = errors.New("aborted by request")

// op is the in-memory state of one provisioning workflow run.
type op struct {
	in      contract.ProvisionInput
	info    activities.NodeInfo
	state   node.ProvisionState
	target  node.ProvisionState
	step    string
	lastErr string
	abortCh workflow.ReceiveChannel
	agentCh workflow.ReceiveChannel
	// Set by the agent paths only (the fake path's transitions stay as
	// recorded): clear deploy_step and clean_step when the run ends, and
	// record the power state the run left the node in.
	clearSteps bool
	powerState *node.PowerState
	// service marks a servicing run: service_step is cleared when it ends.
	service bool
}

// startIn is start, then the run's first state change: the node enters
// state with target (edit, when not nil, adds to the transition).
func startIn(ctx workflow.Context, in contract.ProvisionInput, name string, state, target node.ProvisionState,
	edit func(*activities.TransitionInput)) (*op, workflow.Context, error) {
	o, ctx, err := start(ctx, in, name)
	if err != nil {
		return nil, ctx, err
	}
	if err := o.enter(ctx, state, target, edit); err != nil {
		return nil, ctx, err
	}
	return o, ctx, nil
}

// start sets up the query handler and activity options, loads the node's
// workflow-visible facts and checks that verb is allowed from in.From.
func start(ctx workflow.Context, in contract.ProvisionInput, name string) (*op, workflow.Context, error) {
	o := &op{in: in, state: in.From,
		abortCh: workflow.GetSignalChannel(ctx, contract.SignalAbort),
		agentCh: workflow.GetSignalChannel(ctx, contract.SignalAgentReady)}
	if err := workflow.SetQueryHandler(ctx, contract.QueryState, func() (contract.Status, error) {
		return contract.Status{State: o.state, Target: o.target, Step: o.step, Error: o.lastErr}, nil
	}); err != nil {
		return nil, ctx, err
	}
	if in.Revision > contract.CurrentRevision {
		workflow.GetLogger(ctx).Warn("operation started at a behaviour revision this worker does not know: "+
			"it runs as this worker's release would (roll workers out before APIs)", "node", in.NodeUUID,
			"revision", in.Revision, "known", contract.CurrentRevision)
	}
	ctx = withOptions(ctx)
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &o.info); err != nil {
		return nil, ctx, fmt.Errorf("load node: %w", err)
	}
	// The plan is checked against the state the API saw, not the one just
	// loaded: after a worker crash, local activities run again and may see the
	// node already moved by this very run. The first transition is a
	// compare-and-set from in.From, so a stale API read fails there instead.
	wf, target, ok := contract.Plan(o.state, in.Verb)
	if !ok || wf != name {
		return nil, ctx, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("The requested action \"%s\" can not be performed on node \"%s\" while it is in state \"%s\".",
				in.Verb, in.NodeUUID, o.state), contract.ErrTypeInvalidState, nil)
	}
	o.target = target
	return o, ctx, nil
}

// storeRetryLimit bounds how long a local activity (a store write, an
// in-memory driver call) is retried: in practice, for as long as the
// database is away. The operation is durable and the database comes back;
// giving up would end the workflow with its node in a transient state that
// nothing moves on (a non-retryable error still fails at once).
const storeRetryLimit = 10 * 365 * 24 * time.Hour

// withOptions sets the activity options every workflow uses: local
// activities for short store writes and in-memory drivers, retried until the
// database answers, and regular activities with heartbeats for real
// hardware.
func withOptions(ctx workflow.Context) workflow.Context {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: storeRetryLimit,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Second},
	})
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
}

// takes reports whether the run takes the change gated by version marker
// change: always when it was started at a revision (no marker is
// recorded), otherwise as its marker says (the first run of the change
// records one).
func (o *op) takes(ctx workflow.Context, change string) bool {
	if o.in.Revision >= 1 {
		return true
	}
	return workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// takesAt is takes for a change of revision rev (> 1): a run started at
// rev or later takes it, one started at an earlier revision does not (it
// keeps that revision's behaviour, with no marker), and one started before
// revisions existed goes by its version marker.
func (o *op) takesAt(ctx workflow.Context, rev int, change string) bool {
	switch {
	case o.in.Revision >= rev:
		return true
	case o.in.Revision >= 1:
		return false
	}
	return workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// driver runs a driver activity: local for in-memory hardware types, regular
// (with heartbeats, visible as pending in the UI) otherwise.
func (o *op) driver(ctx workflow.Context, fn any, args ...any) workflow.Future {
	if o.info.InMemory {
		return workflow.ExecuteLocalActivity(ctx, fn, args...)
	}
	return workflow.ExecuteActivity(ctx, fn, args...)
}

// enter persists a move to state `to` (target as given) and then updates
// memory. Every transition goes through here.
func (o *op) enter(ctx workflow.Context, to, target node.ProvisionState, mod func(*activities.TransitionInput)) error {
	in := activities.TransitionInput{UUID: o.in.NodeUUID, From: []node.ProvisionState{o.state}, To: to, Target: target,
		User: o.in.RequestedBy.User, Project: o.in.RequestedBy.Project}
	if mod != nil {
		mod(&in)
	}
	var got node.ProvisionState
	if err := workflow.ExecuteLocalActivity(ctx, a.TransitionNode, in).Get(ctx, &got); err != nil {
		return fmt.Errorf("persist %s -> %s: %w", o.state, to, err)
	}
	o.state = to
	o.target = target
	return nil
}

// fail moves the node to a failure state with last_error, and returns the
// cause so the workflow run shows it too.
func (o *op) fail(ctx workflow.Context, to node.ProvisionState, cause error) error {
	return o.failWith(ctx, to, cause, nil)
}

// failWith is fail with more field updates in the same transition.
func (o *op) failWith(ctx workflow.Context, to node.ProvisionState, cause error, mod func(*activities.TransitionInput)) error {
	msg := message(cause)
	o.lastErr = msg
	if err := o.enter(ctx, to, node.NoState, func(t *activities.TransitionInput) {
		t.LastError = &msg
		t.Error = true
		t.Event = fmt.Sprintf("%s -> %s: %s", o.state, to, msg)
		o.final(t)
		if mod != nil {
			mod(t)
		}
	}); err != nil {
		return errors.Join(cause, err)
	}
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrTypeProvisioningFailed, nil)
}

// succeed ends in a stable state, clearing last_error.
func (o *op) succeed(ctx workflow.Context, to node.ProvisionState, mod func(*activities.TransitionInput)) error {
	clear := ""
	o.step = ""
	return o.enter(ctx, to, node.NoState, func(t *activities.TransitionInput) {
		t.LastError = &clear
		o.final(t)
		if mod != nil {
			mod(t)
		}
	})
}

// final adds what the agent paths record when a run ends.
func (o *op) final(t *activities.TransitionInput) {
	if o.clearSteps {
		t.DeployStep, t.CleanStep = noStep, noStep
	}
	if o.service {
		t.ServiceStep = noStep
	}
	if o.powerState != nil {
		t.PowerState = o.powerState
	}
}

// message is the human-readable text of an activity failure: the
// application error's message without the SDK's wrapping.
func message(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timed out: " + te.Error()
	}
	return err.Error()
}

// callbackTimeout bounds a wait for the ramdisk: the input's agent
// timeout, else the worker's as LoadNode recorded it, else
// DefaultAgentTimeout.
func (o *op) callbackTimeout() time.Duration {
	if t := time.Duration(o.in.AgentTimeoutSeconds) * time.Second; t > 0 {
		return t
	}
	if t := time.Duration(o.info.CallbackTimeoutSeconds) * time.Second; t > 0 {
		return t
	}
	return DefaultAgentTimeout
}

// waitAgent waits in a wait state for the agent-ready signal, an abort, or
// the callback timeout (the input's, else the worker's as LoadNode recorded
// it, else DefaultAgentTimeout), whichever comes first.
func (o *op) waitAgent(ctx workflow.Context) error {
	timeout := o.callbackTimeout()
	return o.await(ctx, o.agentCh, timeout, func() error {
		return fmt.Errorf("timeout reached while waiting for callback from the agent after %s", timeout)
	})
}

// await waits until want delivers a signal (taken and dropped; a nil want
// waits for the timer or an abort only), the timer of timeout fires
// (timeout > 0: the wait ends with expired's error, nil for a nil
// expired), or an abort arrives (errAborted). Signals on ignore are taken
// and dropped meanwhile: they do not end the wait. A signal that is ready
// together with another wins in this order: want, ignore, abort, timer.
func (o *op) await(ctx workflow.Context, want workflow.ReceiveChannel, timeout time.Duration,
	expired func() error, ignore ...workflow.ReceiveChannel,
) error {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var timer workflow.Future
	if timeout > 0 {
		timer = workflow.NewTimer(timerCtx, timeout)
	}
	for {
		done := false
		var result error
		sel := workflow.NewSelector(ctx)
		if want != nil {
			sel.AddReceive(want, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				done = true
			})
		}
		for _, ch := range ignore {
			sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		}
		sel.AddReceive(o.abortCh, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			done, result = true, errAborted
		})
		if timer != nil {
			sel.AddFuture(timer, func(workflow.Future) {
				done = true
				if expired != nil {
					result = expired()
				}
			})
		}
		sel.Select(ctx)
		if done {
			return result
		}
	}
}

// Manage verifies a node's credentials (enroll -> verifying -> manageable)
// or moves a failed or available node back to manageable.
func Manage(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := start(ctx, in, contract.ManageName)
	if err != nil {
		return err
	}
	if o.state != node.Enroll {
		return o.succeed(ctx, node.Manageable, nil)
	}
	if err := o.enter(ctx, node.Verifying, node.Manageable, nil); err != nil {
		return err
	}
	o.step = "verify power credentials"
	var ps node.PowerState
	if err := o.driver(ctx, a.ReadPowerState, in.NodeUUID).Get(ctx, &ps); err != nil {
		// Ironic returns a node that fails verification to enroll.
		return o.fail(ctx, node.Enroll, fmt.Errorf("failed to validate power driver interface: %w", err))
	}
	return o.succeed(ctx, node.Manageable, func(t *activities.TransitionInput) { t.PowerState = &ps })
}

// Provide runs automated cleaning and makes a manageable node available.
func Provide(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.ProvideName, node.Cleaning, node.Available, nil)
	if err != nil {
		return err
	}
	return o.cleanToAvailable(ctx)
}

// cleanToAvailable runs automated cleaning and ends the run in available,
// or in clean failed. A retired node ends in manageable: Ironic's retired
// node leaves cleaning to manageable, never to available (where it could be
// allocated and deployed again).
func (o *op) cleanToAvailable(ctx workflow.Context) error {
	if err := o.clean(ctx); err != nil {
		return o.fail(ctx, node.CleanFail, err)
	}
	if o.info.Retired {
		return o.succeed(ctx, node.Manageable, nil)
	}
	return o.succeed(ctx, node.Available, nil)
}

// Clean runs manual cleaning: manageable -> cleaning -> manageable.
func Clean(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.CleanName, node.Cleaning, node.Manageable, nil)
	if err != nil {
		return err
	}
	if o.takes(ctx, versionSteps) {
		if err := o.cleanSteps(ctx); err != nil {
			return o.fail(ctx, node.CleanFail, err)
		}
		return o.succeed(ctx, node.Manageable, nil)
	}
	if err := o.clean(ctx); err != nil {
		return o.fail(ctx, node.CleanFail, err)
	}
	return o.succeed(ctx, node.Manageable, nil)
}

// clean runs the deploy interface's cleaning; an asynchronous clean waits
// in clean wait for the agent.
func (o *op) clean(ctx workflow.Context) error {
	o.step = "erase devices"
	var done bool
	if err := o.driver(ctx, a.CleanDisks, o.in.NodeUUID).Get(ctx, &done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if o.takes(ctx, versionAgentClean) {
		if o.takes(ctx, versionSteps) {
			f, err := o.facts(ctx, activities.CleanSteps)
			if err != nil {
				return err
			}
			return o.agentCleanSteps(ctx, planned(f, func() []activities.StepRef {
				return automatedCleanPlan(f.Catalog)
			}))
		}
		return o.agentClean(ctx)
	}
	if err := o.enter(ctx, node.CleanWait, o.target, nil); err != nil {
		return err
	}
	return o.waitAgent(ctx)
}

// Deploy puts an image on an available node (or redeploys it, for rebuild):
// deploying -> (wait call-back) -> active.
func Deploy(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.DeployName, node.Deploying, node.Active, nil)
	if err != nil {
		return err
	}
	if o.takes(ctx, versionSteps) {
		return o.deploySteps(ctx)
	}
	o.step = "deploy"
	var done bool
	if err := o.driver(ctx, a.DeployImage, in.NodeUUID).Get(ctx, &done); err != nil {
		return o.fail(ctx, node.DeployFail, err)
	}
	if !done {
		if o.takes(ctx, versionAgentDeploy) {
			return o.agentDeploy(ctx)
		}
		if err := o.enter(ctx, node.DeployWait, node.Active, nil); err != nil {
			return err
		}
		o.step = "wait for agent"
		if err := o.waitAgent(ctx); err != nil {
			return o.fail(ctx, node.DeployFail, err)
		}
	}
	return o.succeed(ctx, node.Active, nil)
}

// Undeploy tears an instance down and cleans the node:
// deleting -> cleaning -> available.
func Undeploy(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.UndeployName, node.Deleting, node.Available, nil)
	if err != nil {
		return err
	}
	o.step = "tear down"
	if err := o.driver(ctx, a.TearDownInstance, in.NodeUUID).Get(ctx, nil); err != nil {
		return o.fail(ctx, node.Error, err)
	}
	// A node is powered off when its instance goes, as Ironic's deploy
	// interfaces do in tear_down: one sequence for every driver, fakes
	// included. Runs recorded before (when only real hardware was powered
	// off, behind versionUndeployOff) replay as they ran.
	off := o.takes(ctx, versionUndeployOffAll)
	if !off && !o.info.InMemory {
		off = o.takes(ctx, versionUndeployOff)
	}
	if off {
		if err := o.powerOff(ctx); err != nil {
			return o.fail(ctx, node.Error, fmt.Errorf("power off: %w", err))
		}
	}
	if err := o.enter(ctx, node.Cleaning, node.Available, func(t *activities.TransitionInput) {
		t.ClearInstance = true
	}); err != nil {
		return err
	}
	return o.cleanToAvailable(ctx)
}
