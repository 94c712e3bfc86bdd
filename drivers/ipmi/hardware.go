// Package ipmi provides Ironic's "ipmi" hardware type: power, management,
// vendor and (out-of-band) inspect interfaces named "ipmitool" that speak
// IPMI over LAN (RMCP+ 2.0 by default, 1.5 on request) to a node's BMC, with
// the go-ipmi library instead of the ipmitool program. Ironic has no IPMI
// inspect interface: ferric's reads what the BMC knows (FRU, LAN
// configuration, Get Device ID) into the inventory schema agents use.
//
// Conversations with one BMC are serialized: a go-ipmi client is not safe for
// concurrent use, and BMCs have few session slots. Hardware owns a map from
// BMC address to a one-slot lock, an optional cached session, and the time of
// the last command (for Config.MinCommandInterval). There is no global state:
// main builds one Hardware and registers it.
//
// Sessions are cached per BMC for Config.SessionIdleTimeout (default 20 s,
// at most 25 s): a session costs six extra round trips (Get Channel Auth
// Capabilities, Open Session, RAKP 1/3, Set Session Privilege, Close
// Session), so a power read takes 1 round trip on a cached session and 7
// without (measured against BMCs answering in 20 ms: 20 ms vs 143 ms).
// A reused session that fails without a completion code is dropped and the
// operation runs once more on a fresh session, which recovers from BMC
// restarts.
//
// Errors are classified here, once, onto the drivers sentinels (ErrAuth,
// ErrUnreachable, ErrFailed, ErrUnsupported, ErrBadConfig); callers never
// import go-ipmi.
package ipmi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
)

// TypeName is the hardware type name, as in Ironic.
const TypeName = "ipmi"

// InterfaceName is the power, management, vendor and inspect interface
// name.
const InterfaceName = "ipmitool"

// maxSessionAge bounds how long a cached session is reused. go-ipmi's Connect
// starts a keep-alive goroutine that sends Get Session Info every 30 s on the
// same, unsynchronized client; closing sessions before that tick keeps the
// library from ever talking to a BMC behind our per-BMC lock.
const maxSessionAge = 25 * time.Second

// Config tunes the driver. It is built in main; zero fields take the values
// of DefaultConfig (a zero MinCommandInterval means no pacing, which is also
// the default).
type Config struct {
	// MinCommandInterval is the least time between the end of one command
	// and the start of the next to the same BMC (Ironic's
	// [ipmi]min_command_interval, 5 s there). Zero sends back to back.
	MinCommandInterval time.Duration
	// CallTimeout bounds each BMC operation (lock wait, session setup and
	// command), on top of any deadline of the caller's context.
	CallTimeout time.Duration
	// ExchangeTimeout is how long one UDP request waits for its reply before
	// it is sent again (ipmitool's -N; go-ipmi default 1 s).
	ExchangeTimeout time.Duration
	// Retries is how many times a request is resent after ExchangeTimeout
	// (ipmitool's -R); negative means none. Zero takes the default 4.
	Retries int
	// SessionIdleTimeout keeps a BMC session open this long after its last
	// command for the next call to reuse (a session never lives longer than
	// 25 s). Negative opens and closes a session per operation.
	SessionIdleTimeout time.Duration
	// PowerStateTimeout bounds the wait for a BMC to report the requested
	// power state after power on/off/reboot (Ironic's
	// [conductor]power_state_change_timeout).
	PowerStateTimeout time.Duration
	// SoftPowerOffTimeout is used when SoftPowerOff/SoftReboot get no
	// timeout (Ironic's [conductor]soft_power_off_timeout).
	SoftPowerOffTimeout time.Duration
	// PollInterval is the pause between power state reads while waiting.
	PollInterval time.Duration
	// BootMode is used for SetBootDevice when the node does not say
	// ("uefi" or "bios"; Ironic's [deploy]default_boot_mode is uefi).
	BootMode string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MinCommandInterval:  0,
		CallTimeout:         15 * time.Second,
		ExchangeTimeout:     time.Second,
		Retries:             4,
		SessionIdleTimeout:  20 * time.Second,
		PowerStateTimeout:   60 * time.Second,
		SoftPowerOffTimeout: 600 * time.Second,
		PollInterval:        time.Second,
		BootMode:            "uefi",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.CallTimeout, &d.CallTimeout}, {&c.ExchangeTimeout, &d.ExchangeTimeout},
		{&c.PowerStateTimeout, &d.PowerStateTimeout}, {&c.SoftPowerOffTimeout, &d.SoftPowerOffTimeout},
		{&c.PollInterval, &d.PollInterval},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	switch {
	case c.Retries == 0:
		c.Retries = d.Retries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.BootMode != "bios" {
		c.BootMode = "uefi"
	}
	switch {
	case c.SessionIdleTimeout == 0:
		c.SessionIdleTimeout = d.SessionIdleTimeout
	case c.SessionIdleTimeout < 0:
		c.SessionIdleTimeout = 0 // per call
	}
	c.SessionIdleTimeout = min(c.SessionIdleTimeout, maxSessionAge)
	return c
}

