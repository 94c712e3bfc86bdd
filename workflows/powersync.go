package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// ps names the power sync activities by method value.
var ps *activities.PowerSync

// PowerSyncResult counts what one pass did.
type PowerSyncResult struct {
	Checked        int   `json:"checked"` // nodes whose BMC was read
	Mismatched     int   `json:"mismatched"`
	Forced         int   `json:"forced"` // forced corrections started
	Failed         int   `json:"failed"` // failed reads
	MaintenanceSet int   `json:"maintenance_set"`
	Recovered      int   `json:"recovered"`
	Recorded       int   `json:"recorded"` // writes applied
	Lost           int   `json:"lost"`     // writes and corrections that lost to an operation
	DurationMillis int64 `json:"duration_ms"`
}

// PowerSyncPass runs one power sync pass: page by page, an activity reads
// the BMCs of the nodes no operation holds, this workflow decides what each
// observation means (record an out-of-band change, count a failed read, put
// the node in maintenance after MaxFailures of them or take it out when the
// BMC answers again, or force the recorded state back), an activity writes
// the decisions conditionally (a write loses to any operation that started or
// finished since the read), and forced corrections run as set-power
// workflows on the node's lock. A failed pass is not retried: the next
// scheduled pass is the retry. A grouped pass (in) reads only its conductor
// group's nodes, on its group's queue.
func PowerSyncPass(ctx workflow.Context, in contract.PowerSyncInput) (PowerSyncResult, error) {
	start := workflow.Now(ctx)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res PowerSyncResult
	var settings activities.PowerSyncSettings
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.ExecuteLocalActivity(lctx, ps.PowerSyncSettings).Get(ctx, &settings); err != nil {
		return res, err
	}
	after := int64(0)
	for {
		var page activities.PowerReadPage
		if err := workflow.ExecuteActivity(ctx, ps.ReadPowerStates,
			readInput(in, after, settings.PageSize)).Get(ctx, &page); err != nil {
			return res, err
		}
		res.Checked += page.Checked
		var writes []activities.PowerSyncWrite
		var forces []contract.PowerInput
		var groups []string
		for _, o := range page.Observations {
			d := decideSync(o, settings)
			res.add(d)
			if d.write != nil {
				writes = append(writes, *d.write)
			}
			if d.force != nil {
				forces = append(forces, *d.force)
				// A grouped pass runs on its group's queue already: the
				// correction goes to the same queue, not to the group's
				// queue under it.
				g := o.ConductorGroup
				if in.Grouped {
					g = ""
				}
				groups = append(groups, g)
			}
		}
		if len(writes) > 0 {
			var rec activities.PowerSyncRecorded
			if err := workflow.ExecuteActivity(ctx, ps.RecordPowerSync, writes).Get(ctx, &rec); err != nil {
				return res, err
			}
			res.Recorded += rec.Applied
			res.Lost += rec.Lost
		}
		started, lost, err := startCorrections(ctx, forces, groups)
		res.Forced += started
		res.Lost += lost
		if err != nil {
			return res, err
		}
		if !page.More {
			break
		}
		after = page.LastID
	}
	res.DurationMillis = workflow.Now(ctx).Sub(start).Milliseconds()
	return res, nil
}

// syncDecision is what a pass does about one observation.
type syncDecision struct {
	write *activities.PowerSyncWrite
	force *contract.PowerInput
	// What it counts.
	failed, maintenance, recovered, mismatched bool
}

func (r *PowerSyncResult) add(d syncDecision) {
	for _, c := range []struct {
		on  bool
		ctr *int
	}{{d.failed, &r.Failed}, {d.maintenance, &r.MaintenanceSet}, {d.recovered, &r.Recovered},
		{d.mismatched, &r.Mismatched}} {
		if c.on {
			*c.ctr++
		}
	}
}

