package ipmi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
)

// Node is one node's ipmitool interfaces. It implements drivers.Power,
// drivers.Rebooter, drivers.SoftPower, drivers.Management, drivers.Vendor
// and drivers.Inspector. It is cheap (no connection of its own) and safe for
// concurrent use.
type Node struct {
	h        *Hardware
	uuid     string
	info     DriverInfo
	bootMode string // "uefi" or "bios"
	// keepPower: the node must never lose power (disable_power_off): a
	// reboot is a hard reset, never a power cycle.
	keepPower bool
}

var (
	_ drivers.Power      = (*Node)(nil)
	_ drivers.Rebooter   = (*Node)(nil)
	_ drivers.SoftPower  = (*Node)(nil)
	_ drivers.Management = (*Node)(nil)
	_ drivers.Vendor     = (*Node)(nil)
)

// Node builds a node's interfaces from its driver_info. It validates and
// does no I/O; errors wrap drivers.ErrBadConfig.
func (h *Hardware) Node(n drivers.Node) (*Node, error) {
	info, err := ParseDriverInfo(n.DriverInfo)
	if err != nil {
		return nil, err
	}
	return &Node{h: h, uuid: n.UUID, info: info, bootMode: bootModeOf(n, h.cfg.BootMode), keepPower: n.DisablePowerOff}, nil
}

// Info returns the parsed driver_info.
func (n *Node) Info() DriverInfo { return n.info }

// exchanger runs the commands of one operation on one session, pacing all
// but the first (which follows the session setup or the pace in do).
type exchanger struct {
	h     *Hardware
	b     *bmcConn
	c     *client.Client
	n     int
	reset bool // the BMC was reset: do not reuse the session
}

func (x *exchanger) call(ctx context.Context, f func(c *client.Client) error) error {
	if x.n > 0 {
		if err := x.h.pace(ctx, x.b); err != nil {
			return err
		}
	}
	x.n++
	err := f(x.c)
	x.b.last = time.Now()
	return err
}

// do runs fn against the node's BMC: it takes the BMC's slot, waits for
// MinCommandInterval, reuses the cached session or opens one, and classifies
// errors. When a reused session fails without a completion code (the BMC
// restarted, dropped the session, or a reply was lost) and retry is set, fn
// runs once more on a fresh session. Every call is bounded by CallTimeout.
func (n *Node) do(ctx context.Context, op string, retry bool, fn func(context.Context, *exchanger) error) error {
	return n.doWithin(ctx, op, retry, n.h.cfg.CallTimeout, fn)
}

// doWithin is do bounded by limit instead of CallTimeout, for operations
// of many commands (each paced by MinCommandInterval).
func (n *Node) doWithin(ctx context.Context, op string, retry bool, limit time.Duration,
	fn func(context.Context, *exchanger) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	b, err := n.h.lock(ctx, n.info.HostPort())
	if err != nil {
		return n.fail(ctx, op, err, phaseConnect)
	}
	defer n.h.release(b)
	if err := n.h.pace(ctx, b); err != nil {
		return n.fail(ctx, op, err, phaseConnect)
	}
	want := keyOf(n.info)
	for {
		s, reused := b.sess, true
		if s != nil && s.key != want { // another user of the same BMC
			b.sess = nil
			s.close(ctx, n.h.cfg.ExchangeTimeout)
			s = nil
		}
		if s == nil {
			reused = false
			s, err = n.h.connect(ctx, n.info)
			b.last = time.Now()
			if err != nil {
				return n.fail(ctx, op, err, phaseConnect)
			}
		}
		// A reused session may be dead (BMC restarted): give it one resend
		// only, then fall back to a fresh session with the full budget.
		if reused && retry {
			s.c.WithRetry(min(1, n.h.cfg.Retries))
		} else {
			s.c.WithRetry(n.h.cfg.Retries)
		}
		x := &exchanger{h: n.h, b: b, c: s.c}
		err = fn(ctx, x)
		_, answered := types.IsResponseError(err)
		switch {
		case x.reset:
			n.h.drop(ctx, b, s)
		case err == nil || answered:
			n.h.keep(ctx, b, s)
		default:
			n.h.drop(ctx, b, s)
		}
		if err == nil {
			return nil
		}
		if answered || !reused || !retry || ctx.Err() != nil {
			return n.fail(ctx, op, err, phaseCommand)
		}
	}
}

// fail wraps err as "ipmi <host:port>: <op>: <sentinel>: <cause>".
func (n *Node) fail(ctx context.Context, op string, err error, ph phase) error {
	kind := classify(ctx, err, ph)
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err) // go-ipmi's %v joins can hide it
	}
	err = libError{err: err, secret: n.info.Password}
	if kind == nil {
		return fmt.Errorf("ipmi %s: %s: %w", n.info.HostPort(), op, err)
	}
	return fmt.Errorf("ipmi %s: %s: %w: %w", n.info.HostPort(), op, kind, err)
}

