package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/api"
	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/api/health"
	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/cmd/ferric/metrics"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/drivers/ipmi"
	"github.com/ferric-project/ferric/drivers/ssh"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/pgcluster"
	"github.com/ferric-project/ferric/store/seal"
	"github.com/ferric-project/ferric/worker"
	"github.com/ferric-project/ferric/workflows/contract"
)

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.logFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(contextHandler{h}).With("role", cfg.role)
}

// contextHandler adds what a record's context knows to every line logged
// with one (the ...Context methods): the API request's Openstack-Request-Id
// and the trace and span IDs when tracing is on.
type contextHandler struct{ slog.Handler }

// Handle adds request_id, trace_id and span_id to r.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := api.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the context attributes on the derived handler.
func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the context attributes on the derived handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// registry builds the driver registry: explicit, no init() self-registration.
func registry(cfg config) (*drivers.Registry, func()) {
	r := drivers.NewRegistry()
	if cfg.fakeDrivers {
		hw := cfg.hardware
		if hw == nil {
			hw = fake.New()
		}
		hw.Register(r)
	}
	ipmiCfg := ipmi.DefaultConfig()
	ipmiCfg.MinCommandInterval = cfg.ipmiMinGap
	ipmiHW := ipmi.New(ipmiCfg)
	ipmiHW.Register(r)
	sshHW := ssh.New(ssh.Config{PollInterval: cfg.pollInterval})
	sshHW.Register(r)
	// Ironic's direct deploy (listed by ipmi, ssh and fake-hardware).
	agent.Register(r, agent.Config{AutomatedClean: cfg.automatedClean})
	return r, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ipmiHW.Close(ctx)
		_ = sshHW.Close()
	}
}

// runServices runs the API and/or the worker against existing Postgres and
// Temporal servers.
func runServices(ctx context.Context, cfg config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return serve(ctx, cfg, log, st)
}

// openStore opens the database with the secrets key file, if one is
// configured; without one, driver_info secrets are stored in clear, and the
// roles that write them say so.
func openStore(ctx context.Context, cfg config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if cfg.secretsKeyFile == "" {
		if cfg.role != "boot" {
			log.Warn("no -secrets-key-file: BMC passwords and SSH keys are stored in clear in the database")
		}
		return st, nil
	}
	ring, err := seal.LoadKeyFile(cfg.secretsKeyFile)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.SetSecrets(ring)
	log.Info("driver_info secrets sealed at rest", "key", ring.Current())
	return st, nil
}

