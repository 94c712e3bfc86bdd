package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/ferric-project/ferric/drivers"
)

// poolKey identifies a shareable connection.
type poolKey struct {
	addr     string // host:port
	user     string
	hostKeys string   // sorted SHA-256 fingerprints of the trusted keys, or "insecure"
	cred     [32]byte // SHA-256 over the credentials; the secrets themselves are not kept here
}

// conn is one pooled SSH connection. Fields above the line are written once,
// before ready is closed; the rest are guarded by Hardware.mu.
type conn struct {
	key    poolKey
	ready  chan struct{} // closed when the dial finished
	client *gossh.Client // nil when the dial failed
	err    error         // the dial's error
	sem    chan struct{} // one token per open session (sshd's MaxSessions)

	users   int  // callers waiting for or holding a session
	retired bool // takes no new sessions; closed when users drops to 0
	idle    *time.Timer
}

// maxOutput caps what is kept of a command's stdout and stderr.
const (
	maxStdout = 4 << 20
	maxStderr = 64 << 10
)

// get returns the pooled connection for nc, dialling it if needed. The
// caller must put it back.
func (h *Hardware) get(ctx context.Context, nc *nodeConfig) (*conn, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	c := h.conns[nc.pool]
	if c == nil {
		c = &conn{key: nc.pool, ready: make(chan struct{}), sem: make(chan struct{}, h.cfg.MaxSessions)}
		h.conns[nc.pool] = c
		h.live[c] = struct{}{}
		h.wg.Add(1)
		go h.dial(c, nc)
	}
	c.users++
	if c.idle != nil {
		c.idle.Stop()
	}
	h.mu.Unlock()

	select {
	case <-c.ready:
	case <-ctx.Done():
		h.put(c)
		return nil, fmt.Errorf("ssh %s: waiting for connection: %w", nc.target(), ctx.Err())
	}
	if c.err != nil {
		h.put(c)
		return nil, c.err
	}
	return c, nil
}

// put gives back a connection taken with get.
func (h *Hardware) put(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.users--
	if c.users > 0 || c.client == nil {
		return
	}
	if c.retired {
		h.closeLocked(c)
		return
	}
	if c.idle == nil {
		c.idle = time.AfterFunc(h.cfg.IdleTimeout, func() { h.expire(c) })
	} else {
		c.idle.Reset(h.cfg.IdleTimeout)
	}
}

// expire closes a connection that stayed idle.
func (h *Hardware) expire(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.users == 0 {
		h.retireLocked(c)
	}
}

// retire takes c out of the pool: new calls dial a fresh connection, and c is
// closed once its last user is gone.
func (h *Hardware) retire(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retireLocked(c)
}

func (h *Hardware) retireLocked(c *conn) {
	if !c.retired {
		c.retired = true
		if h.conns[c.key] == c {
			delete(h.conns, c.key)
		}
	}
	if c.users == 0 {
		h.closeLocked(c)
	}
}

func (h *Hardware) closeLocked(c *conn) {
	if _, ok := h.live[c]; !ok {
		return
	}
	delete(h.live, c)
	if c.idle != nil {
		c.idle.Stop()
	}
	if c.client != nil {
		_ = c.client.Close()
	}
}

// dial opens the connection for c. It runs detached from the caller that
// triggered it (others may be waiting for the same connection), bounded by
// DialTimeout and by Close.
func (h *Hardware) dial(c *conn, nc *nodeConfig) {
	defer h.wg.Done()
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.DialTimeout)
	defer cancel()
	client, err := h.connect(ctx, nc)

	h.mu.Lock()
	if err == nil && h.closed {
		_ = client.Close()
		client, err = nil, ErrClosed
	}
	c.client, c.err = client, err
	if err != nil {
		if h.conns[c.key] == c {
			delete(h.conns, c.key)
		}
		delete(h.live, c)
	} else {
		if c.users == 0 { // every caller gave up waiting: keep it for a while
			c.idle = time.AfterFunc(h.cfg.IdleTimeout, func() { h.expire(c) })
		}
		h.wg.Add(1)
		go func() { // notice a connection that died (sshd restarted, host gone)
			defer h.wg.Done()
			_ = client.Wait()
			h.retire(c)
		}()
	}
	h.mu.Unlock()
	close(c.ready)
}

