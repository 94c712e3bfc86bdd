package devtemporal_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/config"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/cmd/ferric/devtemporal/devtemporaltest"
)

// resumeBound is how long an in-flight operation may take to resume after a
// restart. Before static membership it took 55-83 s (ringpop waiting for the
// dead members left in the SQLite file), so this fails on that code.
const resumeBound = 45 * time.Second

const (
	probeWorkflowName = "restart-probe"
	probeActivityName = "RestartProbeStep"
	probeTaskQueue    = "restart-probe"
	doneWorkflowName  = "restart-done"
)

// doneWorkflow completes at once: its history must outlive a restart.
func doneWorkflow(ctx workflow.Context, in string) (string, error) {
	return "done " + in, nil
}

// probeWorkflow runs one activity that retries quickly, so an attempt that
// fails before a restart is retried right after it.
func probeWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 1,
			MaximumInterval:    200 * time.Millisecond,
		},
	})
	return workflow.ExecuteActivity(ctx, probeActivityName).Get(ctx, nil)
}

// probe is the activity of one "process": it reports each attempt it runs
// and fails them all in the first process.
type probe struct {
	fail     bool
	attempts chan int32
}

func (p *probe) step(ctx context.Context) error {
	select {
	case p.attempts <- activity.GetInfo(ctx).Attempt:
	default:
	}
	if p.fail {
		return errors.New("first process: fail so that the next attempt runs after the restart")
	}
	return nil
}

// process is one life of "ferric dev": the embedded server, a client and a
// worker.
type process struct {
	srv   *devtemporal.Server
	c     client.Client
	w     worker.Worker
	probe *probe
	once  sync.Once
}

// startServer starts the dev server on cfg and stops it at the end of the
// test unless the test stops it first.
func startServer(t *testing.T, cfg devtemporal.Config) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := devtemporal.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start dev server: %v", err)
	}
	p := &process{srv: srv}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// startWorker connects a client and a worker running the probe.
func (p *process) startWorker(t *testing.T, cfg devtemporal.Config, fail bool) {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))),
	})
	if err != nil {
		t.Fatalf("dial dev server: %v", err)
	}
	p.c = c
	p.probe = &probe{fail: fail, attempts: make(chan int32, 16)}
	p.w = worker.New(c, probeTaskQueue, worker.Options{})
	p.w.RegisterWorkflowWithOptions(probeWorkflow, workflow.RegisterOptions{Name: probeWorkflowName})
	p.w.RegisterWorkflowWithOptions(doneWorkflow, workflow.RegisterOptions{Name: doneWorkflowName})
	p.w.RegisterActivityWithOptions(p.probe.step, activity.RegisterOptions{Name: probeActivityName})
	if err := p.w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
}

// stop stops the worker, the client and the server, in that order, once.
func (p *process) stop(t *testing.T) {
	p.once.Do(func() {
		if p.w != nil {
			p.w.Stop()
		}
		if p.c != nil {
			p.c.Close()
		}
		if err := p.srv.Stop(); err != nil {
			t.Errorf("stop dev server: %v", err)
		}
	})
}

