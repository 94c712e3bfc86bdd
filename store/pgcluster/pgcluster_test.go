package pgcluster_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/store/pgcluster"
)

// start starts a cluster in dir, skipping (or failing in CI) when PostgreSQL
// is not installed.
func start(t *testing.T, dir string) *pgcluster.Cluster {
	t.Helper()
	log := slog.New(slog.NewTextHandler(tWriter{t}, nil))
	c, err := pgcluster.Start(t.Context(), pgcluster.Config{Dir: dir, Log: log})
	if errors.Is(err, pgcluster.ErrNotInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have PostgreSQL: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var out string
	if err := conn.QueryRow(t.Context(), sql).Scan(&out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := start(t, dir)
	url := c.URL()
	if !strings.Contains(url, "127.0.0.1:") || !strings.HasSuffix(url, "/ferric?sslmode=disable") {
		t.Errorf("URL() = %s", url)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')`); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())

	// Stopped and started again: same port, same data.
	if err := c.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Errorf("Stop of a stopped cluster: %v", err)
	}
	c2 := start(t, dir)
	if c2.URL() != url {
		t.Errorf("restart URL = %s, want %s (port remembered)", c2.URL(), url)
	}
	if got := query(t, url, `SELECT v FROM kept`); got != "hello" {
		t.Errorf("after restart: %q, want hello", got)
	}

	// A second Start while it runs (the caller crashed, the server did not)
	// adopts the server.
	c3 := start(t, dir)
	if got := query(t, c3.URL(), `SELECT v FROM kept`); got != "hello" {
		t.Errorf("after adopt: %q, want hello", got)
	}

	// The server itself killed: the next Start recovers.
	pidFile := filepath.Join(dir, "data", "postmaster.pid")
	killServer(t, pidFile)
	c4 := start(t, dir)
	if got := query(t, c4.URL(), `SELECT v FROM kept`); got != "hello" {
		t.Errorf("after crash: %q, want hello", got)
	}

	// A stale postmaster.pid whose PID now belongs to another live process.
	if err := c4.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c5 := start(t, dir)
	if got := query(t, c5.URL(), `SELECT v FROM kept`); got != "hello" {
		t.Errorf("after stale pid file: %q, want hello", got)
	}
}

// killServer SIGKILLs the postmaster and waits until it is gone (or a zombie).
func killServer(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill postmaster %d: %v", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
	}
	t.Fatalf("postmaster %d still alive", pid)
}

func TestNotInstalled(t *testing.T) {
	t.Parallel()
	_, err := pgcluster.Start(t.Context(), pgcluster.Config{Dir: t.TempDir(), BinDir: t.TempDir()})
	if !errors.Is(err, pgcluster.ErrNotInstalled) {
		t.Fatalf("Start with an empty BinDir: %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("error %q does not say what to install", err)
	}
}
