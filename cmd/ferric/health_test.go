package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/api/health"
	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/pgcluster"
	"github.com/ferric-project/ferric/store/storetest"
)

// getProbe GETs a probe without credentials and decodes its report.
func getProbe(t *testing.T, url string) (int, health.Report, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, health.Report{}, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r health.Report
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET %s: %d %q is not a report: %v", url, resp.StatusCode, body, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	return resp.StatusCode, r, string(body)
}

// waitProbe polls url until it answers want, and returns that report.
func waitProbe(t *testing.T, url string, want int, timeout time.Duration) health.Report {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, r, body := getProbe(t, url)
		if code == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d %s; want %d within %s", url, code, body, want, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantChecks fails unless r's checks are exactly ok (names ok) and failed
// (names unavailable).
func wantChecks(t *testing.T, r health.Report, ok, failed []string) {
	t.Helper()
	want := map[string]string{}
	for _, n := range ok {
		want[n] = health.StatusOK
	}
	for _, n := range failed {
		want[n] = health.StatusUnavailable
	}
	slices.Sort(failed)
	if !reflect.DeepEqual(r.Checks, want) || !slices.Equal(r.Failed, failed) {
		t.Errorf("report %+v; want checks %v, failed %v", r, want, failed)
	}
	if wantStatus := map[bool]string{true: health.StatusOK, false: health.StatusUnavailable}[len(failed) == 0]; r.Status != wantStatus {
		t.Errorf("report status %q; want %q", r.Status, wantStatus)
	}
}

// newTemporal starts an in-process Temporal server.
func newTemporal(t *testing.T) *temporaltest.TestServer {
	t.Helper()
	return temporaltest.NewServer(temporaltest.WithT(t),
		temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(devtemporal.DynamicConfig())))
}

// serveRole runs serve() for cfg until the test ends.
func serveRole(t *testing.T, cfg config, st *store.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), st) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve %s: %v", cfg.role, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve %s did not stop", cfg.role)
		}
	})
}

