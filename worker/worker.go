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
	Client    client.Client
	TaskQueue string
	// Identity names this worker in Temporal's pollers and histories
	// (default: the client's identity).
	Identity   string
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
		Identity:                               cfg.Identity,
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

// Group is a worker serving conductor groups: one Temporal worker per
// group's task queue (contract.GroupTaskQueue), sharing one registry of
// workflows and activities.
type Group struct {
	workers []sdkworker.Worker
	queues  []string
}

// NewGroups builds, without starting them, the workers of the given
// conductor groups (empty: the empty group only) on base cfg.TaskQueue.
func NewGroups(cfg Config, groups []string) *Group {
	if len(groups) == 0 {
		groups = []string{""}
	}
	base := cfg.TaskQueue
	if base == "" {
		base = contract.TaskQueue
	}
	g := &Group{}
	for _, grp := range groups {
		c := cfg
		c.TaskQueue = contract.GroupTaskQueue(base, grp)
		g.workers = append(g.workers, New(c))
		g.queues = append(g.queues, c.TaskQueue)
	}
	return g
}

// Queues are the task queues the group polls, in the order of its groups.
func (g *Group) Queues() []string { return g.queues }

// Start starts every worker; on a failure the ones started are stopped.
func (g *Group) Start() error {
	for i, w := range g.workers {
		if err := w.Start(); err != nil {
			for _, s := range g.workers[:i] {
				s.Stop()
			}
			return fmt.Errorf("start worker on %s: %w", g.queues[i], err)
		}
	}
	return nil
}

// Stop stops every worker.
func (g *Group) Stop() {
	for _, w := range g.workers {
		w.Stop()
	}
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