// connect dials and authenticates. x/crypto/ssh takes no context: the TCP
// dial uses ctx, and context.AfterFunc closes the socket if ctx ends during
// the handshake.
func (h *Hardware) connect(ctx context.Context, nc *nodeConfig) (*gossh.Client, error) {
	raw, err := h.cfg.Dial(ctx, "tcp", nc.addr)
	if err != nil {
		if h.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%w: ssh dial %s: %w", drivers.ErrUnreachable, nc.addr, err)
	}
	var rejected atomic.Pointer[gossh.PublicKey]
	cfg := &gossh.ClientConfig{
		User:          nc.user,
		Auth:          authMethods(nc),
		ClientVersion: "SSH-2.0-ferric",
	}
	if nc.insecure {
		cfg.HostKeyCallback = gossh.InsecureIgnoreHostKey()
	} else {
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(nc.hostKeys)
		cfg.HostKeyCallback = func(_ string, _ net.Addr, key gossh.PublicKey) error {
			for _, k := range nc.hostKeys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil
				}
			}
			rejected.Store(&key)
			return ErrHostKeyMismatch
		}
	}

	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	cc, chans, reqs, err := gossh.NewClientConn(raw, nc.addr, cfg)
	if !stop() { // ctx ended: the socket is closed, whatever the handshake said
		if err == nil {
			_ = cc.Close()
		}
		if h.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%w: ssh handshake with %s: %w", drivers.ErrUnreachable, nc.addr, ctx.Err())
	}
	if err != nil {
		return nil, classifyHandshake(nc, err, rejected.Load())
	}
	return gossh.NewClient(cc, chans, reqs), nil
}

// classifyHandshake maps a failed handshake onto the driver sentinels.
func classifyHandshake(nc *nodeConfig, err error, rejected *gossh.PublicKey) error {
	var neg *gossh.AlgorithmNegotiationError
	switch {
	case rejected != nil:
		k := *rejected
		return fmt.Errorf("%w: %w: %s presented %s key %s, which is not the one in ssh_host_key; refusing to log in",
			drivers.ErrAuth, ErrHostKeyMismatch, nc.addr, k.Type(), gossh.FingerprintSHA256(k))
	case errors.As(err, &neg) && neg.What == "host key":
		return fmt.Errorf("%w: %w: %s has no host key of the type(s) in ssh_host_key (%s); it offers %s",
			drivers.ErrAuth, ErrHostKeyMismatch, nc.addr, strings.Join(neg.SupportedAlgorithms, ", "),
			strings.Join(neg.RequestedAlgorithms, ", "))
	// x/crypto/ssh has no typed error for rejected credentials; the text is
	// pinned by TestSSHD/wrong_key and TestSSHD/wrong_password.
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("%w: ssh %s: credentials rejected: %w", drivers.ErrAuth, nc.target(), err)
	default:
		return fmt.Errorf("%w: ssh handshake with %s: %w", drivers.ErrUnreachable, nc.addr, err)
	}
}

