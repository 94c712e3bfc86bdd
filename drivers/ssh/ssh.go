// Package ssh is ferric's "ssh" hardware type: it powers virtual machines on a
// virtualization host by running commands over SSH, for test beds without
// IPMI (Ironic's staging "ssh" driver). It provides the "ssh" power interface
// (drivers.Power, Rebooter, SoftPower) and the "ssh" management interface
// (boot device).
//
// Two ways to control a VM, chosen by driver_info ssh_virt_type:
//
//	virsh (default)   env LC_ALL=C virsh [-c URI] domstate|start|destroy|shutdown|reboot|reset|dumpxml NAME
//	                  env LC_ALL=C virt-xml [--connect URI] NAME --edit --boot network|hd|cdrom
//	command           shell templates from driver_info (ssh_cmd_*), with {vm} and {device}
//
// The VM name (and the URI) are single-quoted for the remote shell, so a name
// cannot inject commands. The boot device is read from the first <boot dev="..."/>
// of the domain XML (or the device with boot order 1) and is always persistent:
// libvirt has no one-time boot override.
//
// Connections are pooled by Hardware: one SSH connection per (address, user,
// host keys, credentials), shared by every node on that host, with at most
// Config.MaxSessions concurrent sessions on it (OpenSSH's MaxSessions is 10).
// A dead connection is replaced transparently; an idle one is closed after
// Config.IdleTimeout. A command still running at the caller's deadline is
// abandoned: the caller gets the context error at once, the remote command is
// sent SIGKILL over the session, and its connection is retired (new calls
// dial a fresh one) and closed once its other sessions finish, so one hung
// command does not fail the other nodes' calls. OpenSSH ignores the signal for
// root logins (no privilege separation after auth): log in as a user in the
// libvirt group, or the hung command runs on until it ends by itself.
//
// Errors wrap the drivers sentinels: drivers.ErrBadConfig (driver_info),
// drivers.ErrAuth (credentials rejected, or host key mismatch, which also
// wraps ErrHostKeyMismatch), drivers.ErrUnreachable (dial, handshake,
// connection lost), drivers.ErrFailed (a command exited non-zero; the error
// carries its stderr), drivers.ErrUnsupported.
package ssh

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/ferric-project/ferric/drivers"
)

// TypeName is the hardware type name, and the name of its power and
// management interfaces.
const TypeName = "ssh"

var (
	// ErrHostKeyMismatch is wrapped (with drivers.ErrAuth) when the server's
	// host key is not the one in ssh_host_key. No credentials were sent.
	ErrHostKeyMismatch = errors.New("ssh: host key mismatch")
	// ErrClosed is returned by calls made after Hardware.Close.
	ErrClosed = errors.New("ssh: driver closed")
)

// Config tunes the connection pool. Zero values take the defaults.
type Config struct {
	// DialTimeout bounds the TCP connect plus SSH handshake of a new
	// connection. Default 15s.
	DialTimeout time.Duration
	// CommandTimeout bounds one remote command, in addition to the caller's
	// deadline. Default 60s.
	CommandTimeout time.Duration
	// IdleTimeout closes a connection that has had no session for this long.
	// Default 2m.
	IdleTimeout time.Duration
	// MaxSessions bounds the concurrent sessions on one connection; further
	// calls wait. Default 10, OpenSSH's MaxSessions.
	MaxSessions int
	// PollInterval is how often SoftPowerOff checks whether the VM is off.
	// Default 1s.
	PollInterval time.Duration
	// Dial opens TCP connections. Default (&net.Dialer{}).DialContext. A
	// jump host or SOCKS dialer fits here; tests count connections with it.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 15 * time.Second
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	return c
}

// Hardware is the ssh hardware type. It owns the connection pool; build one
// in main, Register it, and Close it at shutdown. It is safe for concurrent
// use.
type Hardware struct {
	cfg    Config
	ctx    context.Context // ends at Close; parents every dial
	cancel context.CancelFunc
	wg     sync.WaitGroup // dials, connection watchers, sessions

	mu           sync.Mutex
	closed       bool
	conns        map[poolKey]*conn  // the connection new sessions go to, per key
	live         map[*conn]struct{} // every connection not yet closed, retired ones included
	sessions     int                // sessions running now
	peakSessions int                // most sessions running at once
}

// New returns a Hardware with an empty pool. It does no I/O.
func New(cfg Config) *Hardware {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hardware{
		cfg:    cfg.withDefaults(),
		ctx:    ctx,
		cancel: cancel,
		conns:  map[poolKey]*conn{},
		live:   map[*conn]struct{}{},
	}
}

// Close closes every connection, aborts dials in progress and waits for the
// pool's goroutines. Calls made afterwards return ErrClosed. Close is
// idempotent.
func (h *Hardware) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for c := range h.live {
		c.retired = true
		h.closeLocked(c)
	}
	clear(h.conns)
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	return nil
}

// Register adds the ssh hardware type and its power and management
// interfaces to r. The other interface kinds name implementations registered
// elsewhere (direct deploy, pxe boot, the fake ones, no-*).
func (h *Hardware) Register(r *drivers.Registry) {
	ifaces := map[drivers.Kind][]string{
		drivers.KindPower:      {TypeName},
		drivers.KindManagement: {TypeName},
		drivers.KindDeploy:     {"direct", "fake"},
		drivers.KindBoot:       {"pxe", "ipxe", "fake"},
		drivers.KindVendor:     {"no-vendor", "fake"},
		drivers.KindNetwork:    {"noop", "flat"},
		drivers.KindStorage:    {"noop", "fake"},
		drivers.KindRAID:       {"no-raid", "fake", "agent"},
		drivers.KindBios:       {"no-bios", "fake"},
		drivers.KindConsole:    {"no-console", "fake"},
		drivers.KindRescue:     {"no-rescue", "fake"},
		drivers.KindInspect:    {"no-inspect", "fake", "agent"},
		drivers.KindFirmware:   {"no-firmware", "fake"},
	}
	r.AddType(drivers.HardwareType{Name: TypeName, Interfaces: ifaces, Properties: Properties()})
	r.AddPower(TypeName, func(n drivers.Node) (drivers.Power, error) { return h.node(n) })
	r.AddManagement(TypeName, func(n drivers.Node) (drivers.Management, error) { return h.node(n) })
}

// node validates driver_info; it does no I/O.
func (h *Hardware) node(n drivers.Node) (*Node, error) {
	cfg, err := parseDriverInfo(n.DriverInfo)
	if err != nil {
		return nil, err
	}
	return &Node{h: h, cfg: cfg, keepPower: n.DisablePowerOff}, nil
}
