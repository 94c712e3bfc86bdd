package ssh

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferric-project/ferric/drivers"
)

// Node is one VM's power and management interfaces. It holds no connection:
// commands go through the Hardware's pool.
type Node struct {
	h   *Hardware
	cfg *nodeConfig
	// keepPower: the node must never lose power (disable_power_off): a
	// reboot only resets it, never powers it off and on.
	keepPower bool
}

var (
	_ drivers.Power      = (*Node)(nil)
	_ drivers.Rebooter   = (*Node)(nil)
	_ drivers.SoftPower  = (*Node)(nil)
	_ drivers.Management = (*Node)(nil)
)

// quote single-quotes s for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// virsh builds a virsh command line for the node's domain.
func (n *Node) virsh(sub string) string {
	var b strings.Builder
	b.WriteString("env LC_ALL=C virsh")
	if n.cfg.virshURI != "" {
		b.WriteString(" -c " + quote(n.cfg.virshURI))
	}
	b.WriteString(" " + sub + " " + quote(n.cfg.vmName))
	return b.String()
}

// virtXMLBoot builds the virt-xml command that makes dev the first boot
// device in the domain's persistent definition.
func (n *Node) virtXMLBoot(dev string) string {
	var b strings.Builder
	b.WriteString("env LC_ALL=C virt-xml")
	if n.cfg.virshURI != "" {
		b.WriteString(" --connect " + quote(n.cfg.virshURI))
	}
	b.WriteString(" " + quote(n.cfg.vmName) + " --edit --boot " + dev)
	return b.String()
}

// template fills a command template: {vm} is the quoted VM name, {device}
// the Ironic boot device name.
func (n *Node) template(key, device string) string {
	return strings.NewReplacer("{vm}", quote(n.cfg.vmName), "{device}", device).Replace(n.cfg.cmds[key])
}

func (n *Node) run(ctx context.Context, cmd string) (string, error) {
	return n.h.run(ctx, n.cfg, cmd)
}

// PowerState returns the VM's power state.
func (n *Node) PowerState(ctx context.Context) (drivers.PowerState, error) {
	cmd := n.virsh("domstate")
	if n.cfg.virtType == VirtCommand {
		cmd = n.template(keyCmdState, "")
	}
	out, err := n.run(ctx, cmd)
	if err != nil {
		return "", err
	}
	s, err := parsePowerState(out)
	if err != nil {
		return "", fmt.Errorf("%w: ssh %s: %q: %w", drivers.ErrFailed, n.cfg.target(), cmd, err)
	}
	return s, nil
}

// SetPowerState powers the VM on (virsh start) or off hard (virsh destroy).
// It does nothing when the VM is already in that state.
func (n *Node) SetPowerState(ctx context.Context, s drivers.PowerState) error {
	var cmd string
	switch {
	case s == drivers.PowerOn && n.cfg.virtType == VirtCommand:
		cmd = n.template(keyCmdPowerOn, "")
	case s == drivers.PowerOff && n.cfg.virtType == VirtCommand:
		cmd = n.template(keyCmdPowerOff, "")
	case s == drivers.PowerOn:
		cmd = n.virsh("start")
	case s == drivers.PowerOff:
		cmd = n.virsh("destroy")
	default:
		return fmt.Errorf("%w: power state %q", drivers.ErrUnsupported, s)
	}
	cur, err := n.PowerState(ctx)
	if err != nil {
		return err
	}
	if cur == s {
		return nil
	}
	if _, err := n.run(ctx, cmd); err != nil {
		// virsh refuses to start a running domain: someone else may have
		// won the race, which is fine.
		if errors.Is(err, drivers.ErrFailed) {
			if now, serr := n.PowerState(ctx); serr == nil && now == s {
				return nil
			}
		}
		return err
	}
	return nil
}

// Reboot hard-resets a running VM (virsh reset, or ssh_cmd_reboot) and
// powers on a VM that is off. The VM is on afterwards. Without a reboot
// command it powers off, then on, except a node that must keep its power
// (ErrUnsupported).
func (n *Node) Reboot(ctx context.Context) error {
	cmd := n.virsh("reset")
	if n.cfg.virtType == VirtCommand {
		if n.cfg.cmds[keyCmdReboot] == "" {
			if n.keepPower {
				return fmt.Errorf("%w: reboot without powering off (disable_power_off): no %s", drivers.ErrUnsupported,
					keyCmdReboot)
			}
			if err := n.SetPowerState(ctx, drivers.PowerOff); err != nil {
				return err
			}
			return n.SetPowerState(ctx, drivers.PowerOn)
		}
		cmd = n.template(keyCmdReboot, "")
	}
	cur, err := n.PowerState(ctx)
	if err != nil {
		return err
	}
	if cur == drivers.PowerOff {
		return n.SetPowerState(ctx, drivers.PowerOn)
	}
	_, err = n.run(ctx, cmd)
	return err
}