// decideSync is the power sync's policy for one observation, after Ironic's
// _sync_power_state_nodes_task: a failed read counts towards maintenance
// with fault "power failure"; a read that succeeds clears the count and that
// maintenance; a mismatch with a recorded state is recorded as an
// out-of-band change, or, with Force, corrected by a conditional power
// action; a first reading (nothing recorded) is recorded silently.
func decideSync(o activities.PowerObservation, s activities.PowerSyncSettings) syncDecision {
	var d syncDecision
	w := &activities.PowerSyncWrite{UUID: o.UUID, Version: o.Version}
	if o.Error != "" {
		d.failed = true
		count := o.Failures + 1
		w.Failures = &count
		if count >= s.MaxFailures && !o.Maintenance {
			d.maintenance = true
			w.SetMaintenance, w.Fault = true, node.FaultPowerFailure
			w.Reason = fmt.Sprintf("power sync: %d failed BMC reads in a row, last: %s", count, o.Error)
			w.Event, w.EventType, w.Error = w.Reason, "maintenance", true
		}
		d.write = w
		return d
	}
	var events []string
	touched := false
	if o.Failures > 0 {
		zero := 0
		w.Failures, touched = &zero, true
	}
	if o.Maintenance && o.Fault == node.FaultPowerFailure {
		d.recovered = true
		w.ClearMaintenance, touched = true, true
		w.EventType = "maintenance"
		events = append(events, "power sync: BMC answers again; maintenance for power failure cleared")
	}
	if o.Observed != o.Recorded {
		switch {
		case o.Recorded == node.PowerNone:
			observed := o.Observed
			w.PowerState, touched = &observed, true
		case s.Force && !(o.Recorded == node.PowerOff && o.DisablePowerOff):
			// (A node that must keep its power is never forced off, as
			// Ironic's sync does not: what it observed is recorded.)
			d.mismatched = true
			d.force = &contract.PowerInput{NodeUUID: o.UUID, Target: o.Recorded, IfRecorded: o.Recorded,
				Reason: fmt.Sprintf("power sync: hardware was %q, forced back to recorded %q", o.Observed, o.Recorded)}
		default:
			d.mismatched = true
			observed := o.Observed
			w.PowerState, touched = &observed, true
			if w.EventType == "" {
				w.EventType = "power"
			}
			events = append(events, fmt.Sprintf("power sync: power state changed out of band from %q to %q",
				o.Recorded, o.Observed))
		}
	}
	w.Event = strings.Join(events, "; ")
	if touched {
		d.write = w
	}
	return d
}

// startCorrections starts one set-power workflow per forced correction on
// the node's lock and its conductor group's queue (groups[i] for
// forces[i]), abandoned by this pass (they outlive it). A node whose lock is
// held by an operation loses the correction: the operation decides the
// node's power.
func startCorrections(ctx workflow.Context, forces []contract.PowerInput, groups []string) (started, lost int, err error) {
	ids := make([]string, len(forces))
	inputs := make([]any, len(forces))
	for i, f := range forces {
		ids[i], inputs[i] = f.NodeUUID, f
	}
	return startOnLocks(ctx, contract.PowerName, ids, groups, inputs)
}

// startOnLocks starts workflow name on the lock of each node (its
// WorkflowID), with inputs[i] for nodes[i], on the task queue of the node's
// conductor group groups[i] under the caller's queue ("": the caller's
// own), abandoned by the caller. It counts the workflows
// started and the nodes whose lock an operation held (nothing started there:
// the operation wins).
func startOnLocks(ctx workflow.Context, name string, nodes, groups []string, inputs []any) (started, held int, err error) {
	futures := make([]workflow.ChildWorkflowFuture, len(nodes))
	base := workflow.GetInfo(ctx).TaskQueueName
	for i, uuid := range nodes {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            contract.WorkflowID(uuid),
			TaskQueue:             contract.GroupTaskQueue(base, groups[i]),
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, name, inputs[i])
	}
	for _, fut := range futures {
		cerr := fut.GetChildWorkflowExecution().Get(ctx, nil)
		var already *temporal.ChildWorkflowExecutionAlreadyStartedError
		switch {
		case cerr == nil:
			started++
		case errors.As(cerr, &already):
			held++
		default:
			return started, held, fmt.Errorf("start %s: %w", name, cerr)
		}
	}
	return started, held, nil
}

// readInput is the page of the pass's nodes after node id after.
func readInput(in contract.PowerSyncInput, after int64, limit int) activities.PowerReadInput {
	r := activities.PowerReadInput{AfterID: after, Limit: limit}
	if in.Grouped {
		r.Group = &in.Group
	}
	return r
}
