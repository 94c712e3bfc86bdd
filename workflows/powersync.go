package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
)

// PowerSyncName is the workflow a Temporal Schedule starts every sync
// interval: one pass over every node's BMC.
const PowerSyncName = "power-sync"

// PowerSyncScheduleID names the schedule that runs PowerSyncName.
const PowerSyncScheduleID = "power-sync"

// ps names the power sync activity by method value.
var ps *activities.PowerSync

// PowerSyncPass runs one power sync pass. A failed pass is not retried: the
// next scheduled pass is the retry.
func PowerSyncPass(ctx workflow.Context) (activities.PowerSyncResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res activities.PowerSyncResult
	err := workflow.ExecuteActivity(ctx, ps.SyncPowerStates).Get(ctx, &res)
	return res, err
}
