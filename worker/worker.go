// Package worker runs ferric's manager: a Temporal worker that executes the
// provisioning workflows and their activities.
package worker

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Config configures a worker.
type Config struct {
	Client     client.Client
	TaskQueue  string
	Activities *activities.Activities
	// PowerSync runs the periodic power state sync pass (nil: not on this worker).
	PowerSync *activities.PowerSync
	// MaxConcurrentActivities and MaxConcurrentWorkflowTasks bound the work
	// one worker takes on (0 = SDK defaults).
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
}

// Register registers every workflow and activity on r.
func Register(r sdkworker.Registry, acts *activities.Activities, ps *activities.PowerSync) {
	workflows.Register(r)
	r.RegisterActivity(acts)
	if ps != nil {
		r.RegisterActivity(ps)
	}
}

// New builds a worker without starting it.
func New(cfg Config) sdkworker.Worker {
	tq := cfg.TaskQueue
	if tq == "" {
		tq = contract.TaskQueue
	}
	w := sdkworker.New(cfg.Client, tq, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     cfg.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.MaxConcurrentWorkflowTasks,
		WorkflowPanicPolicy:                    sdkworker.FailWorkflow,
		// Operation and power-sync metrics, through the client's metrics
		// handler (nothing is recorded without one).
		Interceptors: []interceptor.WorkerInterceptor{&metricsInterceptor{}},
	})
	Register(w, cfg.Activities, cfg.PowerSync)
	return w
}

// Run starts a worker and blocks until ctx is done, then stops it.
func Run(ctx context.Context, cfg Config) error {
	w := New(cfg)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
