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

// reconcileBatch bounds the nodes one reconciler pass looks at.
const reconcileBatch = 500

// ReconcileResult counts what one reconciler pass did.
type ReconcileResult struct {
	Candidates int `json:"candidates"` // nodes in progress, idle
	Checked    int `json:"checked"`    // recover-node started: no operation held them
	Held       int `json:"held"`       // an operation holds the lock: left alone
}

// ReconcileNodes finds nodes that an operation should be holding (an
// in-progress provision state, or a target power state) and starts
// recover-node on each one's lock. Where an operation is running, the start
// fails (the lock is held) and the node is left alone; where none is, the
// node was abandoned (a workflow terminated by hand, or lost to a fault) and
// recover-node fails it with a last_error that says so.
func ReconcileNodes(ctx workflow.Context) (ReconcileResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res ReconcileResult
	var refs []activities.NodeRef
	if err := workflow.ExecuteActivity(ctx, a.ListNodesInProgress,
		activities.ListNodesInProgressInput{Limit: reconcileBatch}).Get(ctx, &refs); err != nil {
		return res, err
	}
	res.Candidates = len(refs)
	nodes := make([]string, len(refs))
	groups := make([]string, len(refs))
	inputs := make([]any, len(refs))
	for i, r := range refs {
		nodes[i], groups[i] = r.UUID, r.ConductorGroup
		inputs[i] = contract.RecoverInput{NodeUUID: r.UUID, Version: r.Version, CloseHeldSession: true}
	}
	var err error
	res.Checked, res.Held, err = startOnLocks(ctx, contract.RecoverName, nodes, groups, inputs)
	if err != nil {
		return res, err
	}
	return res, nil
}

// RecoverNode runs on a node's lock, so no operation is running on the node.
// If the node is still as the reconciler saw it (same version) and in an
// in-progress state, its operation was lost: the node moves to that state's
// failure state, target_power_state is cleared, and last_error says what
// happened. A node that moved on in the meantime is left alone.
func RecoverNode(ctx workflow.Context, in contract.RecoverInput) error {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) && ae.Type() == contract.ErrTypeNotFound {
			return nil // deleted meanwhile
		}
		return fmt.Errorf("load node: %w", err)
	}
	if info.Version != in.Version {
		return nil
	}
	if fail, ok := info.ProvisionState.FailState(); ok {
		msg := fmt.Sprintf("The operation that moved this node to %q (target %q) is no longer running and did "+
			"not finish; ferric's reconciler failed the node. The operation may have been terminated, or lost to a "+
			"fault. Check the node and retry.", info.ProvisionState, info.TargetProvisionState)
		// The agent runs in the agent states and in the holds (a hold step
		// keeps the ramdisk up): its session closes, so its token dies and
		// the node stops booting the ramdisk.
		if info.ProvisionState.AgentReachable() || (info.ProvisionState.Held() && in.CloseHeldSession) {
			if err := workflow.ExecuteLocalActivity(ctx, a.CleanUpRamdiskBoot, in.NodeUUID).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("clean up ramdisk boot of an abandoned node", "node", in.NodeUUID, "err", err)
			}
		}
		if err := workflow.ExecuteLocalActivity(ctx, a.TransitionNode, activities.TransitionInput{
			UUID: in.NodeUUID, From: []node.ProvisionState{info.ProvisionState}, To: fail,
			LastError: &msg, Event: fmt.Sprintf("%s -> %s: %s", info.ProvisionState, fail, msg), Error: true,
		}).Get(ctx, nil); err != nil {
			return fmt.Errorf("fail abandoned node: %w", err)
		}
	}
	if info.TargetPowerState != node.PowerNone {
		none := node.PowerNone
		msg := fmt.Sprintf("The power action towards %q is no longer running and did not finish; ferric's "+
			"reconciler cleared it. The recorded power state may be stale until the next power sync.",
			info.TargetPowerState)
		if err := workflow.ExecuteLocalActivity(ctx, a.RecordPower, activities.RecordPowerInput{
			UUID: in.NodeUUID, Target: &none, LastError: &msg, Event: msg, Error: true,
		}).Get(ctx, nil); err != nil {
			return fmt.Errorf("clear abandoned power target: %w", err)
		}
	}
	return nil
}