// TestRestartResumesOperations stops the dev server in the middle of an
// operation (an activity waiting for its retry) and starts it again on the
// same store, SQLite files or PostgreSQL databases: the retry must run, and
// the workflow finish, within seconds; a workflow completed before the stop
// keeps its history and stays listed; the store keeps its number of history
// shards. On SQLite it leaves fresh membership rows with dead ports in the
// file between the two runs, as "ferric dev" did before it used static
// membership, so data folders from then must work too.
// Run with -v to see the durations (BENCHMARKS.md).
func TestRestartResumesOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded Temporal server twice")
	}
	t.Run("sqlite", func(t *testing.T) {
		testRestartResumes(t, devtemporal.Config{DBFile: filepath.Join(t.TempDir(), "temporal", "temporal.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		pg := devtemporaltest.Postgres(t)
		testRestartResumes(t, devtemporal.Config{Postgres: &pg, HistoryShards: 2})
	})
}

func testRestartResumes(t *testing.T, cfg devtemporal.Config) {
	cfg.Address = freeAddr(t)
	cfg.Namespace = "default"
	cfg.LogLevel = "error"
	cfg.Log = slog.New(slog.NewTextHandler(t.Output(), nil))

	first := startServer(t, cfg)
	shards := first.srv.HistoryShards()
	first.startWorker(t, cfg, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*resumeBound)
	defer cancel()
	done, err := first.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-done", TaskQueue: probeTaskQueue},
		doneWorkflowName, "before")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	if err := done.Get(ctx, nil); err != nil {
		t.Fatalf("workflow before the restart: %v", err)
	}
	doneEvents := historyLength(ctx, t, first.c, done)
	run, err := first.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-probe", TaskQueue: probeTaskQueue}, probeWorkflowName)
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	select {
	case <-first.probe.attempts:
	case <-ctx.Done():
		t.Fatal("first attempt never ran")
	}
	first.stop(t)
	if cfg.Postgres == nil {
		addDeadMembers(t, cfg.DBFile)
	}

	restart := time.Now()
	cfg.HistoryShards = shards + 1 // ignored: the store keeps its own
	second := startServer(t, cfg)
	up := time.Since(restart)
	if got := second.srv.HistoryShards(); got != shards {
		t.Errorf("after the restart the server runs %d history shards, want the store's %d", got, shards)
	}
	second.startWorker(t, cfg, false)
	resumeCtx, resumeCancel := context.WithTimeout(ctx, resumeBound)
	defer resumeCancel()
	select {
	case attempt := <-second.probe.attempts:
		t.Logf("restart → server up %v, → first resumed activity %v (attempt %d)",
			up.Round(time.Millisecond), time.Since(restart).Round(time.Millisecond), attempt)
	case <-resumeCtx.Done():
		t.Fatalf("no activity resumed within %v of the restart", resumeBound)
	}
	if err := second.c.GetWorkflow(resumeCtx, run.GetID(), run.GetRunID()).Get(resumeCtx, nil); err != nil {
		t.Fatalf("workflow after restart: %v", err)
	}
	t.Logf("restart → workflow completed %v", time.Since(restart).Round(time.Millisecond))

	var out string
	if err := second.c.GetWorkflow(resumeCtx, done.GetID(), done.GetRunID()).Get(resumeCtx, &out); err != nil || out != "done before" {
		t.Errorf("result of the workflow completed before the restart: %q, %v", out, err)
	}
	if n := historyLength(resumeCtx, t, second.c, done); n != doneEvents {
		t.Errorf("history of the workflow completed before the restart: %d events, had %d", n, doneEvents)
	}
	// Visibility is written asynchronously: wait for both to be listed.
	for {
		resp, err := second.c.ListWorkflow(resumeCtx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "ExecutionStatus = 'Completed'"})
		if err == nil && len(resp.GetExecutions()) == 2 {
			break
		}
		if resumeCtx.Err() != nil {
			t.Fatalf("completed workflows listed after the restart: %d (%v), want 2", len(resp.GetExecutions()), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// historyLength returns the number of events in run's history.
func historyLength(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) int {
	t.Helper()
	n := 0
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatalf("read history of %s: %v", run.GetID(), err)
		}
		n++
	}
	return n
}

// addDeadMembers writes a just-heartbeated cluster_membership row for each
// service at a port nothing listens on, as ringpop left them on every stop.
func addDeadMembers(t *testing.T, file string) {
	t.Helper()
	db, err := persistencesql.NewSQLDB(sqlplugin.DbKindMain,
		&config.SQL{PluginName: sqliteplugin.PluginName, DatabaseName: file, ConnectAttributes: map[string]string{"mode": "rwc"}},
		nil, tlog.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	defer db.Close()
	now := time.Now()
	for _, role := range []persistence.ServiceType{persistence.Frontend, persistence.History, persistence.Matching, persistence.Worker} {
		_, portStr, _ := net.SplitHostPort(freeAddr(t))
		port, _ := strconv.Atoi(portStr)
		row := &sqlplugin.ClusterMembershipRow{Role: role, HostID: make([]byte, 16), RPCAddress: "127.0.0.1",
			RPCPort: uint16(port), SessionStart: now, LastHeartbeat: now, RecordExpiry: now.Add(48 * time.Hour)}
		_, _ = rand.Read(row.HostID)
		if _, err := db.UpsertClusterMembership(context.Background(), row); err != nil {
			t.Fatalf("add membership row: %v", err)
		}
	}
	// The query ringpop seeds itself from: heartbeat within 20 s, unexpired.
	rows, err := db.GetClusterMembers(context.Background(), &sqlplugin.ClusterMembershipFilter{
		LastHeartbeatAfter: now.Add(-20 * time.Second), RecordExpiryAfter: now, MaxRecordCount: 100})
	if err != nil || len(rows) < 4 {
		t.Fatalf("membership rows after adding 4: %d, %v", len(rows), err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