// SoftPowerOff asks the guest to shut down (virsh shutdown, ACPI) and waits
// up to timeout (0: until ctx ends) for the VM to be off. Still on at the
// timeout is an error wrapping drivers.ErrFailed. Only the virsh kind
// supports it.
func (n *Node) SoftPowerOff(ctx context.Context, timeout time.Duration) error {
	if n.cfg.virtType != VirtVirsh {
		return fmt.Errorf("%w: soft power off with %s %q", drivers.ErrUnsupported, keyVirtType, n.cfg.virtType)
	}
	cur, err := n.PowerState(ctx)
	if err != nil || cur == drivers.PowerOff {
		return err
	}
	if _, err := n.run(ctx, n.virsh("shutdown")); err != nil {
		return err
	}
	wait := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for {
		if err := drivers.Sleep(wait, n.h.cfg.PollInterval); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("ssh %s: waiting for %q to shut down: %w", n.cfg.target(), n.cfg.vmName, ctx.Err())
			}
			return fmt.Errorf("%w: ssh %s: %q still powered on %s after virsh shutdown", drivers.ErrFailed,
				n.cfg.target(), n.cfg.vmName, timeout)
		}
		cur, err := n.PowerState(wait)
		if err == nil && cur == drivers.PowerOff {
			return nil
		}
		if err != nil && wait.Err() == nil {
			return err
		}
	}
}

// SoftReboot asks the guest to reboot (virsh reboot, ACPI), or powers on a
// VM that is off. It does not wait: a reboot cannot be observed from the
// domain state, so timeout is not used. Only the virsh kind supports it.
func (n *Node) SoftReboot(ctx context.Context, _ time.Duration) error {
	if n.cfg.virtType != VirtVirsh {
		return fmt.Errorf("%w: soft reboot with %s %q", drivers.ErrUnsupported, keyVirtType, n.cfg.virtType)
	}
	cur, err := n.PowerState(ctx)
	if err != nil {
		return err
	}
	if cur == drivers.PowerOff {
		return n.SetPowerState(ctx, drivers.PowerOn)
	}
	_, err = n.run(ctx, n.virsh("reboot"))
	return err
}

// SupportedBootDevices lists pxe, disk and cdrom. With the command kind it
// needs ssh_cmd_set_boot_device.
func (n *Node) SupportedBootDevices(context.Context) ([]drivers.BootDevice, error) {
	if n.cfg.virtType == VirtCommand && n.cfg.cmds[keyCmdSetBoot] == "" {
		return nil, fmt.Errorf("%w: %s is not set", drivers.ErrUnsupported, keyCmdSetBoot)
	}
	return []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM}, nil
}

// BootDevice returns the VM's first boot device. It is always persistent.
func (n *Node) BootDevice(ctx context.Context) (drivers.BootDevice, bool, error) {
	if n.cfg.virtType == VirtCommand {
		if n.cfg.cmds[keyCmdGetBoot] == "" {
			return "", false, fmt.Errorf("%w: %s is not set", drivers.ErrUnsupported, keyCmdGetBoot)
		}
		cmd := n.template(keyCmdGetBoot, "")
		out, err := n.run(ctx, cmd)
		if err != nil {
			return "", false, err
		}
		dev, ok := bootDeviceName(firstLine(out))
		if !ok {
			return "", false, fmt.Errorf("%w: ssh %s: %q printed %q, not a boot device (pxe, disk, cdrom)",
				drivers.ErrFailed, n.cfg.target(), cmd, truncate(out, 80))
		}
		return dev, true, nil
	}
	cmd := n.virsh("dumpxml")
	out, err := n.run(ctx, cmd)
	if err != nil {
		return "", false, err
	}
	dev, err := parseDomainBootDevice([]byte(out))
	if err != nil {
		return "", false, fmt.Errorf("%w: ssh %s: %q: %w", drivers.ErrFailed, n.cfg.target(), cmd, err)
	}
	return dev, true, nil
}