func authMethods(nc *nodeConfig) []gossh.AuthMethod {
	var m []gossh.AuthMethod
	if nc.signer != nil {
		m = append(m, gossh.PublicKeys(nc.signer))
	}
	if nc.password != "" {
		pw := nc.password
		m = append(m, gossh.Password(pw),
			// PAM-backed sshd asks for the password over keyboard-interactive.
			gossh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	return m
}

// result is what a session goroutine hands back.
type result struct {
	stdout, stderr []byte
	err            error
	opening        bool // the session could not be opened: the command did not run
}

// run executes cmd on the node's host and returns its trimmed stdout. It
// retries only where the command cannot have run (session not opened).
func (h *Hardware) run(ctx context.Context, nc *nodeConfig, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CommandTimeout)
	defer cancel()
	redials, busy := 0, 0
	for {
		c, err := h.get(ctx, nc)
		if err != nil {
			return "", err
		}
		r, err := h.session(ctx, c, nc, cmd)
		if err != nil {
			return "", err
		}
		if r.opening {
			var oce *gossh.OpenChannelError
			if errors.As(r.err, &oce) && busy < 20 {
				// The server refused another session: its MaxSessions is
				// lower than Config.MaxSessions, or it has not yet freed the
				// slot of a session that just ended (OpenSSH frees it a
				// loop iteration after the close; it answers "connect
				// failed"). Wait and retry on the same connection.
				busy++
				if err := drivers.Sleep(ctx, time.Duration(busy)*5*time.Millisecond); err != nil {
					return "", fmt.Errorf("ssh %s: %q: %w", nc.target(), cmd, err)
				}
				continue
			}
			if redials < 1 && oce == nil {
				// The pooled connection was dead (host rebooted, sshd
				// restarted): dial a fresh one.
				h.retire(c)
				redials++
				continue
			}
			return "", fmt.Errorf("%w: ssh %s: open session: %w", drivers.ErrUnreachable, nc.target(), r.err)
		}
		return classifyRun(nc, cmd, r)
	}
}

// session runs cmd in a new session on c and puts c back. A command still
// running when ctx ends is abandoned: the caller returns at once, c leaves the
// pool, the remote command is sent SIGKILL (sshd kills nothing when a
// session closes) and c is closed once its other sessions are done. Closing
// the connection is what unblocks x/crypto/ssh.
func (h *Hardware) session(ctx context.Context, c *conn, nc *nodeConfig, cmd string) (result, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		h.put(c)
		return result{}, fmt.Errorf("ssh %s: waiting for a free session: %w", nc.target(), ctx.Err())
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		<-c.sem
		h.put(c)
		return result{}, ErrClosed
	}
	h.wg.Add(1)
	h.sessions++
	h.peakSessions = max(h.peakSessions, h.sessions)
	h.mu.Unlock()

	done := make(chan result, 1)
	opened := make(chan *gossh.Session, 1)
	go func() {
		defer h.wg.Done()
		defer func() {
			h.mu.Lock()
			h.sessions--
			h.mu.Unlock()
			<-c.sem
		}()
		s, err := c.client.NewSession()
		if err != nil {
			done <- result{err: err, opening: true}
			return
		}
		defer s.Close()
		opened <- s
		stdout, stderr := &capBuffer{max: maxStdout}, &capBuffer{max: maxStderr}
		s.Stdout, s.Stderr = stdout, stderr
		err = s.Run(cmd)
		done <- result{stdout: stdout.Bytes(), stderr: stderr.Bytes(), err: err}
	}()

	select {
	case r := <-done:
		h.put(c)
		return r, nil
	case <-ctx.Done():
		h.retire(c)
		h.mu.Lock()
		if h.closed { // Close has closed c already
			h.mu.Unlock()
			h.put(c)
			return result{}, fmt.Errorf("ssh %s: %q: %w", nc.target(), cmd, ctx.Err())
		}
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			select {
			case s := <-opened:
				// Best effort, bounded: the write can block on a stuck peer.
				sent := make(chan struct{})
				go func() { _ = s.Signal(gossh.SIGKILL); close(sent) }()
				select {
				case <-sent:
				case <-time.After(100 * time.Millisecond):
				}
			default:
			}
			h.put(c)
		}()
		return result{}, fmt.Errorf("ssh %s: %q: %w", nc.target(), cmd, ctx.Err())
	}
}

// classifyRun maps a finished command onto the driver sentinels.
func classifyRun(nc *nodeConfig, cmd string, r result) (string, error) {
	out := strings.TrimSpace(string(r.stdout))
	if r.err == nil {
		return out, nil
	}
	detail := strings.TrimSpace(string(r.stderr))
	if detail == "" {
		detail = out
	}
	detail = truncate(detail, 512)
	var exit *gossh.ExitError
	var missing *gossh.ExitMissingError
	switch {
	case errors.As(r.err, &exit):
		return out, fmt.Errorf("%w: ssh %s: %q exited with status %d: %s", drivers.ErrFailed, nc.target(), cmd,
			exit.ExitStatus(), detail)
	case errors.As(r.err, &missing):
		return out, fmt.Errorf("%w: ssh %s: %q ended without an exit status: %s", drivers.ErrFailed, nc.target(),
			cmd, detail)
	default:
		return out, fmt.Errorf("%w: ssh %s: connection lost while running %q: %w", drivers.ErrUnreachable,
			nc.target(), cmd, r.err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// capBuffer keeps the first max bytes written to it and drops the rest.
type capBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *capBuffer) Bytes() []byte { return b.buf.Bytes() }
