// Package pgcluster runs a private PostgreSQL cluster from the local Debian
// install (initdb and pg_ctl), for development (ferric dev) and tests.
//
// A cluster lives in one directory: Dir/data is the data directory,
// Dir/port remembers the port and Dir/postgres.log is the server log. The
// server listens on 127.0.0.1 only, opens no unix socket, trusts loopback
// connections as any user, and keeps running until Stop: it is a separate
// process, so data and the server survive a crash of the caller, and the next
// Start adopts or restarts it.
//
// initdb and postgres refuse to run as root. When the caller is root, Start
// hands Dir to the "postgres" system user, runs the binaries as that user,
// and adds the search (x) permission for others to any ancestor of Dir that
// lacks it, so that the user can reach Dir.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotInstalled is returned by Start when no PostgreSQL server binaries are
// found.
var ErrNotInstalled = errors.New("pgcluster: PostgreSQL server is not installed (install it with: apt-get install postgresql)")

// Database is the database Start creates for ferric.
const Database = "ferric"

// Superuser is the cluster's superuser, trusted on loopback without password.
const Superuser = "postgres"

// debianRoot holds Debian's versioned server installs, <ver>/bin.
const debianRoot = "/usr/lib/postgresql"

// Config says where and how to run a cluster.
type Config struct {
	// Dir holds the cluster; it is created if missing. Required.
	Dir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free one on first start
	// and reuses it afterwards (it is remembered in Dir).
	Port int
	// BinDir holds initdb, pg_ctl and postgres. "" = the highest version in
	// /usr/lib/postgresql/<ver>/bin, else the directory of pg_ctl on PATH.
	BinDir string
	// Log receives progress messages; nil discards them.
	Log *slog.Logger
}

// Cluster is a running cluster started by Start.
type Cluster struct {
	dir  string
	data string
	bin  string
	port int
	cred *syscall.Credential // nil: run as the current user
	log  *slog.Logger
}

// Start runs the cluster in cfg.Dir, creating it with initdb first if Dir has
// none, and creates the database "ferric" if missing. A server already
// running on Dir (left by a caller that crashed) is adopted; a stale
// postmaster.pid left by a killed server is cleared. Start returns when the
// server accepts connections.
//
// It returns an error wrapping ErrNotInstalled when PostgreSQL is not
// installed.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pgcluster: Config.Dir is required")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin, err := findBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: resolve %s: %w", cfg.Dir, err)
	}
	c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), bin: bin, log: log.With("dir", dir)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: create %s: %w", dir, err)
	}
	if os.Geteuid() == 0 {
		if err := c.dropRoot(); err != nil {
			return nil, err
		}
	}
	if c.port, err = c.choosePort(cfg.Port); err != nil {
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	if err := c.writeConf(); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	if err := c.createDatabase(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// URL returns the postgres:// URL of the ferric database, as the superuser.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.port, Database)
}

// Port returns the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down (pg_ctl stop -m fast: running transactions are
// rolled back, committed data is kept) and waits for it to exit. Stopping a
// server that is not running is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.data, "-m", "fast", "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("pgcluster: stop %s: %w: %s", c.data, err, out)
	}
	c.log.Info("postgres stopped")
	return nil
}

// Kill stops the server the way a crash or a power cut would (pg_ctl stop
// -m immediate: no checkpoint, every connection dropped; the next start
// recovers from the WAL). Tests use it to cut the database away.
func (c *Cluster) Kill(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.data, "-m", "immediate", "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("pgcluster: kill %s: %w: %s", c.data, err, out)
	}
	c.log.Info("postgres killed")
	return nil
}

// findBinDir returns the directory holding initdb, pg_ctl and postgres.
func findBinDir(binDir string) (string, error) {
	if binDir != "" {
		if !hasServer(binDir) {
			return "", fmt.Errorf("no initdb, pg_ctl and postgres in %s: %w", binDir, ErrNotInstalled)
		}
		return binDir, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(debianRoot, "*", "bin")) // error only for a bad pattern
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// /usr/local/bin/pg_ctl may be a symlink into a versioned install.
		if real, err := filepath.EvalSymlinks(p); err == nil && hasServer(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	return "", fmt.Errorf("no initdb, pg_ctl and postgres in %s/<version>/bin or on PATH: %w", debianRoot, ErrNotInstalled)
}

// versionOf returns the major version of a /usr/lib/postgresql/<ver>/bin
// path, 0 when it does not parse.
func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// dropRoot arranges for the binaries to run as the postgres system user:
// Dir becomes theirs and its ancestors searchable.
func (c *Cluster) dropRoot() error {
	u, err := user.Lookup(Superuser)
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs the %q system user (created by apt-get install postgresql): %w",
			Superuser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("pgcluster: user %s: %w", Superuser, err)
	}
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := os.Chown(c.dir, int(uid), int(gid)); err != nil {
		return fmt.Errorf("pgcluster: give %s to %s: %w", c.dir, Superuser, err)
	}
	for p := filepath.Dir(c.dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("pgcluster: let %s reach %s: %w", Superuser, c.dir, err)
			}
			c.log.Info("made directory searchable by others so that postgres can reach the cluster", "path", p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// choosePort returns want if set, else the port remembered in Dir, else a
// free one; it remembers the result.
func (c *Cluster) choosePort(want int) (int, error) {
	file := filepath.Join(c.dir, "port")
	if want == 0 {
		if b, err := os.ReadFile(file); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 {
				return p, nil
			}
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pgcluster: pick a free port: %w", err)
		}
		want = l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("pgcluster: pick a free port: %w", err)
		}
	}
	if err := c.writeFile(file, strconv.Itoa(want)+"\n"); err != nil {
		return 0, err
	}
	return want, nil
}