// SetBootDevice makes dev the VM's first boot device, in its persistent
// definition (it takes effect at the next power on). persistent=false is
// accepted and treated as persistent: libvirt has no one-time boot.
func (n *Node) SetBootDevice(ctx context.Context, dev drivers.BootDevice, _ bool) error {
	libvirtDev, ok := libvirtBootDevice(dev)
	if !ok {
		return fmt.Errorf("%w: boot device %q (supported: pxe, disk, cdrom)", drivers.ErrUnsupported, dev)
	}
	cmd := n.virtXMLBoot(libvirtDev)
	if n.cfg.virtType == VirtCommand {
		if n.cfg.cmds[keyCmdSetBoot] == "" {
			return fmt.Errorf("%w: %s is not set", drivers.ErrUnsupported, keyCmdSetBoot)
		}
		cmd = n.template(keyCmdSetBoot, string(dev))
	}
	_, err := n.run(ctx, cmd)
	return err
}

// libvirtBootDevice names dev as virt-xml --boot does.
func libvirtBootDevice(dev drivers.BootDevice) (string, bool) {
	switch dev {
	case drivers.BootPXE:
		return "network", true
	case drivers.BootDisk:
		return "hd", true
	case drivers.BootCDROM:
		return "cdrom", true
	}
	return "", false
}

// bootDeviceName reads a boot device printed by libvirt or by a template.
func bootDeviceName(s string) (drivers.BootDevice, bool) {
	switch strings.ToLower(s) {
	case "network", "pxe":
		return drivers.BootPXE, true
	case "hd", "disk":
		return drivers.BootDisk, true
	case "cdrom":
		return drivers.BootCDROM, true
	}
	return "", false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// parsePowerState reads virsh domstate output, or what a ssh_cmd_power_state
// template prints.
func parsePowerState(out string) (drivers.PowerState, error) {
	switch strings.ToLower(firstLine(out)) {
	// virsh domstate: a domain that holds resources is on.
	case "running", "idle", "blocked", "paused", "in shutdown", "pmsuspended",
		"on", "power on", "poweredon":
		return drivers.PowerOn, nil
	case "shut off", "shutoff", "crashed", "off", "power off", "poweredoff", "stopped":
		return drivers.PowerOff, nil
	}
	return "", fmt.Errorf("unrecognized power state %q", truncate(firstLine(out), 80))
}

// domainXML is the part of libvirt's domain XML that says how it boots.
type domainXML struct {
	OS struct {
		Boot []struct {
			Dev string `xml:"dev,attr"`
		} `xml:"boot"`
	} `xml:"os"`
	Devices struct {
		Disks []struct {
			Device string     `xml:"device,attr"`
			Boot   *bootOrder `xml:"boot"`
		} `xml:"disk"`
		Interfaces []struct {
			Boot *bootOrder `xml:"boot"`
		} `xml:"interface"`
	} `xml:"devices"`
}

type bootOrder struct {
	Order int `xml:"order,attr"`
}

// parseDomainBootDevice returns the first boot device of a domain: the first
// <os><boot dev=.../>, or else the device with the lowest per-device boot
// order.
func parseDomainBootDevice(x []byte) (drivers.BootDevice, error) {
	var d domainXML
	if err := xml.Unmarshal(x, &d); err != nil {
		return "", fmt.Errorf("parse domain XML: %w", err)
	}
	if len(d.OS.Boot) > 0 {
		dev, ok := bootDeviceName(d.OS.Boot[0].Dev)
		if !ok {
			return "", fmt.Errorf("first boot device %q is not pxe, disk or cdrom", d.OS.Boot[0].Dev)
		}
		return dev, nil
	}
	var best drivers.BootDevice
	bestOrder := 0
	consider := func(b *bootOrder, dev drivers.BootDevice) {
		if b != nil && b.Order > 0 && (bestOrder == 0 || b.Order < bestOrder) {
			best, bestOrder = dev, b.Order
		}
	}
	for _, disk := range d.Devices.Disks {
		switch disk.Device {
		case "cdrom":
			consider(disk.Boot, drivers.BootCDROM)
		case "disk", "":
			consider(disk.Boot, drivers.BootDisk)
		}
	}
	for _, iface := range d.Devices.Interfaces {
		consider(iface.Boot, drivers.BootPXE)
	}
	if best == "" {
		return "", errors.New("domain XML names no boot device")
	}
	return best, nil
}
