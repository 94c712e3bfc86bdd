package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/api/health"
	"github.com/ferric-project/ferric/drivers/deploy/pxe"
	"github.com/ferric-project/ferric/store"
)

// pollerFresh is how recently the worker must have polled its task queue to
// be ready. A poll is a long poll of up to about a minute, followed at once
// by the next one.
const pollerFresh = 2 * time.Minute

// Names of the readiness checks, as /readyz reports them.
const (
	checkDatabase = "database"
	checkTemporal = "temporal"
	checkWorker   = "worker"
	checkBoot     = "boot"
)

// clientIdentity is the Temporal client's (and so the worker's) identity:
// the SDK's default, set explicitly so readiness can find this worker among
// its task queue's pollers.
func clientIdentity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "Unknown"
	}
	return fmt.Sprintf("%d@%s@", os.Getpid(), host)
}

// databaseCheck pings the database and checks that its schema has every
// migration of this binary (an api or worker started before "ferric
// migrate" is not ready).
func databaseCheck(st *store.Store) health.Check {
	return health.Check{Name: checkDatabase, Func: func(ctx context.Context) error {
		if err := st.Ping(ctx); err != nil {
			return err
		}
		pending, err := st.PendingMigrations(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return fmt.Errorf("the database schema lacks %d migrations of this binary (%s ... %s): run ferric migrate",
				len(pending), pending[0], pending[len(pending)-1])
		}
		return nil
	}}
}

// temporalCheck asks Temporal's frontend about the namespace: it answers
// when the server is reachable and the namespace exists.
func temporalCheck(tc client.Client, namespace string) health.Check {
	return health.Check{Name: checkTemporal, Func: func(ctx context.Context) error {
		_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if err != nil {
			return fmt.Errorf("temporal: describe namespace %s: %w", namespace, err)
		}
		return nil
	}}
}

// workerCheck is ready once the worker has started and Temporal has seen it
// poll its task queue for workflow tasks within pollerFresh.
func workerCheck(tc client.Client, taskQueue, identity string, started *atomic.Bool) health.Check {
	return health.Check{Name: checkWorker, Func: func(ctx context.Context) error {
		if !started.Load() {
			return errors.New("worker not started")
		}
		resp, err := tc.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return fmt.Errorf("describe task queue %s: %w", taskQueue, err)
		}
		for _, p := range resp.GetPollers() {
			if p.GetIdentity() == identity && time.Since(p.GetLastAccessTime().AsTime()) < pollerFresh {
				return nil
			}
		}
		return fmt.Errorf("worker %s has not polled task queue %s in the last %s", identity, taskQueue, pollerFresh)
	}}
}

// bootCheck is ready while the boot server listens.
func bootCheck(boot *pxe.Server) health.Check {
	return health.Check{Name: checkBoot, Func: func(context.Context) error {
		if boot == nil {
			return errors.New("boot server not started (no listen address or no deploy ramdisk)")
		}
		if boot.TFTPAddr() == "" && boot.HTTPAddr() == "" {
			return errors.New("boot server not listening")
		}
		return nil
	}}
}

// healthServer serves the probes on addr until ctx is done.
type healthServer struct {
	ln  net.Listener
	srv *http.Server
}

func listenHealth(addr string, checker *health.Checker, log *slog.Logger) (*healthServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health listener: %w", err)
	}
	log.Info("health listening", "address", ln.Addr().String())
	return &healthServer{ln: ln, srv: &http.Server{
		Handler:           health.Handler(checker),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

func (h *healthServer) run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(sctx)
	}()
	if err := h.srv.Serve(h.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health: %w", err)
	}
	return nil
}