// TestHealthAPIPublicAndTemporalDown: the API answers /healthz and /readyz
// without credentials (http_basic is on), checks the database and Temporal,
// and names Temporal when its server goes away.
func TestHealthAPIPublicAndTemporalDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	userFile := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(userFile, []byte("op:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newTemporal(t)
	s := startStackWith(t, storetest.New(t), ts, ts.GetDefaultNamespace(), "api", func(c *config) {
		c.auth.strategy, c.auth.basicUserFile = auth.StrategyHTTPBasic, userFile
	})
	base := strings.TrimSuffix(s.endpoint, "/v1")
	if resp, err := http.Get(s.endpoint + "/nodes"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v1/nodes without credentials = %v, %v; want 401 (auth is on)", resp, err)
	}
	if code, r, body := getProbe(t, base+"/healthz"); code != 200 || body != `{"status":"ok"}` {
		t.Errorf("/healthz = %d %s (%+v)", code, body, r)
	}
	wantChecks(t, waitProbe(t, base+"/readyz", 200, 10*time.Second), []string{"database", "temporal"}, nil)
	if resp, err := http.Head(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD /readyz = %v, %v", resp, err)
	}

	start := time.Now()
	ts.Stop()
	r := waitProbe(t, base+"/readyz", 503, 20*time.Second)
	t.Logf("readyz turned 503 %s after Temporal stopped", time.Since(start).Round(time.Millisecond))
	wantChecks(t, r, []string{"database"}, []string{"temporal"})
	// Liveness does not depend on anything.
	if code, _, _ := getProbe(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz with Temporal down = %d", code)
	}
	// A probe answers within the check timeout, not a gRPC default.
	t0 := time.Now()
	getProbe(t, base+"/readyz")
	if d := time.Since(t0); d > health.DefaultTimeout+time.Second {
		t.Errorf("/readyz took %s with Temporal down", d)
	}
}

// TestHealthWorkerRole: a worker answers on its own health listener; it is
// ready once it polls its task queue; Temporal going away names Temporal
// (and the worker, which can no longer poll).
func TestHealthWorkerRole(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ts := newTemporal(t)
	addr := freeAddr(t)
	serveRole(t, config{role: "worker", temporalAddr: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(),
		taskQueue: "ferric-health", fakeDrivers: true, pollInterval: 10 * time.Millisecond, healthAddr: addr}, st)
	base := "http://" + addr
	wantChecks(t, waitProbe(t, base+"/readyz", 200, 20*time.Second), []string{"database", "temporal", "worker"}, nil)
	if code, _, body := getProbe(t, base+"/healthz"); code != 200 || body != `{"status":"ok"}` {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if resp, err := http.Post(base+"/readyz", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %v, %v; want 405", resp, err)
	}

	// Another worker of the same task queue does not make this one ready:
	// the check looks for this process's identity among the pollers.
	c := &health.Checker{Checks: []health.Check{workerCheck(ts.GetDefaultClient(), "ferric-health", "someone-else@host@", startedFlag())}}
	if r := c.Ready(t.Context()); r.OK() {
		t.Errorf("a worker identity that never polled is ready: %+v", r)
	}

	ts.Stop()
	wantChecks(t, waitProbe(t, base+"/readyz", 503, 20*time.Second), []string{"database"}, []string{"temporal", "worker"})
}

// TestHealthDatabaseStopped: role all (API and worker in one process) over
// a private PostgreSQL: ready, then 503 naming only the database while
// PostgreSQL is stopped, then ready again once it is back.
func TestHealthDatabaseStopped(t *testing.T) {
	storetest.URL(t) // skips (locally) or fails (CI) like every database test
	t.Parallel()
	ctx := context.Background()
	s, pg, dir := startStackOnPrivateDB(t)
	port := pg.Port()
	base := strings.TrimSuffix(s.endpoint, "/v1")
	wantChecks(t, waitProbe(t, base+"/readyz", 200, 20*time.Second), []string{"database", "temporal", "worker"}, nil)

	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wantChecks(t, waitProbe(t, base+"/readyz", 503, 20*time.Second), []string{"temporal", "worker"}, []string{"database"})
	if code, _, _ := getProbe(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz with the database down = %d", code)
	}

	pg, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	wantChecks(t, waitProbe(t, base+"/readyz", 200, 30*time.Second), []string{"database", "temporal", "worker"}, nil)
}

// TestHealthBootRole: the boot server's health listener checks the database
// and that the boot server listens; a database URL to a closed port is
// named.
func TestHealthBootRole(t *testing.T) {
	t.Parallel()
	ramdisk := t.TempDir()
	for _, f := range []string{"vmlinuz", "initramfs"} {
		if err := os.WriteFile(filepath.Join(ramdisk, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bootCfg := func() config {
		return config{role: "boot", bootHTTPAddr: "127.0.0.1:0", ramdiskDir: ramdisk, agentAPIURL: "http://10.0.2.2:6385",
			healthAddr: freeAddr(t), dhcp: dhcpConfig{mode: "off"}}
	}

	up := bootCfg()
	serveRole(t, up, storetest.New(t))
	wantChecks(t, waitProbe(t, "http://"+up.healthAddr+"/readyz", 200, 10*time.Second), []string{"database", "boot"}, nil)

	// A pool to a port nothing listens on (pgxpool connects lazily).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pool, err := pgxpool.New(context.Background(), "postgres://ferric@127.0.0.1:"+itoa(closed)+"/ferric?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := store.New(pool)
	t.Cleanup(unreachable.Close)
	down := bootCfg()
	serveRole(t, down, unreachable)
	wantChecks(t, waitProbe(t, "http://"+down.healthAddr+"/readyz", 503, 10*time.Second), []string{"boot"}, []string{"database"})

	// Without a deploy ramdisk the boot role serves nothing: not ready.
	empty := bootCfg()
	empty.ramdiskDir = t.TempDir()
	serveRole(t, empty, storetest.New(t))
	wantChecks(t, waitProbe(t, "http://"+empty.healthAddr+"/readyz", 503, 10*time.Second), []string{"database"}, []string{"boot"})
}

// TestHealthBinaryWorker runs the real binary as a container would: ferric
// worker configured only through FERRIC_* variables, probed on its default
// health port's variable; SIGTERM stops it cleanly.
func TestHealthBinaryWorker(t *testing.T) {
	t.Parallel()
	bin := ferricBinary(t)
	st := storetest.New(t)
	dbURL := storeURL(t, st)
	ts := newTemporal(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(os.Environ(), "FERRIC_DATABASE_URL="+dbURL, "FERRIC_TEMPORAL_ADDRESS="+ts.GetFrontendHostPort(),
		"FERRIC_TEMPORAL_NAMESPACE="+ts.GetDefaultNamespace(), "FERRIC_TASK_QUEUE=ferric-health-bin",
		"FERRIC_HEALTH_ADDRESS="+addr, "FERRIC_POWER_SYNC_INTERVAL=0", "FERRIC_RECONCILE_INTERVAL=0")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("ferric worker output:\n%s", out.String())
		}
	})
	wantChecks(t, waitProbe(t, "http://"+addr+"/readyz", 200, 30*time.Second), []string{"database", "temporal", "worker"}, nil)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("ferric worker after SIGTERM: %v", waitErr)
		}
	case <-time.After(20 * time.Second):
		t.Error("ferric worker did not stop on SIGTERM")
	}
}

func startedFlag() *atomic.Bool {
	var b atomic.Bool
	b.Store(true)
	return &b
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestHealthSchemaBehind: a process whose database lacks a migration of its
// binary (started before "ferric migrate") is not ready, and becomes ready
// once the schema has it.
func TestHealthSchemaBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	s := startStackOn(t, st, "all")
	base := strings.TrimSuffix(s.endpoint, "/v1")
	wantChecks(t, waitProbe(t, base+"/readyz", 200, 20*time.Second), []string{"database", "temporal", "worker"}, nil)
	var last string
	if err := st.Pool().QueryRow(ctx, `DELETE FROM schema_migrations
		WHERE version = (SELECT max(version) FROM schema_migrations) RETURNING version`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	wantChecks(t, waitProbe(t, base+"/readyz", 503, 20*time.Second), []string{"temporal", "worker"}, []string{"database"})
	// The migration's tables are still there: recording it again is what
	// "ferric migrate" leaves.
	if _, err := st.Pool().Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, last); err != nil {
		t.Fatal(err)
	}
	wantChecks(t, waitProbe(t, base+"/readyz", 200, 20*time.Second), []string{"database", "temporal", "worker"}, nil)
}