// serve runs the roles' long-lived parts until ctx is done.
func serve(ctx context.Context, cfg config, log *slog.Logger, st *store.Store) error {
	runWorker := runsWorker(cfg.role)
	runAPI := cfg.role == "api" || cfg.role == "all" || cfg.role == "dev"
	runBoot := cfg.role == "boot" || cfg.role == "all" || cfg.role == "dev"

	// One registry per process: the SDK's metrics, the API's and the
	// activities' go through it.
	m := metrics.New()
	// Readiness: the database always; Temporal for the roles using it; the
	// worker polling; the boot server listening (role boot only: in all
	// and dev it is optional).
	checker := &health.Checker{Log: log.With("component", "health"), Checks: []health.Check{databaseCheck(st)}}
	identity := clientIdentity()
	tr, err := newTracing(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.shutdown(sctx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	}()
	var tc client.Client
	if runWorker || runAPI {
		var err error
		tc, err = client.DialContext(ctx, client.Options{
			HostPort:       cfg.temporalAddr,
			Namespace:      cfg.namespace,
			Identity:       identity,
			Logger:         tlog.NewStructuredLogger(log.With("component", "temporal-sdk")),
			MetricsHandler: m.TemporalHandler(),
			Interceptors:   tr.clientInterceptors(),
		})
		if err != nil {
			return fmt.Errorf("temporal %s: %w", cfg.temporalAddr, err)
		}
		defer tc.Close()
		checker.Checks = append(checker.Checks, temporalCheck(tc, cfg.namespace))
	}
	var workerStarted atomic.Bool
	if runWorker {
		checker.Checks = append(checker.Checks, workerCheck(tc,
			contract.GroupTaskQueue(cfg.taskQueue, cfg.conductorGroups()[0]), identity, &workerStarted))
	}

	reg, closeDrivers := registry(cfg)
	defer closeDrivers()

	g, ctx := errgroup.WithContext(ctx)
	if runBoot {
		boot, err := newBootServer(cfg, log, st)
		if err != nil {
			return err
		}
		if cfg.role == "boot" {
			checker.Checks = append(checker.Checks, bootCheck(boot))
		}
		dhcpSrv, err := newDHCPServer(cfg, log, st)
		if err != nil {
			return err
		}
		switch {
		case boot != nil:
			g.Go(func() error { return boot.Run(ctx) })
			if dhcpSrv != nil {
				g.Go(func() error { return dhcpSrv.Run(ctx) })
			}
		case dhcpSrv != nil:
			log.Warn("dhcp server not started: it would send machines to a boot server that is not running")
		}
	}
	if cfg.healthAddr != "" {
		hs, err := listenHealth(cfg.healthAddr, checker, log)
		if err != nil {
			return err
		}
		g.Go(func() error { return hs.run(ctx) })
	}
	if cfg.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		srv := &http.Server{Addr: cfg.metricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		log.Info("metrics listening", "address", cfg.metricsAddr)
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics: %w", err)
			}
			return nil
		})
		g.Go(func() error { <-ctx.Done(); return srv.Close() })
	}
	if cfg.pprofAddr != "" {
		srv := &http.Server{Addr: cfg.pprofAddr, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("pprof: %w", err)
			}
			return nil
		})
		g.Go(func() error { <-ctx.Done(); return srv.Close() })
	}
	if runWorker {
		acts := &activities.Activities{InspectionRules: cfg.inspRules, Conductor: identity, Drivers: reg, Nodes: st, Agents: st, Operations: st, Allocations: st, PollInterval: cfg.pollInterval,
			ReconcileIdle: cfg.reconcileIdle, Inspection: st, InspectAddPorts: cfg.addPorts,
			CallbackTimeout: cfg.callbackWait, Results: st, DriverCalls: m, Media: st}
		ps := &activities.PowerSync{Drivers: reg, Nodes: st, Concurrency: cfg.syncConc,
			Settings: activities.PowerSyncSettings{Force: cfg.syncForce}, DriverCalls: m}
		groups := cfg.conductorGroups()
		w := worker.NewGroups(worker.Config{Client: tc, TaskQueue: cfg.taskQueue, Activities: acts, PowerSync: ps,
			MaxConcurrentActivities: cfg.workerSlots, MaxConcurrentWorkflowTasks: cfg.workerSlots}, groups)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer w.Stop()
		workerStarted.Store(true)
		log.Info("worker started", "task_queues", w.Queues(), "conductor_groups", groups, "drivers", typeNames(reg))
		// Each served group's power sync passes run on its own queue and
		// read only its nodes' BMCs (a group's workers sit by its BMC
		// network). The reconciler (database and Temporal only) runs on the
		// empty group's queue and starts each recovery on the node's group
		// queue; workers of other groups leave its schedule alone.
		type schedule struct {
			name   string
			ensure func(context.Context) error
		}
		var schedules []schedule
		for _, group := range groups {
			schedules = append(schedules, schedule{"power sync " + strconv.Quote(group), func(ctx context.Context) error {
				return worker.EnsurePowerSync(ctx, tc, cfg.taskQueue, group, cfg.syncEvery)
			}})
		}
		if slices.Contains(groups, "") {
			schedules = append(schedules, schedule{"reconciler", func(ctx context.Context) error {
				return worker.EnsureReconcile(ctx, tc, cfg.taskQueue, cfg.reconcileEvery)
			}})
		}
		for _, sch := range schedules {
			g.Go(func() error {
				// The schedule lives in Temporal; failing to set it up must not
				// stop the worker: retry in the background until it sticks.
				for delay := time.Second; ; delay = min(2*delay, time.Minute) {
					sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					err := sch.ensure(sctx)
					cancel()
					if err == nil || ctx.Err() != nil {
						return nil
					}
					log.Warn(sch.name+" schedule not set up yet; retrying", "err", err, "in", delay)
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(delay):
					}
				}
			})
		}
	}
	if runAPI {
		m.CollectNodes(st, 5*time.Second)
		app, err := newAPI(cfg, log, st, tc, reg, checker, runWorker && cfg.eagerStart, m, tr)
		if err != nil {
			return err
		}
		if cfg.auth.strategy == auth.StrategyNoAuth {
			warnOpen(log, cfg.apiAddr)
		}
		tlsCfg, err := apiTLS(cfg.auth, log.With("component", "api"))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.apiAddr)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		g.Go(func() error {
			log.Info("api listening", "address", cfg.apiAddr, "tls", tlsCfg != nil, "auth_strategy", cfg.auth.strategy)
			if err := app.Listener(ln); err != nil {
				return fmt.Errorf("api: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			// Requests in flight get 10 s to finish; a connection still open
			// then (a client that keeps one busy) does not make the stop a
			// failure: the process is going away, and says so.
			if err := app.ShutdownWithTimeout(10 * time.Second); err != nil {
				log.Warn("api stopped with connections still open", "err", err)
			}
			return nil
		})
	}
	g.Go(func() error { <-ctx.Done(); return nil })
	return g.Wait()
}

// pprofMux serves net/http/pprof's handlers.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func typeNames(r *drivers.Registry) string {
	var names []string
	for _, t := range r.Types() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ",")
}

