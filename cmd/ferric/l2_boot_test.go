//go:build linux

package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferric-project/ferric/store"
)

// l2BootProc is `ferric boot` running in the network's namespace: the boot
// role as it is deployed (DHCP, TFTP on port 69, HTTP on the bridge's
// address), a process of its own, so that it can be restarted. (In the test
// process, a socket can be opened inside a namespace, but pin/tftp opens one
// per transfer wherever its goroutine runs.) It reaches PostgreSQL, which
// listens on loopback outside the namespace, through a Unix socket that the
// test forwards: Unix sockets are not per network namespace.
type l2BootProc struct {
	t    testing.TB
	ns   string
	args []string

	mu   sync.Mutex
	out  strings.Builder
	cmd  *exec.Cmd
	done chan struct{}
}

func (b *l2BootProc) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *l2BootProc) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// newL2Boot prepares `ferric boot` in nw's namespace on st's schema with
// args (the -dhcp-*, -tftp-address, ... flags); start runs it.
func newL2Boot(t *testing.T, nw *l2Net, st *store.Store, args ...string) *l2BootProc {
	t.Helper()
	dbURL := l2UnixDatabaseURL(t, st)
	b := &l2BootProc{t: t, ns: nw.ns, args: append([]string{ferricBinary(t), "boot", "-database-url", dbURL,
		"-log-format", "text", "-log-level", "debug"}, args...)}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("ferric boot output (end):\n%s", e2eTail(b.output(), 12000))
		}
	})
	return b
}

// start runs the process and waits until its DHCP server has started.
func (b *l2BootProc) start() {
	b.t.Helper()
	if err := b.run(); err != nil {
		b.t.Fatal(err)
	}
}

// run starts the process and waits until its DHCP server has started, or
// returns the error it exited with.
func (b *l2BootProc) run() error {
	b.mu.Lock()
	mark := b.out.Len()
	cmd := netnsCmd(b.ns, b.args[0], b.args[1:]...)
	cmd.Stdout, cmd.Stderr = b, b
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		return err
	}
	b.cmd, b.done = cmd, make(chan struct{})
	b.mu.Unlock()
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(b.done) }()
	deadline := time.After(30 * time.Second)
	for {
		if strings.Contains(b.output()[mark:], "dhcp server started") {
			return nil
		}
		select {
		case <-b.done:
			return &l2BootExit{err: waitErr, out: b.output()[mark:]}
		case <-deadline:
			return &l2BootExit{err: context.DeadlineExceeded, out: b.output()[mark:]}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// l2BootExit is a `ferric boot` that did not come up: how it ended and what
// it said.
type l2BootExit struct {
	err error
	out string
}

func (e *l2BootExit) Error() string { return "ferric boot: " + e.err.Error() + "\n" + e.out }

// stop ends the process with SIGTERM (SIGKILL after 10 s).
func (b *l2BootProc) stop() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// l2UnixDatabaseURL is a URL of st's database and schema through a Unix
// socket the test forwards to the test database's TCP address.
func l2UnixDatabaseURL(t *testing.T, st *store.Store) string {
	t.Helper()
	u, err := url.Parse(os.Getenv("FERRIC_TEST_DATABASE_URL"))
	if err != nil || u.Host == "" {
		t.Fatalf("FERRIC_TEST_DATABASE_URL %q: %v", os.Getenv("FERRIC_TEST_DATABASE_URL"), err)
	}
	var schema string
	if err := st.Pool().QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ferric-pg-") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", dir+"/.s.PGSQL.5432")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	pg := u.Host
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				d, err := net.Dial("tcp", pg)
				if err != nil {
					t.Logf("database socket forward: %v", err)
					return
				}
				defer d.Close()
				go func() { _, _ = io.Copy(d, c); d.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, d)
			}()
		}
	}()
	q := u.Query()
	q.Set("host", dir)
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "4")
	u.Host, u.RawQuery = "", q.Encode()
	return u.String()
}

// l2BootArgs are `ferric boot`'s flags on the L2 network.
func l2BootArgs(mode, ramdisk, agentAPIURL string) []string {
	args := []string{"-dhcp-mode", mode, "-dhcp-interface", "br0", "-tftp-address", ":69",
		"-boot-http-address", l2BridgeIP + ":" + l2BootHTTP, "-ipxe-dir", "/usr/lib/ipxe", "-ramdisk-dir", ramdisk,
		"-agent-api-url", agentAPIURL}
	if mode == "full" {
		args = append(args, "-dhcp-subnet", l2Subnet, "-dhcp-range", "10.213.0.100-10.213.0.199",
			"-dhcp-router", l2BridgeIP)
	}
	return args
}