// Hardware is the ipmi hardware type. It is safe for concurrent use. Call
// Close at shutdown to end cached BMC sessions.
type Hardware struct {
	cfg Config

	mu     sync.Mutex
	bmcs   map[string]*bmcConn
	closed bool

	pending int           // background closes of failed sessions; guarded by mu
	idle    chan struct{} // closed when pending drops to 0; guarded by mu
}

// New returns the hardware type with cfg (zero fields take defaults).
func New(cfg Config) *Hardware {
	return &Hardware{cfg: cfg.withDefaults(), bmcs: map[string]*bmcConn{}}
}

// Register adds the ipmi hardware type and its ipmitool interfaces to r.
func (h *Hardware) Register(r *drivers.Registry) {
	ifaces := map[drivers.Kind][]string{
		drivers.KindPower:      {InterfaceName},
		drivers.KindManagement: {InterfaceName},
		drivers.KindVendor:     {InterfaceName, "no-vendor"},
		drivers.KindDeploy:     {"direct", "fake"},
		drivers.KindBoot:       {"pxe", "ipxe", "fake"},
		drivers.KindNetwork:    {"flat", "noop"},
		drivers.KindStorage:    {"noop"},
		drivers.KindRAID:       {"no-raid", "agent"},
		drivers.KindBios:       {"no-bios"},
		drivers.KindConsole:    {"no-console"},
		drivers.KindRescue:     {"no-rescue"},
		drivers.KindInspect:    {"no-inspect", "agent", InterfaceName},
		drivers.KindFirmware:   {"no-firmware"},
	}
	r.AddType(drivers.HardwareType{Name: TypeName, Interfaces: ifaces, Properties: properties()})
	r.AddPower(InterfaceName, func(n drivers.Node) (drivers.Power, error) { return h.Node(n) })
	r.AddManagement(InterfaceName, func(n drivers.Node) (drivers.Management, error) { return h.Node(n) })
	r.AddVendor(InterfaceName, func(n drivers.Node) (drivers.Vendor, error) { return h.Node(n) })
	r.AddInspect(InterfaceName, func(n drivers.Node) (drivers.Inspector, error) { return h.Node(n) })
}

// Close ends every cached session (sending Close Session to each BMC) and
// makes later calls use a session per operation. It waits for commands in
// flight, up to ctx.
func (h *Hardware) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	all := make([]*bmcConn, 0, len(h.bmcs))
	for _, b := range h.bmcs {
		all = append(all, b)
	}
	h.mu.Unlock()
	var errs []error
	for _, b := range all {
		ok, err := h.hold(ctx, b, true)
		if err != nil {
			errs = append(errs, err)
		}
		if !ok {
			continue
		}
		if s := b.sess; s != nil {
			b.sess = nil
			s.close(ctx, h.cfg.ExchangeTimeout)
		}
		h.release(b)
	}
	if err := h.waitBackground(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// background runs a bounded cleanup (closing a dead session) that the
// caller should not wait for; Close waits for all of them.
func (h *Hardware) background(f func()) {
	h.mu.Lock()
	h.pending++
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.pending--
			if h.pending == 0 && h.idle != nil {
				close(h.idle)
				h.idle = nil
			}
		}()
		f()
	}()
}

