package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/workflows/contract"
)

// EnsurePowerSync makes conductor group group's power sync schedule exist
// with the given interval (overlapping passes are skipped), or pauses it
// when every is 0: its passes run on the group's queue on base and read
// only the group's nodes, so each group's workers read their own BMCs. It
// is safe to call from every worker of the group at start.
func EnsurePowerSync(ctx context.Context, c client.Client, base, group string, every time.Duration) error {
	id := contract.PowerSyncScheduleFor(group)
	return ensureSchedule(ctx, c, id, "power-sync-pass"+strings.TrimPrefix(id, contract.PowerSyncScheduleID),
		contract.PowerSyncName, contract.GroupTaskQueue(base, group), every,
		contract.PowerSyncInput{Grouped: true, Group: group})
}

// EnsureReconcile makes the reconciler's schedule exist with the given
// interval, or pauses it when every is 0.
func EnsureReconcile(ctx context.Context, c client.Client, taskQueue string, every time.Duration) error {
	return ensureSchedule(ctx, c, contract.ReconcileScheduleID, "reconcile-pass", contract.ReconcileName,
		taskQueue, every)
}

// ensureSchedule makes schedule id start workflow (with args) every
// interval (skipping overlaps), or pauses it when every is 0. A schedule
// made with another queue or another number of arguments is updated.
func ensureSchedule(ctx context.Context, c client.Client, id, workflowID, workflow, taskQueue string,
	every time.Duration, args ...any) error {
	sc := c.ScheduleClient()
	h := sc.GetHandle(ctx, id)
	if every <= 0 {
		err := h.Pause(ctx, client.SchedulePauseOptions{Note: "disabled by configuration"})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("pause schedule %s: %w", id, err)
		}
		return nil
	}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID:        workflowID,
		Workflow:  workflow,
		TaskQueue: taskQueue,
		Args:      args,
	}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    spec,
		Action:  action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", id, err)
	}
	if desc, derr := h.Describe(ctx); derr == nil {
		cur := desc.Schedule
		act, _ := cur.Action.(*client.ScheduleWorkflowAction)
		if cur.Spec != nil && len(cur.Spec.Intervals) == 1 && cur.Spec.Intervals[0].Every == every &&
			(cur.State == nil || !cur.State.Paused) && act != nil && act.TaskQueue == taskQueue &&
			len(act.Args) == len(args) {
			return nil // already as configured: no update round trip
		}
	}
	err = h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &spec
			s.Action = action
			if s.State != nil {
				s.State.Paused = false
			}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", id, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
