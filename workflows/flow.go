package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Ironic 29.0.5 never runs these steps: its _validate_user_steps skips
// every reserved step name without keeping the step, so a plan it makes
// holds none (its conductor logs "remaining steps: []" for a service
// request of deploy.reboot). ferric runs them as the conductor's
// use_reserved_step_handler means them to run, as it runs hold; a wait
// step with seconds then goes on with the next step (Ironic's handler
// would leave the run in its busy state), one without seconds goes on at
// once (Ironic's waits for the agent's next heartbeat).

// versionFlowSteps gates Ironic's conductor-level flow steps power_on,
// power_off, reboot and wait (steps.py use_reserved_step_handler) in
// manual cleaning, deploying and servicing. Plans recorded before it
// refused such steps (no interface offers them), so no recorded history
// reaches the marker; it is asked only when a plan holds one.
const versionFlowSteps = "flow-steps"

// MaxWaitStepSeconds is the longest a wait step pauses (Ironic's
// [conductor]max_conductor_wait_step_seconds default); a longer request
// is cut to it, with a warning in the node's history.
const MaxWaitStepSeconds = 30

// flowPowerTargets are the power actions of the power flow steps.
var flowPowerTargets = map[string]node.PowerState{
	drivers.StepPowerOn:  node.PowerOn,
	drivers.StepPowerOff: node.PowerOff,
	drivers.StepReboot:   node.Rebooting,
}

// isFlowStep reports whether s is one of the conductor-level flow steps
// (power_on, power_off, reboot, wait) of a run that takes them: a step
// the request or a template gave, whatever its interface, as in Ironic.
func (o *op) isFlowStep(ctx workflow.Context, kind activities.StepKind, s activities.StepRef) bool {
	if s.UserIndex < 0 || (s.Name != drivers.StepWait && flowPowerTargets[s.Name] == "") {
		return false
	}
	if _, _, _, ok := holdStates(kind); !ok {
		return false
	}
	return o.takes(ctx, versionFlowSteps)
}

// flowStep runs a conductor-level flow step: it is shown on the node with
// its arguments, then power_on, power_off and reboot act through the
// node's power interface (power_off is refused on a node with
// disable_power_off, as Ironic's node_power_action refuses it), and wait
// moves the node to its wait state (clean wait, wait call-back, service
// wait) and, given args.seconds, pauses there that long (at most
// MaxWaitStepSeconds) before the run goes on from its busy state. An abort
// during the pause is errAborted.
func (o *op) flowStep(ctx workflow.Context, kind activities.StepKind, s activities.StepRef) error {
	o.step = s.ID()
	var fs activities.FlowStep
	err := workflow.ExecuteLocalActivity(ctx, a.StartFlowStep, activities.StepInput{UUID: o.in.NodeUUID,
		OperationID: o.in.OperationID, Kind: kind, Step: s}).Get(ctx, &fs)
	if target, ok := flowPowerTargets[s.Name]; ok && err == nil {
		err = o.flowPower(ctx, target)
	}
	if err != nil {
		// Ironic's last_error for a step that failed (it shows the step as
		// a Python dict; ferric names it).
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("Node %s failed step %s: %s",
			o.in.NodeUUID, s.ID(), message(err)), contract.ErrTypeProvisioningFailed, err)
	}
	if s.Name == drivers.StepWait {
		return o.wait(ctx, kind, fs.Seconds)
	}
	return nil
}

// flowPower performs a power flow step's action as Ironic's
// node_power_action does: target_power_state while it runs, the reached
// power_state after (or the failure in the node's history).
func (o *op) flowPower(ctx workflow.Context, target node.PowerState) error {
	if target == node.PowerOff && o.info.DisablePowerOff {
		// Ironic's PowerStateFailure, raised before anything changes.
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("Failed to set node power state to %s.", target), contract.ErrTypePowerFailed, nil)
	}
	want := target
	if want == node.Rebooting {
		want = node.PowerOn
	}
	reached, err, rerr := o.powerAction(ctx, o.in.RequestedBy, want,
		activities.SetPowerInput{UUID: o.in.NodeUUID, Target: target},
		func(rec *activities.RecordPowerInput, err error) {
			if err != nil {
				// Ironic records this in the node's history; the step's
				// failure (last_error) carries the driver's error.
				rec.Event = fmt.Sprintf("Failed to change power state to '%s' by '%s': %s", want, target, message(err))
				rec.Error = true
			}
		})
	if err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	o.powerState = &reached
	return nil
}

// wait is the wait flow step: the node moves to its wait state, pauses
// there for seconds (when given, at most MaxWaitStepSeconds) or until an
// abort, and moves back to its busy state.
func (o *op) wait(ctx workflow.Context, kind activities.StepKind, seconds *int) error {
	_, wait, busy, _ := holdStates(kind)
	secs := 0
	if seconds != nil {
		secs = *seconds
	}
	if err := o.enter(ctx, wait, o.target, func(t *activities.TransitionInput) {
		if secs > MaxWaitStepSeconds {
			// Ironic's warning, with its arguments as it gives them.
			t.Event = fmt.Sprintf("A wait time exceeding the configured maximum has been requested. "+
				"Holding for %d, got %d.", secs, MaxWaitStepSeconds)
		}
	}); err != nil {
		return err
	}
	secs = min(secs, MaxWaitStepSeconds)
	if secs > 0 {
		if err := o.await(ctx, nil, time.Duration(secs)*time.Second, nil); err != nil {
			return err
		}
	}
	return o.enter(ctx, busy, o.target, nil)
}
