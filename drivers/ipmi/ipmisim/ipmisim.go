// Package ipmisim runs simulated IPMI 2.0 BMCs inside the current process, on
// loopback UDP ports, for tests and benchmarks of the ipmi driver. It wraps
// go-ipmi's reference BMC server (pkg/server, pkg/bmc) with a chassis that
// keeps power and boot flags in memory, optional reply latency, and
// counters for resets.
//
// Many BMCs fit in one process (one UDP socket and two goroutines each), so a
// fleet benchmark can start thousands with StartBMCs. Nothing here is meant
// for production; it imports no ferric package.
package ipmisim

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Default credentials of a simulated BMC's administrator (user ID 2).
const (
	DefaultUsername = "admin"
	DefaultPassword = "password"
)

// User is an extra BMC account. Privilege is one of "ADMINISTRATOR",
// "OPERATOR", "USER", "CALLBACK" (driver_info's ipmi_priv_level names).
type User struct {
	Name, Password, Privilege string
}

// Options configure one simulated BMC. The zero value is a BMC with
// admin/password, no latency, answering on an ephemeral loopback port.
type Options struct {
	Username string // administrator name, default DefaultUsername
	Password string // administrator password, default DefaultPassword
	// Users are added after the administrator, from user ID 3.
	Users []User
	// Latency delays every reply (so one request/response costs Latency).
	Latency time.Duration
	// SoftOffDelay is how long the simulated OS takes to power off after a
	// soft shutdown (chassis control 5). Zero powers off at once.
	SoftOffDelay time.Duration
	// Port to listen on; 0 picks a free one.
	Port int
	// PoweredOn is the initial power state.
	PoweredOn bool
	// FRU is the image of FRU device 0, the one ipmitool's "fru print"
	// and an out-of-band inspection read (IPMI Platform Management FRU
	// Information Storage Definition; go-ipmi's types.PackFRU builds one).
	// nil: the BMC has no FRU data (Get FRU Inventory Area Info answers
	// "requested data not present").
	FRU []byte
	// LAN is the BMC's own network configuration, as Get LAN
	// Configuration Parameters reports it.
	LAN LAN
}

// LAN is a simulated BMC's network configuration. Zero fields read as
// 0.0.0.0 and 00:00:00:00:00:00 (go-ipmi's mock NIC).
type LAN struct {
	IP  netip.Addr       // IPv4 address (parameter 3)
	MAC net.HardwareAddr // 6 bytes (parameter 5)
	// IPv6 are served as active SLAAC addresses (parameters 55 and 59).
	// Empty: the IPv6 parameters are not supported, as in go-ipmi's own
	// server.
	IPv6 []netip.Addr
}

// BMC is one running simulated BMC.
type BMC struct {
	Host     string // always 127.0.0.1
	Port     int
	Username string
	Password string

	opts    Options
	chassis *Chassis

	mu   sync.Mutex
	srv  *server.Server
	done chan struct{}
}

// Addr returns host:port.
func (b *BMC) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// Chassis returns the simulated chassis (power, boot flags, counters).
func (b *BMC) Chassis() *Chassis { return b.chassis }

// DriverInfo returns an Ironic driver_info document for this BMC's
// administrator, with extra keys merged in (e.g. "ipmi_cipher_suite").
func (b *BMC) DriverInfo(extra map[string]any) json.RawMessage {
	m := map[string]any{
		"ipmi_address":  b.Host,
		"ipmi_port":     b.Port,
		"ipmi_username": b.Username,
		"ipmi_password": b.Password,
	}
	for k, v := range extra {
		m[k] = v
	}
	out, _ := json.Marshal(m) // a map of strings and ints always marshals
	return out
}

// Start runs one simulated BMC until Close (or ctx is done).
func Start(ctx context.Context, opts Options) (*BMC, error) {
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	b := &BMC{Host: "127.0.0.1", Username: opts.Username, Password: opts.Password, opts: opts,
		chassis: &Chassis{on: opts.PoweredOn, softOffDelay: opts.SoftOffDelay}}
	if err := b.serve(ctx, opts.Port); err != nil {
		return nil, err
	}
	return b, nil
}

// serve builds a fresh BMC state (users, no sessions) around the shared
// chassis and serves it on port.
func (b *BMC) serve(ctx context.Context, port int) error {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return fmt.Errorf("ipmisim: listen: %w", err)
	}
	st, err := b.newState()
	if err != nil {
		pc.Close()
		return err
	}
	reg := handlers.NewRegistry()
	handlers.RegisterAllHandlers(reg)
	if len(b.opts.LAN.IPv6) > 0 {
		// go-ipmi's handler answers every other parameter; registering here
		// keeps the privilege check (Operator) in front of both.
		std := handlers.NewRegistry()
		handlers.RegisterAllHandlers(std)
		reg.RegisterFunc(types.CommandGetLanConfigParam, b.lanIPv6(std))
	}
	// go-ipmi maps App Cold/Warm Reset (BMC resets) onto the chassis HAL's
	// ColdReset/WarmReset, the same methods as chassis hard reset and soft
	// shutdown: count BMC resets separately instead.
	reg.RegisterFunc(types.CommandColdReset, b.chassis.bmcReset(true))
	reg.RegisterFunc(types.CommandWarmReset, b.chassis.bmcReset(false))
	conn := &latencyConn{pc: pc, latency: b.opts.Latency}
	srv := server.NewServer(st, conn, server.WithHandlerRegistry(reg))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx)
	}()
	b.mu.Lock()
	b.srv, b.done = srv, done
	b.Port = pc.LocalAddr().(*net.UDPAddr).Port
	b.mu.Unlock()
	return nil
}