func runMigrate(ctx context.Context, cfg config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("migrations applied")
	if cfg.rotateSecrets {
		if cfg.secretsKeyFile == "" {
			return fmt.Errorf("-rotate-secrets needs -secrets-key-file")
		}
		n, err := st.ResealSecrets(ctx)
		if err != nil {
			return fmt.Errorf("rotate secrets: %w", err)
		}
		log.Info("driver_info secrets resealed", "nodes", n)
	}
	return nil
}

// runDev runs the whole stack in one process on embedded defaults.
func runDev(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if cfg.databaseURL == "" {
		pg, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(dataDir, "postgres"), Log: log})
		if errors.Is(err, pgcluster.ErrNotInstalled) {
			return fmt.Errorf("ferric dev needs a local PostgreSQL server: run 'apt-get install postgresql' (or set FERRIC_DATABASE_URL): %w", err)
		}
		if err != nil {
			return fmt.Errorf("private postgres: %w", err)
		}
		defer func() {
			if err := pg.Stop(context.WithoutCancel(ctx)); err != nil {
				log.Error("stop postgres", "err", err)
			}
		}()
		cfg.databaseURL = pg.URL()
	}
	if cfg.secretsKeyFile == "" {
		cfg.secretsKeyFile = filepath.Join(dataDir, "secrets.key")
		if err := seal.CreateKeyFile(cfg.secretsKeyFile, "dev"); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("secrets key file: %w", err)
		}
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Secrets stored in clear by an earlier ferric dev are sealed now.
	if n, err := st.ResealSecrets(ctx); err != nil {
		return fmt.Errorf("seal secrets: %w", err)
	} else if n > 0 {
		log.Info("driver_info secrets sealed", "nodes", n)
	}

	tcfg, err := devTemporalStore(ctx, cfg, dataDir, cfg.databaseURL, log)
	if err != nil {
		return err
	}
	tcfg.Address, tcfg.UIAddress, tcfg.Namespace, tcfg.Log = cfg.temporalAddr, cfg.temporalUIAddr, cfg.namespace, log
	ts, err := devtemporal.Start(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := ts.Stop(); err != nil {
			log.Error("stop temporal", "err", err)
		}
	}()

	fmt.Fprintf(stdout, "ferric dev is up (Ctrl-C stops it; data in %s)\n", dataDir)
	scheme := "http"
	if cfg.auth.tlsCertFile != "" {
		scheme = "https"
	}
	switch cfg.auth.strategy {
	case auth.StrategyNoAuth:
		fmt.Fprintf(stdout, "  Ironic API   %s://%s  (OS_AUTH_TYPE=none OS_ENDPOINT=%s://%s baremetal ...)\n", scheme, cfg.apiAddr, scheme, cfg.apiAddr)
		fmt.Fprintf(stdout, "               NO AUTHENTICATION: anyone reaching it controls every node (-auth-strategy)\n")
	case auth.StrategyHTTPBasic:
		fmt.Fprintf(stdout, "  Ironic API   %s://%s  (OS_AUTH_TYPE=http_basic OS_ENDPOINT=%s://%s OS_USERNAME=... OS_PASSWORD=... baremetal ...)\n", scheme, cfg.apiAddr, scheme, cfg.apiAddr)
	default:
		fmt.Fprintf(stdout, "  Ironic API   %s://%s  (Keystone %s: OS_AUTH_URL=%s OS_USERNAME=... baremetal ...)\n", scheme, cfg.apiAddr, cfg.auth.keystoneURL, cfg.auth.keystoneURL)
	}
	if cfg.temporalUIAddr != "" {
		fmt.Fprintf(stdout, "  Temporal UI  http://%s/namespaces/%s/workflows\n", cfg.temporalUIAddr, cfg.namespace)
	}
	store := "SQLite " + tcfg.DBFile
	if tcfg.Postgres != nil {
		store = "PostgreSQL databases " + tcfg.Postgres.Database + ", " + tcfg.Postgres.VisibilityDatabase
	}
	fmt.Fprintf(stdout, "  Temporal     %s (namespace %s; history in %s, %d shards)\n", cfg.temporalAddr, cfg.namespace,
		store, ts.HistoryShards())
	fmt.Fprintf(stdout, "  PostgreSQL   %s\n", redactURL(cfg.databaseURL))
	return serve(ctx, cfg, log, st)
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

// runTestDB starts ("testdb start DIR") or stops ("testdb stop DIR") a
// throwaway cluster for make test and prints its URL.
func runTestDB(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if len(cfg.args) != 2 {
		return fmt.Errorf("usage: ferric testdb start|stop DIR")
	}
	log := newLogger(cfg, stderr)
	pg, err := pgcluster.Start(ctx, pgcluster.Config{Dir: cfg.args[1], Log: log})
	if err != nil {
		return err
	}
	switch cfg.args[0] {
	case "start":
		fmt.Fprintln(stdout, pg.URL())
		return nil
	case "stop":
		return pg.Stop(ctx)
	}
	return fmt.Errorf("usage: ferric testdb start|stop DIR")
}
