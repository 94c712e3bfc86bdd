// Package inspect collects a machine's hardware inventory in
// ironic-python-agent's format (drivers/inventory) from the files Linux
// exposes: /proc (cpuinfo, meminfo, cmdline), /sys (devices, block, class
// net and dmi, bus/pci, firmware/dmi/tables/DMI, firmware/efi), /dev
// (disk/by-path) and udev's database (/run/udev/data) when there is one.
// It runs no command and needs no library: the roots are configurable, so
// tests read fixture trees.
//
// What IPA gets from lshw, lsblk and ipmitool is read from the same
// kernel sources: physical memory from SMBIOS type 17, disk identities
// from sysfs and udev. The BMC address is not collected (null).
//
// Why no library: jaypipes/ghw reports in its own model (every value would
// be mapped back to IPA's, and what IPA takes from lsblk, udev and SMBIOS
// type 17 checked again), is configured through a chroot or snapshot and
// GHW_* environment variables, and brings pcidb (a pci.ids database it
// can fetch from the network) and more into a binary that must stay
// small; u-root's pkg/pci reads a fixed /sys/bus/pci/devices and embeds
// pci.ids names the format does not carry. The files IPA's values come
// from are a few hundred lines of reading, tested on fixture trees.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// ManagerName names ferric's agent in plugin_data.configuration.managers
// (where IPA names its hardware managers).
const ManagerName = "ferric-agent"

// Config says where Collect reads. Empty roots take the defaults.
type Config struct {
	SysfsRoot string // "/sys"
	ProcRoot  string // "/proc"
	DevRoot   string // "/dev": only disk/by-path is read; disks are named "/dev/X" whatever the root
	RunRoot   string // "/run": udev's database is RunRoot/udev/data
	// Arch is reported as cpu.architecture; "": the kernel's
	// (ProcRoot/sys/kernel/arch), else the agent's GOARCH in uname's words.
	Arch string
	// Addresses returns an interface's IP addresses; nil: the running
	// system's (net.InterfaceByName).
	Addresses func(name string) ([]netip.Addr, error)
	// Version is the agent's version, reported with ManagerName.
	Version string
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.SysfsRoot, "/sys")
	def(&c.ProcRoot, "/proc")
	def(&c.DevRoot, "/dev")
	def(&c.RunRoot, "/run")
	if c.Addresses == nil {
		c.Addresses = systemAddresses
	}
	return c
}

// Collect reads the inventory and returns the document the inspect
// command reports: the inventory, the PCI devices and the plugin data
// Ironic derives (inventory.Complete). It fails when a source every Linux
// has (cpuinfo, meminfo, sysfs's block and net classes) cannot be read;
// optional sources (SMBIOS, udev, cpufreq) are skipped when absent.
func Collect(ctx context.Context, cfg Config) (inventory.Document, error) {
	cfg = cfg.withDefaults()
	var (
		doc inventory.Document
		err error
	)
	inv := &doc.Inventory
	steps := []struct {
		what string
		run  func() error
	}{
		{"cpu", func() (err error) { inv.CPU, err = collectCPU(cfg); return err }},
		{"memory", func() (err error) { inv.Memory, err = collectMemory(cfg); return err }},
		{"disks", func() (err error) { inv.Disks, err = collectDisks(cfg); return err }},
		{"network interfaces", func() (err error) { inv.Interfaces, err = collectInterfaces(cfg); return err }},
		{"pci devices", func() (err error) { doc.PluginData.PCIDevices, err = collectPCI(cfg); return err }},
	}
	for _, s := range steps {
		if err = ctx.Err(); err != nil {
			return doc, fmt.Errorf("inspect: %w", err)
		}
		if err = s.run(); err != nil {
			return doc, fmt.Errorf("inspect %s: %w", s.what, err)
		}
	}
	inv.SystemVendor = collectSystemVendor(cfg)
	inv.Boot = collectBoot(cfg)
	inv.Hostname = collectHostname(cfg)
	doc.PluginData.Configuration = &inventory.Configuration{
		Collectors: []string{"default", "pci-devices"},
		Managers:   []inventory.HardwareManager{{Name: ManagerName, Version: cfg.Version}},
	}
	inventory.Complete(&doc)
	return doc, nil
}

// readString reads a small sysfs or procfs file, trimmed; "" when it
// cannot be read.
func readString(path ...string) string {
	b, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// linkBase is the last element of a symlink's target ("i40e" for
// device/driver); "" when it is not a link.
func linkBase(path ...string) string {
	t, err := os.Readlink(filepath.Join(path...))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

func exists(path ...string) bool {
	_, err := os.Lstat(filepath.Join(path...))
	return err == nil
}

// unameArch is uname -m for the agent's own architecture.
func unameArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armv7l"
	}
	return runtime.GOARCH // ppc64le, s390x, riscv64, loong64 are uname's names too
}

// systemAddresses lists an interface's addresses on the running system.
func systemAddresses(name string) ([]netip.Addr, error) {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", name, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// errNoData is returned when a required source is empty.
var errNoData = errors.New("no data")