func (b *BMC) newState() (*bmc.BMC, error) {
	hw := mock.New()
	ctx := context.Background() // the mock's stores only lock a mutex
	if b.opts.FRU != nil {
		if err := hw.Storage().FRU().Write(ctx, 0, b.opts.FRU); err != nil {
			return nil, fmt.Errorf("ipmisim: FRU: %w", err)
		}
	}
	var nic hal.IPConfig
	if lan := b.opts.LAN; lan.IP.Is4() || len(lan.MAC) > 0 {
		if lan.IP.Is4() {
			nic.IP = lan.IP.As4()
		}
		if len(lan.MAC) != 0 && len(lan.MAC) != len(nic.MAC) {
			return nil, fmt.Errorf("ipmisim: MAC %s is not 6 bytes", lan.MAC)
		}
		copy(nic.MAC[:], lan.MAC)
		if err := hw.Network().SetConfig(ctx, &nic); err != nil {
			return nil, fmt.Errorf("ipmisim: LAN: %w", err)
		}
	}
	st := bmc.New(bmc.DeviceInfo{DeviceID: 0x20, DeviceRevision: 1, FirmwareMajor: 1, FirmwareMinor: 0x02,
		IPMIVersion: 0x02, ManufacturerID: 0x1291, ProductID: 0x0f02}, [16]byte{0xfe, 0x11, 0x1c},
		&halImpl{HAL: hw, ch: b.chassis})
	users := append([]User{{Name: b.Username, Password: b.Password, Privilege: "ADMINISTRATOR"}}, b.opts.Users...)
	for i, u := range users {
		priv, ok := privilege(u.Privilege)
		if !ok {
			return nil, fmt.Errorf("ipmisim: user %q: unknown privilege %q", u.Name, u.Privilege)
		}
		usr, err := st.Users.Add(uint8(i+2), u.Name)
		if err != nil {
			return nil, fmt.Errorf("ipmisim: add user %q: %w", u.Name, err)
		}
		usr.SetPassword([]byte(u.Password))
		usr.Enabled = true
		usr.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: priv, Enabled: true}
	}
	return st, nil
}

func privilege(name string) (bmc.PrivilegeLevel, bool) {
	switch name {
	case "ADMINISTRATOR":
		return bmc.PrivilegeLevelAdministrator, true
	case "OPERATOR":
		return bmc.PrivilegeLevelOperator, true
	case "USER":
		return bmc.PrivilegeLevelUser, true
	case "CALLBACK":
		return bmc.PrivilegeLevelCallback, true
	}
	return 0, false
}