// ctxErr is ctx.Err(), also when the deadline has passed but the context's
// timer has not fired yet (go-ipmi's socket deadline equals ours and often
// wins the race).
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// libError keeps a library error's chain but prints it on one line, with the
// password (should a library ever echo it) masked.
type libError struct {
	err    error
	secret string
}

func (e libError) Error() string {
	msg := strings.Join(strings.Fields(e.err.Error()), " ")
	if e.secret != "" {
		msg = strings.ReplaceAll(msg, e.secret, "***")
	}
	return msg
}

func (e libError) Unwrap() error { return e.err }

// PowerState reads the chassis power state (Get Chassis Status).
func (n *Node) PowerState(ctx context.Context) (drivers.PowerState, error) {
	var st drivers.PowerState
	err := n.do(ctx, "get power state", true, func(ctx context.Context, x *exchanger) error {
		on, err := x.powerOn(ctx)
		st = stateOf(on)
		return err
	})
	if err != nil {
		return "", err
	}
	return st, nil
}

func (x *exchanger) powerOn(ctx context.Context) (bool, error) {
	var on bool
	err := x.call(ctx, func(c *client.Client) error {
		res, err := c.GetChassisStatus(ctx)
		if err != nil {
			return err
		}
		on = res.PowerIsOn
		return nil
	})
	return on, err
}

func (x *exchanger) control(ctx context.Context, a chassis.ChassisControl) error {
	return x.call(ctx, func(c *client.Client) error {
		_, err := c.ChassisControl(ctx, a)
		return err
	})
}

func stateOf(on bool) drivers.PowerState {
	if on {
		return drivers.PowerOn
	}
	return drivers.PowerOff
}

// SetPowerState powers the node on or off (Chassis Control power up/down)
// and waits until the BMC reports the new state, up to PowerStateTimeout.
func (n *Node) SetPowerState(ctx context.Context, s drivers.PowerState) error {
	var a chassis.ChassisControl
	switch s {
	case drivers.PowerOn:
		a = chassis.ChassisControlPowerUp
	case drivers.PowerOff:
		a = chassis.ChassisControlPowerDown
	default:
		return fmt.Errorf("ipmi %s: %w: power state %q", n.info.HostPort(), drivers.ErrUnsupported, s)
	}
	if err := n.do(ctx, "set power "+string(s), true, func(ctx context.Context, x *exchanger) error {
		return x.control(ctx, a)
	}); err != nil {
		return err
	}
	return n.waitPower(ctx, s, n.h.cfg.PowerStateTimeout)
}

// Reboot power-cycles a powered-on node (falling back to a hard reset when
// the BMC refuses the cycle; a node that must keep its power is reset, as
// Ironic's "power reset") and powers up a powered-off one, then waits for
// "power on".
func (n *Node) Reboot(ctx context.Context) error {
	if err := n.do(ctx, "reboot", true, func(ctx context.Context, x *exchanger) error {
		on, err := x.powerOn(ctx)
		if err != nil {
			return err
		}
		if !on {
			return x.control(ctx, chassis.ChassisControlPowerUp)
		}
		if n.keepPower {
			return x.control(ctx, chassis.ChassisControlHardReset)
		}
		err = x.control(ctx, chassis.ChassisControlPowerCycle)
		if _, answered := types.IsResponseError(err); answered {
			err = x.control(ctx, chassis.ChassisControlHardReset)
		}
		return err
	}); err != nil {
		return err
	}
	return n.waitPower(ctx, drivers.PowerOn, n.h.cfg.PowerStateTimeout)
}

// SoftPowerOff asks the OS to shut down (Chassis Control soft shutdown, an
// ACPI power button press) and waits up to timeout (SoftPowerOffTimeout when
// zero) for the node to be off.
func (n *Node) SoftPowerOff(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = n.h.cfg.SoftPowerOffTimeout
	}
	if err := n.do(ctx, "soft power off", true, func(ctx context.Context, x *exchanger) error {
		on, err := x.powerOn(ctx)
		if err != nil || !on {
			return err
		}
		return x.control(ctx, chassis.ChassisControlSoftShutdown)
	}); err != nil {
		return err
	}
	return n.waitPower(ctx, drivers.PowerOff, timeout)
}

// SoftReboot soft-powers the node off (waiting up to timeout) and powers it
// on again.
func (n *Node) SoftReboot(ctx context.Context, timeout time.Duration) error {
	if n.keepPower {
		// As Ironic's ipmitool: IPMI has no soft reboot that keeps power.
		return fmt.Errorf("ipmi %s: %w: soft reboot of a node that must keep its power (disable_power_off)",
			n.info.HostPort(), drivers.ErrUnsupported)
	}
	if err := n.SoftPowerOff(ctx, timeout); err != nil {
		return err
	}
	return n.SetPowerState(ctx, drivers.PowerOn)
}

