package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// collectPCI lists every PCI function as IPA's pci-devices collector
// does: vendor, device and class without "0x", the revision (null when
// sysfs has none) and numa_node as sysfs prints it ("-1" without NUMA;
// null when absent). Sorted by address.
func collectPCI(cfg Config) ([]inventory.PCIDevice, error) {
	dir := filepath.Join(cfg.SysfsRoot, "bus", "pci", "devices")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return []inventory.PCIDevice{}, nil // no PCI bus (some ARM boards)
	}
	if err != nil {
		return nil, fmt.Errorf("list PCI devices: %w", err)
	}
	hex := func(path ...string) string {
		_, v, ok := strings.Cut(readString(path...), "x")
		if !ok {
			return ""
		}
		return v
	}
	out := []inventory.PCIDevice{}
	for _, e := range entries {
		bus := e.Name()
		d := inventory.PCIDevice{
			VendorID:  hex(dir, bus, "vendor"),
			ProductID: hex(dir, bus, "device"),
			Class:     hex(dir, bus, "class"),
			Revision:  inventory.NullString(hex(dir, bus, "revision")),
			Bus:       bus,
		}
		if d.VendorID == "" || d.ProductID == "" || d.Class == "" {
			continue // IPA skips what it cannot read
		}
		if exists(dir, bus, "numa_node") {
			d.NUMANodeID = inventory.NullString(readString(dir, bus, "numa_node"))
		}
		out = append(out, d)
	}
	return out, nil
}