func (h *Hardware) waitBackground(ctx context.Context) error {
	h.mu.Lock()
	if h.pending == 0 {
		h.mu.Unlock()
		return nil
	}
	if h.idle == nil {
		h.idle = make(chan struct{})
	}
	idle := h.idle
	h.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bmcConn is everything known about one BMC (address:port). The fields after
// sem are owned by whoever holds sem.
type bmcConn struct {
	key  string
	sem  chan struct{} // one slot: the right to talk to this BMC
	refs int           // holders and waiters; guarded by Hardware.mu

	sess *session  // cached, authenticated session or nil
	last time.Time // end of the last exchange, for MinCommandInterval
}

// entry returns the BMC's state with a reference taken.
func (h *Hardware) entry(key string) *bmcConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.bmcs[key]
	if !ok {
		b = &bmcConn{key: key, sem: make(chan struct{}, 1)}
		h.bmcs[key] = b
	}
	b.refs++
	return b
}

// lock takes the BMC's slot for key, waiting up to ctx.
func (h *Hardware) lock(ctx context.Context, key string) (*bmcConn, error) {
	b := h.entry(key)
	select {
	case b.sem <- struct{}{}:
		return b, nil
	case <-ctx.Done():
		h.unref(b, false)
		// If we were the last one interested, let release forget the entry.
		if ok, _ := h.hold(ctx, b, false); ok {
			h.release(b)
		}
		return nil, ctx.Err()
	}
}

// hold takes the slot of a known BMC entry, waiting up to ctx when wait is
// set. It reports false when the entry was forgotten meanwhile (nothing is
// cached there) or, without wait, when the BMC is busy.
func (h *Hardware) hold(ctx context.Context, b *bmcConn, wait bool) (bool, error) {
	h.mu.Lock()
	if h.bmcs[b.key] != b {
		h.mu.Unlock()
		return false, nil
	}
	b.refs++
	h.mu.Unlock()
	if !wait {
		select {
		case b.sem <- struct{}{}:
			return true, nil
		default:
			h.unref(b, false)
			return false, nil
		}
	}
	select {
	case b.sem <- struct{}{}:
		return true, nil
	case <-ctx.Done():
		h.unref(b, false)
		return false, ctx.Err()
	}
}

// release gives the slot back and forgets idle BMCs.
func (h *Hardware) release(b *bmcConn) {
	h.unref(b, true)
	<-b.sem
}

func (h *Hardware) unref(b *bmcConn, holding bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b.refs--
	if holding && b.refs == 0 && b.sess == nil && time.Since(b.last) >= h.cfg.MinCommandInterval &&
		h.bmcs[b.key] == b {
		delete(h.bmcs, b.key)
	}
}

// pace waits until MinCommandInterval has passed since the BMC's last
// exchange. The caller holds the slot.
func (h *Hardware) pace(ctx context.Context, b *bmcConn) error {
	wait := h.cfg.MinCommandInterval - time.Since(b.last)
	if wait <= 0 {
		return nil
	}
	return drivers.Sleep(ctx, wait)
}

// sessionKey identifies what a session was opened with.
type sessionKey struct {
	username, password string
	priv               string
	cipher             int
	v15                bool
}

// session is one authenticated go-ipmi client.
type session struct {
	key    sessionKey
	c      *client.Client
	opened time.Time
	used   time.Time
	timer  *time.Timer
	once   sync.Once
}