// waitPower polls the power state until it is want, the timeout passes
// (ErrFailed), or the BMC rejects us (ErrAuth, ErrUnsupported). Other read
// errors are retried until the timeout, as Ironic does.
func (n *Node) waitPower(ctx context.Context, want drivers.PowerState, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		st, err := n.PowerState(ctx)
		switch {
		case err == nil && st == want:
			return nil
		case errors.Is(err, drivers.ErrAuth), errors.Is(err, drivers.ErrUnsupported), ctx.Err() != nil:
			return err
		}
		last = err
		if !time.Now().Add(n.h.cfg.PollInterval).Before(deadline) {
			if last != nil {
				return fmt.Errorf("ipmi %s: %w: node did not reach %q within %s: %w",
					n.info.HostPort(), drivers.ErrFailed, want, timeout, last)
			}
			return fmt.Errorf("ipmi %s: %w: node did not reach %q within %s (still %q)",
				n.info.HostPort(), drivers.ErrFailed, want, timeout, st)
		}
		if err := drivers.Sleep(ctx, n.h.cfg.PollInterval); err != nil {
			return fmt.Errorf("ipmi %s: waiting for %q: %w", n.info.HostPort(), want, err)
		}
	}
}

// SupportedBootDevices lists the devices ipmitool can set, as in Ironic.
func (n *Node) SupportedBootDevices(context.Context) ([]drivers.BootDevice, error) {
	return []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM, drivers.BootBIOS,
		drivers.BootSafe}, nil
}

func selectorOf(dev drivers.BootDevice) (types.BootDeviceSelector, bool) {
	switch dev {
	case drivers.BootPXE:
		return types.BootDeviceSelectorForcePXE, true
	case drivers.BootDisk:
		return types.BootDeviceSelectorForceHardDrive, true
	case drivers.BootSafe:
		return types.BootDeviceSelectorForceHardDriveSafe, true
	case drivers.BootCDROM:
		return types.BootDeviceSelectorForceCDROM, true
	case drivers.BootBIOS:
		return types.BootDeviceSelectorForceBIOSSetup, true
	}
	return 0, false
}

func deviceOf(s types.BootDeviceSelector) drivers.BootDevice {
	switch s {
	case types.BootDeviceSelectorForcePXE:
		return drivers.BootPXE
	case types.BootDeviceSelectorForceHardDrive:
		return drivers.BootDisk
	case types.BootDeviceSelectorForceHardDriveSafe:
		return drivers.BootSafe
	case types.BootDeviceSelectorForceCDROM:
		return drivers.BootCDROM
	case types.BootDeviceSelectorForceBIOSSetup:
		return drivers.BootBIOS
	}
	return "" // no override, or a device Ironic does not name
}

// BootDevice reads the boot flags (Get System Boot Options, parameter 5).
// The device is "" when the BMC has no override (Ironic's None). As in
// Ironic, the flags' valid bit is not consulted (ipmi_sim never sets it).
func (n *Node) BootDevice(ctx context.Context) (drivers.BootDevice, bool, error) {
	var f types.BootOptionParam_BootFlags
	err := n.do(ctx, "get boot device", true, func(ctx context.Context, x *exchanger) error {
		return x.call(ctx, func(c *client.Client) error { return c.GetSystemBootOptionsParamFor(ctx, &f) })
	})
	if err != nil {
		return "", false, err
	}
	return deviceOf(f.BootDeviceSelector), f.Persist, nil
}

// SetBootDevice sets the boot device for the next boot, or every boot when
// persistent (Set System Boot Options, parameter 5; EFI when the node's boot
// mode is uefi). Unless ipmi_disable_boot_timeout is false it first asks the
// BMC not to clear the flags after 60 s (parameter 3, as Ironic does),
// ignoring BMCs that refuse it.
func (n *Node) SetBootDevice(ctx context.Context, dev drivers.BootDevice, persistent bool) error {
	sel, ok := selectorOf(dev)
	if !ok {
		return fmt.Errorf("ipmi %s: %w: boot device %q", n.info.HostPort(), drivers.ErrUnsupported, dev)
	}
	bootType := types.BIOSBootTypeLegacy
	if n.bootMode == "uefi" {
		bootType = types.BIOSBootTypeEFI
	}
	return n.do(ctx, "set boot device "+string(dev), true, func(ctx context.Context, x *exchanger) error {
		if n.info.DisableBootTimeout {
			err := x.call(ctx, func(c *client.Client) error {
				return c.SetSystemBootOptionsParamFor(ctx,
					&types.BootOptionParam_BMCBootFlagValidBitClear{DontClearOnCommandReceivedTimeout: true})
			})
			if _, answered := types.IsResponseError(err); err != nil && !answered {
				return err
			}
		}
		return x.call(ctx, func(c *client.Client) error { return c.SetBootDevice(ctx, sel, bootType, persistent) })
	})
}

// bootModeOf is the node's recorded boot mode (drivers.BootMode), else def.
func bootModeOf(n drivers.Node, def string) string {
	if m := drivers.BootMode(n.InstanceInfo, n.Properties); m != "" {
		return m
	}
	return def
}