// Close stops the BMC and waits for its server goroutine. It is idempotent.
func (b *BMC) Close() error {
	b.mu.Lock()
	srv, done := b.srv, b.done
	b.srv = nil
	b.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// Restart simulates a BMC reboot: the server stops (every session is lost)
// and a fresh one answers on the same port after down. Chassis state stays.
func (b *BMC) Restart(ctx context.Context, down time.Duration) error {
	if err := b.Close(); err != nil {
		return err
	}
	if down > 0 {
		t := time.NewTimer(down)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return b.serve(ctx, b.Port)
}

// lanIPv6 answers the IPv6 parameters of Get LAN Configuration Parameters
// from Options.LAN.IPv6 (go-ipmi's server supports none) and passes every
// other request to std's handler.
func (b *BMC) lanIPv6(std *handlers.Registry) func(context.Context, *handlers.HandlerContext, []byte) ([]byte,
	types.CompletionCode, error) {
	const revision = 0x11
	cmd := types.CommandGetLanConfigParam
	return func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		addrs := b.opts.LAN.IPv6
		if len(req) >= 4 {
			switch types.LanConfigParamSelector(req[1]) {
			case types.LanConfigParamSelector_IPv6Status:
				// no static addresses, len(addrs) dynamic ones, SLAAC supported
				return []byte{revision, 0, byte(len(addrs)), 0x02}, types.CodeOK, nil
			case types.LanConfigParamSelector_IPv6DynamicAddress:
				set := req[2]
				if int(set) >= len(addrs) {
					return nil, types.CodeParameterOutOfRange, nil
				}
				a := addrs[set].As16()
				out := append([]byte{revision, set, byte(types.LanIPv6AddressSource_SLAAC)}, a[:]...)
				return append(out, 64, byte(types.LanIPv6AddressStatus_Active)), types.CodeOK, nil
			}
		}
		return std.Dispatch(ctx, hctx, uint8(cmd.NetFn), cmd.ID, req)
	}
}

// StartBMCs starts n BMCs with the default credentials and the given reply
// latency. stop closes them all. On error the ones already started are
// closed.
func StartBMCs(ctx context.Context, n int, latency time.Duration) ([]*BMC, func(), error) {
	bmcs := make([]*BMC, 0, n)
	stop := func() {
		for _, b := range bmcs {
			_ = b.Close()
		}
	}
	for range n {
		b, err := Start(ctx, Options{Latency: latency})
		if err != nil {
			stop()
			return nil, func() {}, err
		}
		bmcs = append(bmcs, b)
	}
	return bmcs, stop, nil
}

// latencyConn delays replies. go-ipmi's server handles each packet in its own
// goroutine, so a sleeping reply does not hold up other sessions.
type latencyConn struct {
	pc      *net.UDPConn
	latency time.Duration
}

func (c *latencyConn) ReadFrom(buf []byte) (int, net.Addr, error) { return c.pc.ReadFrom(buf) }

func (c *latencyConn) WriteTo(data []byte, addr net.Addr) (int, error) {
	if c.latency > 0 {
		time.Sleep(c.latency)
	}
	return c.pc.WriteTo(data, addr)
}

func (c *latencyConn) Close() error { return c.pc.Close() }

// LocalAddr lets the server learn its port (for SOL's Activate Payload).
func (c *latencyConn) LocalAddr() net.Addr { return c.pc.LocalAddr() }

type halImpl struct {
	*mock.HAL
	ch *Chassis
}

func (h *halImpl) Chassis() hal.ChassisHAL { return h.ch }

// Chassis is the simulated machine behind a BMC. It is safe for concurrent
// use.
type Chassis struct {
	mu           sync.Mutex
	on           bool
	flags        types.BootOptionParam_BootFlags
	ack          types.BootOptionParam_BootInfoAcknowledge
	softOffDelay time.Duration
	counts       Counts
	softOff      *time.Timer
}

// Counts records actions that leave no other trace.
type Counts struct {
	PowerCycles, HardResets, SoftShutdowns, BMCColdResets, BMCWarmResets int
}

var _ hal.ChassisHAL = (*Chassis)(nil)

// On reports whether the simulated machine is powered on.
func (c *Chassis) On() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

// BootFlags returns the boot flags last written by a client.
func (c *Chassis) BootFlags() types.BootOptionParam_BootFlags {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flags
}

// Counts returns a copy of the action counters.
func (c *Chassis) Counts() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts
}

// PowerState implements hal.ChassisHAL.
func (c *Chassis) PowerState(context.Context) (bool, error) { return c.On(), nil }

// SetPower implements hal.ChassisHAL.
func (c *Chassis) SetPower(_ context.Context, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = on
	if c.softOff != nil {
		c.softOff.Stop()
		c.softOff = nil
	}
	return nil
}

// PowerCycle implements hal.ChassisHAL; the machine ends up on.
func (c *Chassis) PowerCycle(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts.PowerCycles++
	c.on = true
	return nil
}

// ColdReset implements hal.ChassisHAL (chassis control hard reset).
func (c *Chassis) ColdReset(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts.HardResets++
	return nil
}

// WarmReset implements hal.ChassisHAL; go-ipmi calls it for chassis control
// soft shutdown. The machine powers off after SoftOffDelay.
func (c *Chassis) WarmReset(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts.SoftShutdowns++
	if !c.on {
		return nil
	}
	if c.softOffDelay <= 0 {
		c.on = false
		return nil
	}
	if c.softOff == nil {
		c.softOff = time.AfterFunc(c.softOffDelay, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.on = false
			c.softOff = nil
		})
	}
	return nil
}

// Identify implements hal.ChassisHAL.
func (c *Chassis) Identify(context.Context, uint8) error { return nil }

// IntrusionState implements hal.ChassisHAL.
func (c *Chassis) IntrusionState(context.Context) (bool, error) { return false, hal.ErrNotSupported }

// SetBootFlags implements hal.ChassisHAL.
func (c *Chassis) SetBootFlags(_ context.Context, f *types.BootOptionParam_BootFlags) error {
	if f == nil {
		return hal.ErrNotSupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flags = *f
	return nil
}

// GetBootFlags implements hal.ChassisHAL.
func (c *Chassis) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.flags
	return &f, nil
}

// SetBootInfoAcknowledge implements hal.ChassisHAL.
func (c *Chassis) SetBootInfoAcknowledge(_ context.Context, a *types.BootOptionParam_BootInfoAcknowledge) error {
	if a == nil {
		return hal.ErrNotSupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ack = *a
	return nil
}

// GetBootInfoAcknowledge implements hal.ChassisHAL.
func (c *Chassis) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.ack
	return &a, nil
}

func (c *Chassis) bmcReset(cold bool) func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
	return func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cold {
			c.counts.BMCColdResets++
		} else {
			c.counts.BMCWarmResets++
		}
		return nil, types.CodeOK, nil
	}
}