// initdb creates the cluster if Dir has none. It initializes a temporary
// directory and renames it into place, so that an interrupted initdb leaves
// no half-made cluster behind.
func (c *Cluster) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.data, "PG_VERSION")); err == nil {
		return nil
	}
	tmp := c.data + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("pgcluster: clear %s: %w", tmp, err)
	}
	c.log.Info("creating cluster", "bin", c.bin)
	if out, err := c.run(ctx, "initdb", "-D", tmp, "-U", Superuser, "-E", "UTF8", "--no-locale",
		"--auth", "trust"); err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w: %s", tmp, err, out)
	}
	// Loopback TCP only: no unix socket is opened (see writeConf).
	hba := "# ferric: trust connections from this host only.\n" +
		"host all all 127.0.0.1/32 trust\n" +
		"host replication all 127.0.0.1/32 trust\n"
	if err := c.writeFile(filepath.Join(tmp, "pg_hba.conf"), hba); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = f.WriteString("\n# ferric: listen address, port and sockets.\ninclude_if_exists = 'ferric.conf'\n")
	if err := errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("pgcluster: edit postgresql.conf: %w", err)
	}
	if err := os.RemoveAll(c.data); err != nil {
		return fmt.Errorf("pgcluster: clear %s: %w", c.data, err)
	}
	if err := os.Rename(tmp, c.data); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// writeConf writes the settings that may change between starts.
func (c *Cluster) writeConf() error {
	conf := fmt.Sprintf("# Written by ferric's pgcluster on every start.\n"+
		"listen_addresses = '127.0.0.1'\n"+
		"port = %d\n"+
		"unix_socket_directories = ''\n", c.port)
	return c.writeFile(filepath.Join(c.data, "ferric.conf"), conf)
}

// start starts the server unless it already runs.
func (c *Cluster) start(ctx context.Context) error {
	pidFile := filepath.Join(c.data, "postmaster.pid")
	if pid, port, ok := readPIDFile(pidFile); ok {
		if isPostgres(pid) {
			if port != 0 && port != c.port {
				c.log.Warn("adopting a running server on another port than configured", "port", port, "want", c.port)
				c.port = port
			}
			c.log.Info("postgres already running", "pid", pid, "port", c.port)
			return nil
		}
		// A killed server's lock file whose PID is dead or now someone
		// else's: postgres would refuse to start in the latter case.
		c.log.Info("removing stale postmaster.pid", "pid", pid)
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pgcluster: remove stale %s: %w", pidFile, err)
		}
	}
	logFile := filepath.Join(c.dir, "postgres.log")
	// After a crash the old server's children may hold its shared memory
	// for a moment, and postgres then refuses to start: retry briefly.
	var (
		out string
		err error
	)
	for attempt := 1; ; attempt++ {
		out, err = c.run(ctx, "pg_ctl", "start", "-D", c.data, "-l", logFile, "-w", "-t", "60", "-s")
		if err == nil || attempt == 5 || ctx.Err() != nil {
			break
		}
		c.log.Warn("postgres did not start, retrying", "attempt", attempt, "err", err)
		time.Sleep(time.Second)
	}
	if err != nil {
		return fmt.Errorf("pgcluster: start %s on 127.0.0.1:%d: %w: %s\n%s", c.data, c.port, err, out, tail(logFile, 2048))
	}
	c.log.Info("postgres started", "port", c.port)
	return nil
}

// readPIDFile returns the PID and port recorded in postmaster.pid.
func readPIDFile(path string) (pid, port int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, 0, true // garbage: treat as stale
	}
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	return pid, port, true
}

// isPostgres reports whether pid is a live (not zombie) postgres process.
func isPostgres(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		// The process just exited, or there is no /proc: then trust the
		// live PID, as postgres itself does.
		_, procErr := os.Stat("/proc/self")
		return procErr != nil
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || len(s) < end+3 {
		return false
	}
	comm, state := s[open+1:end], s[end+2]
	// A killed postmaster reparented to a PID 1 that does not reap stays a
	// zombie (Z) for a while.
	return comm == "postgres" && state != 'Z' && state != 'X'
}

// createDatabase creates the ferric database unless it exists, waiting for
// an adopted server to accept connections.
func (c *Cluster) createDatabase(ctx context.Context) error {
	url := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", Superuser, c.port)
	var (
		conn *pgx.Conn
		err  error
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err = pgx.Connect(ctx, url)
		if err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: connect to 127.0.0.1:%d: %w", c.port, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("pgcluster: connect to 127.0.0.1:%d: %w", c.port, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, Database).
		Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: look up database %s: %w", Database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+Database); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently
			return nil
		}
		return fmt.Errorf("pgcluster: create database %s: %w", Database, err)
	}
	c.log.Info("created database", "database", Database)
	return nil
}

// run runs a server binary as the cluster's user, in Dir, and returns its
// combined output. The binary gets its own process group, so a terminal's
// Ctrl-C reaches the caller (which calls Stop) and not the server.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// serverEnv is the caller's environment without libpq's PG* variables, which
// could point the binaries elsewhere, and with a C locale.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// writeFile writes a small file readable by the cluster's user only.
func (c *Cluster) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return ""
	}
	return string(b)
}
