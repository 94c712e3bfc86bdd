package activities

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

// TestHeartbeatEvery: a regular activity heartbeats while a slow driver
// call runs, and stop ends the heartbeats; outside an activity it is a
// no-op.
func TestHeartbeatEvery(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	var beats atomic.Int32
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
	slow := func(ctx context.Context) (int32, error) {
		stop := heartbeatEvery(ctx, 5*time.Millisecond)
		time.Sleep(60 * time.Millisecond) // the driver at work
		stop()
		n := beats.Load()
		time.Sleep(20 * time.Millisecond)
		return beats.Load() - n, nil
	}
	env.RegisterActivity(slow)
	v, err := env.ExecuteActivity(slow)
	if err != nil {
		t.Fatal(err)
	}
	var after int32
	if err := v.Get(&after); err != nil {
		t.Fatal(err)
	}
	if n := beats.Load(); n < 1 { // the SDK sends the first and throttles the rest
		t.Errorf("%d heartbeats in 60ms at 5ms intervals; want at least one", n)
	}
	if after != 0 {
		t.Errorf("%d heartbeats after stop", after)
	}
	heartbeatEvery(context.Background(), time.Millisecond)() // not an activity: nothing to stop
}