// close ends the session once (go-ipmi panics on a second Close). Graceful
// closes send Close Session, bounded by limit; a zero limit only releases the
// socket and the keep-alive goroutine (for a session that stopped answering).
func (s *session) close(ctx context.Context, limit time.Duration) {
	s.once.Do(func() {
		if s.timer != nil {
			s.timer.Stop()
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
		if limit <= 0 {
			cancel()
		}
		defer cancel()
		_ = s.c.Close(cctx)
	})
}

// expiry is when the session must be closed.
func (s *session) expiry(idle time.Duration) time.Time {
	return minTime(s.used.Add(idle), s.opened.Add(maxSessionAge))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// connect opens a session to d.
func (h *Hardware) connect(ctx context.Context, d DriverInfo) (*session, error) {
	c, err := client.NewClient(d.Address, d.Port, d.Username, d.Password)
	if err != nil {
		return nil, err
	}
	c.WithTimeout(h.cfg.ExchangeTimeout).WithRetry(h.cfg.Retries).WithMaxPrivilegeLevel(privLevel(d.PrivLevel))
	if d.ProtocolVersion == "1.5" {
		c.WithInterface(client.InterfaceLan)
	} else {
		c.WithInterface(client.InterfaceLanplus)
		if d.CipherSuite >= 0 {
			c.WithCipherSuiteID(types.CipherSuiteID(d.CipherSuite))
		}
	}
	s := &session{key: keyOf(d), c: c}
	if err := c.Connect(ctx); err != nil {
		// Release the socket without talking to the BMC again (in the
		// background, see drop).
		h.background(func() { s.close(ctx, 0) })
		return nil, err
	}
	s.opened = time.Now()
	s.used = s.opened
	return s, nil
}

func keyOf(d DriverInfo) sessionKey {
	return sessionKey{username: d.Username, password: d.Password, priv: d.PrivLevel, cipher: d.CipherSuite,
		v15: d.ProtocolVersion == "1.5"}
}

func privLevel(s string) types.PrivilegeLevel {
	switch s {
	case "CALLBACK":
		return types.PrivilegeLevelCallback
	case "USER":
		return types.PrivilegeLevelUser
	case "OPERATOR":
		return types.PrivilegeLevelOperator
	default:
		return types.PrivilegeLevelAdministrator
	}
}

// keep caches s on b after a successful operation, or closes it when caching
// is off. The caller holds b's slot.
func (h *Hardware) keep(ctx context.Context, b *bmcConn, s *session) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	now := time.Now()
	s.used = now
	if closed || h.cfg.SessionIdleTimeout <= 0 || now.Sub(s.opened) >= maxSessionAge {
		b.sess = nil
		s.close(ctx, h.cfg.ExchangeTimeout)
		b.last = time.Now()
		return
	}
	b.sess = s
	d := s.expiry(h.cfg.SessionIdleTimeout).Sub(now)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, func() { h.expire(b, s) })
	} else {
		s.timer.Reset(d)
	}
}

// drop forgets a session that failed, without talking to the BMC. The close
// runs in the background: after a cancelled exchange go-ipmi's reader holds
// the socket until its read deadline (up to ExchangeTimeout), and the caller
// should not wait for that. Close waits for these goroutines.
func (h *Hardware) drop(ctx context.Context, b *bmcConn, s *session) {
	if b.sess == s {
		b.sess = nil
	}
	h.background(func() { s.close(ctx, 0) })
}

// expire closes a cached session whose time is up. If the BMC is busy the
// holder re-arms the timer when it is done.
func (h *Hardware) expire(b *bmcConn, s *session) {
	if ok, _ := h.hold(context.Background(), b, false); !ok {
		return
	}
	defer h.release(b)
	if b.sess != s {
		return
	}
	if left := time.Until(s.expiry(h.cfg.SessionIdleTimeout)); left > 0 {
		s.timer.Reset(left)
		return
	}
	b.sess = nil
	s.close(context.Background(), h.cfg.ExchangeTimeout)
	b.last = time.Now()
}

// sessionCount reports how many sessions are cached (for tests).
func (h *Hardware) sessionCount() int {
	h.mu.Lock()
	all := make([]*bmcConn, 0, len(h.bmcs))
	for _, b := range h.bmcs {
		all = append(all, b)
	}
	h.mu.Unlock()
	n := 0
	for _, b := range all {
		if ok, _ := h.hold(context.Background(), b, true); ok {
			if b.sess != nil {
				n++
			}
			h.release(b)
		}
	}
	return n
}
