package devtemporal_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/cmd/ferric/devtemporal/devtemporaltest"
)

// floorQueue is the task queue of the engine floor benchmark.
const floorQueue = "engine-floor"

// floorSteps runs steps local activities that do nothing, one after the
// other: the engine's part of a ferric operation on fake hardware (a power
// off records its target, calls the driver and records the outcome: four
// markers in one workflow task), without ferric's API, store or driver.
func floorSteps(ctx workflow.Context, steps int) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range steps {
		if err := workflow.ExecuteLocalActivity(ctx, floorStep).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func floorStep(context.Context) error { return nil }

// floorNode is the other shape measured: one long-lived workflow per node
// that takes each operation as an update (floorSteps' local activities),
// one at a time, and runs until the test ends.
func floorNode(ctx workflow.Context) error {
	busy := false
	if err := workflow.SetUpdateHandlerWithOptions(ctx, "op", func(ctx workflow.Context, steps int) error {
		busy = true
		defer func() { busy = false }()
		return floorSteps(ctx, steps)
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, steps int) error {
		if busy {
			return errors.New("locked")
		}
		return nil
	}}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}

// TestEngineFloor measures what one Temporal workflow per operation costs
// on this machine with nothing of ferric's in it: the embedded server as
// "ferric dev" runs it (PostgreSQL persistence, its dynamic config and
// connection pools, one history shard; then on SQLite, the older default), a worker in the same process, eager
// start, 16 starters at a time as the fleet bench's clients, each waiting
// for its workflow to complete. Each round starts one workflow on each of
// n IDs (the next round reuses them, as every operation on a node reuses
// its workflow ID) and reports workflows per second and the machine's CPU
// seconds (/proc/stat: every process, the database server's too) per
// workflow. It is the ceiling of any design that runs each operation as a
// workflow of its own (BENCHMARKS.md, "Engine floor"). A benchmark, not a
// test: it runs only when FERRIC_ENGINE_FLOOR gives n.
//
//	FERRIC_ENGINE_FLOOR=500 go test -run TestEngineFloor -v -timeout 20m ./cmd/ferric/devtemporal/
func TestEngineFloor(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FERRIC_ENGINE_FLOOR"))
	if n <= 0 {
		t.Skip("a benchmark: FERRIC_ENGINE_FLOOR=<workflows per round> runs it")
	}
	t.Run("postgres", func(t *testing.T) {
		pg := devtemporaltest.Postgres(t)
		pg.MaxConns = 0 // ferric dev's pools, not the tests' small ones
		_, addr := devtemporaltest.Start(t, pg, floorNamespace)
		engineFloor(t, addr, n)
	})
	t.Run("sqlite", func(t *testing.T) {
		cfg := devtemporal.Config{DBFile: filepath.Join(t.TempDir(), "temporal.db"),
			Address: devtemporaltest.FreeAddr(t), Namespace: floorNamespace}
		startServer(t, cfg)
		engineFloor(t, cfg.Address, n)
	})
}

// floorNamespace is the namespace of the engine floor benchmark.
const floorNamespace = "default"

// engineFloor runs TestEngineFloor's rounds against the server at addr.
func engineFloor(t *testing.T, addr string, n int) {
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: floorNamespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})))})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	w := worker.New(c, floorQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(floorSteps, workflow.RegisterOptions{Name: "floor"})
	w.RegisterWorkflowWithOptions(floorNode, workflow.RegisterOptions{Name: "floor-node"})
	w.RegisterActivity(floorStep)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer w.Stop()

	round := func(label string, op func(ctx context.Context, i int64) error) {
		var (
			next   atomic.Int64
			failed atomic.Int64
			wg     sync.WaitGroup
		)
		cpu0, start := machineCPU(t), time.Now()
		for range 16 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					err := op(ctx, i)
					cancel()
					if err != nil && failed.Add(1) == 1 {
						t.Errorf("%s: workflow %d: %v", label, i, err)
					}
				}
			})
		}
		wg.Wait()
		wall, cpu := time.Since(start), machineCPU(t)-cpu0
		t.Logf("%-28s %5d workflows in %6.2f s: %6.1f workflows/s, %5.1f ms of machine CPU each, %d failed",
			label, n, wall.Seconds(), float64(n)/wall.Seconds(), 1000*cpu/float64(n), failed.Load())
	}
	start := func(steps int) func(ctx context.Context, i int64) error {
		return func(ctx context.Context, i int64) error {
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: fmt.Sprintf("node/%d", i), TaskQueue: floorQueue,
				WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				WorkflowExecutionErrorWhenAlreadyStarted: true,
				EnableEagerStart:                         true,
			}, "floor", steps)
			if err != nil {
				return err
			}
			return run.Get(ctx, nil)
		}
	}
	update := func(ctx context.Context, i int64) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: fmt.Sprintf("long/%d", i),
			UpdateName: "op", Args: []any{4}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	t.Logf("load %s", loadAverage(t))
	round("4 local activities, new IDs", start(4))
	round("4 local activities, reused", start(4))
	round("no activity, reused", start(0))
	round("4 local activities, reused", start(4))
	round("start long-lived workflows", func(ctx context.Context, i int64) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("long/%d", i),
			TaskQueue: floorQueue, EnableEagerStart: true}, "floor-node")
		return err
	})
	round("update, 4 local activities", update)
	round("update, 4 local activities", update)
	t.Logf("load %s", loadAverage(t))
}

// machineCPU returns the CPU seconds every process of the machine has used
// since boot (user, nice, system, irq and softirq of /proc/stat's cpu line).
func machineCPU(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatalf("read /proc/stat: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks float64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			t.Fatalf("/proc/stat %q: %v", line, err)
		}
		ticks += v
	}
	return ticks / 100 // USER_HZ
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatalf("read /proc/loadavg: %v", err)
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
