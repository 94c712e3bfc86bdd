package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/workflows"
)

// EnsurePowerSync makes the power sync schedule exist with the given
// interval (overlapping passes are skipped), or pauses it when every is 0.
// It is safe to call from every worker at start.
func EnsurePowerSync(ctx context.Context, c client.Client, taskQueue string, every time.Duration) error {
	sc := c.ScheduleClient()
	h := sc.GetHandle(ctx, workflows.PowerSyncScheduleID)
	if every <= 0 {
		err := h.Pause(ctx, client.SchedulePauseOptions{Note: "power sync disabled by configuration"})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("pause power sync schedule: %w", err)
		}
		return nil
	}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID:        "power-sync-pass",
		Workflow:  workflows.PowerSyncName,
		TaskQueue: taskQueue,
	}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:      workflows.PowerSyncScheduleID,
		Spec:    spec,
		Action:  action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create power sync schedule: %w", err)
	}
	if desc, derr := h.Describe(ctx); derr == nil {
		cur := desc.Schedule
		if cur.Spec != nil && len(cur.Spec.Intervals) == 1 && cur.Spec.Intervals[0].Every == every &&
			(cur.State == nil || !cur.State.Paused) {
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
		return fmt.Errorf("update power sync schedule: %w", err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
