package inspect

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// collectInterfaces lists the physical network interfaces (those with a
// device link in sysfs: no loopback, bridges, bonds or tunnels) that have
// a MAC address, sorted by name.
//
// A virtio NIC's device link points at the virtio device, whose parent is
// the PCI function: pci_address, vendor and product are the PCI
// function's (0000:00:03.0, 0x1af4, 0x1000) where IPA reports the virtio
// device's name and IDs ("virtio0", 0x1af4, 0x0001). For other NICs they
// are the same. A NIC on no PCI function (USB) has no pci_address.
func collectInterfaces(cfg Config) ([]inventory.Interface, error) {
	dir := filepath.Join(cfg.SysfsRoot, "class", "net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	out := []inventory.Interface{}
	for _, e := range entries {
		name := e.Name()
		if name == "lo" || !exists(dir, name, "device") {
			continue
		}
		mac := strings.ToLower(readString(dir, name, "address"))
		if mac == "" || strings.Trim(mac, "0:") == "" {
			continue
		}
		iface := inventory.Interface{
			Name:       name,
			MACAddress: mac,
			HasCarrier: readString(dir, name, "carrier") == "1", // unreadable while the link is down
			Driver:     inventory.NullString(linkBase(dir, name, "device", "driver")),
		}
		if speed, err := strconv.ParseInt(readString(dir, name, "speed"), 10, 64); err == nil && speed > 0 {
			iface.SpeedMbps = inventory.NullInt(speed)
		}
		dev, err := filepath.EvalSymlinks(filepath.Join(dir, name, "device"))
		if err == nil {
			ids := dev
			if pci := pciFunction(dev); pci != "" {
				ids = pci
				iface.PCIAddress = inventory.NullString(filepath.Base(pci))
			}
			iface.Vendor = inventory.NullString(readString(ids, "vendor"))
			iface.Product = inventory.NullString(readString(ids, "device"))
		}
		if addrs, err := cfg.Addresses(name); err == nil {
			v4, v6 := pickAddresses(addrs)
			iface.IPv4Address, iface.IPv6Address = inventory.NullString(v4), inventory.NullString(v6)
		}
		out = append(out, iface)
	}
	return out, nil
}

// pciFunction is the PCI function directory of a device: the device
// itself, or the parent of a virtio device; "" for devices on other buses.
func pciFunction(dev string) string {
	if isPCIAddress(filepath.Base(dev)) {
		return dev
	}
	if parent := filepath.Dir(dev); strings.HasPrefix(filepath.Base(dev), "virtio") && isPCIAddress(filepath.Base(parent)) {
		return parent
	}
	return ""
}

// isPCIAddress: "0000:3b:00.0" (domain:bus:device.function, hex).
func isPCIAddress(s string) bool {
	domain, rest, ok := strings.Cut(s, ":")
	if !ok || len(domain) < 4 || len(rest) != len("3b:00.0") || rest[2] != ':' || rest[5] != '.' {
		return false
	}
	for _, part := range []string{domain, rest[:2], rest[3:5], rest[6:]} {
		if _, err := strconv.ParseUint(part, 16, 32); err != nil {
			return false
		}
	}
	return true
}

// pickAddresses chooses the addresses IPA reports: the first IPv4 one and
// an IPv6 one, global before link-local, without a zone.
func pickAddresses(addrs []netip.Addr) (v4, v6 string) {
	var linkLocal6 string
	for _, a := range addrs {
		switch {
		case a.Is4() && v4 == "":
			v4 = a.String()
		case a.Is6() && a.IsLinkLocalUnicast() && linkLocal6 == "":
			linkLocal6 = a.WithZone("").String()
		case a.Is6() && !a.IsLinkLocalUnicast() && v6 == "":
			v6 = a.WithZone("").String()
		}
	}
	if v6 == "" {
		v6 = linkLocal6
	}
	return v4, v6
}
