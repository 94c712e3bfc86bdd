package inventory

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// Sizes Ironic's inspection works with.
const (
	MiB = 1 << 20
	GiB = 1 << 30
	// MinRootDiskSize is the smallest disk IPA picks as the root disk when
	// no root device hints are given (utils.guess_root_disk).
	MinRootDiskSize = 4 * GiB
)

// Summary is what Ironic's inspection derives from an inventory: the node
// properties (cpus, memory_mb, local_gb, cpu_arch, capabilities'
// boot_mode) and the NICs ports are made from.
type Summary struct {
	// CPUs is cpu.count (the cpus hook).
	CPUs int `json:"cpus"`
	// MemoryMB is memory.physical_mb (the memory hook), or memory.total
	// in whole MiB when physical_mb is unknown.
	MemoryMB int `json:"memory_mb"`
	// LocalGB is the root disk's size in whole GiB less 1 GiB kept for
	// partitioning (the root-device hook with disk_partitioning_spacing,
	// its default); 0 without a root disk. The root disk is
	// plugin_data.root_disk, else GuessRootDisk's choice. Root device
	// hints (a node property) are not applied here.
	LocalGB int `json:"local_gb"`
	// CPUArch is cpu.architecture (the architecture hook).
	CPUArch string `json:"cpu_arch"`
	// BootMode is boot.current_boot_mode, BootModeUEFI or BootModeBIOS,
	// "" when the inventory says neither (the boot-mode hook).
	BootMode string `json:"boot_mode"`
	// NICs are the interfaces Ironic's validate-interfaces hook keeps
	// (all_interfaces): a name and a valid Ethernet MAC, not loopback; in
	// inventory order. Which of them get ports (add_ports) is the
	// caller's policy.
	NICs []NIC `json:"nics"`
}

// NIC is a network interface as ports are made from it.
type NIC struct {
	Name string `json:"name"`
	// MAC is normalised: lower case, colon-separated.
	MAC string `json:"mac"`
	// PXE: the machine network-booted from this NIC (its MAC is
	// boot.pxe_interface).
	PXE        bool   `json:"pxe"`
	HasCarrier bool   `json:"has_carrier"`
	IPv4       string `json:"ipv4,omitempty"`
	PCIAddress string `json:"pci_address,omitempty"`
}

// Summarize derives the facts Ironic's default and common inspection
// hooks take from a document. It never fails: missing facts, and facts
// of the wrong JSON type (which Decode leaves zero), are unknown.
func Summarize(doc Document) Summary {
	inv := doc.Inventory
	s := Summary{
		CPUs:     inv.CPU.Count,
		MemoryMB: int(inv.Memory.PhysicalMB),
		CPUArch:  inv.CPU.Architecture,
		LocalGB:  localGB(rootDisk(doc)),
	}
	if s.MemoryMB <= 0 {
		s.MemoryMB = int(max(inv.Memory.Total, 0) / MiB)
	}
	if m := inv.Boot.CurrentBootMode; m == BootModeUEFI || m == BootModeBIOS {
		s.BootMode = m
	}
	pxe := pxeMAC(string(inv.Boot.PXEInterface))
	for _, iface := range inv.Interfaces {
		mac, ok := kept(iface)
		if !ok {
			continue
		}
		s.NICs = append(s.NICs, NIC{
			Name:       iface.Name,
			MAC:        mac,
			PXE:        pxe != "" && mac == pxe,
			HasCarrier: iface.HasCarrier,
			IPv4:       string(iface.IPv4Address),
			PCIAddress: string(iface.PCIAddress),
		})
	}
	return s
}

// Complete fills in the plugin data that IPA's default collector and
// Ironic's default inspection hooks derive from the inventory, keeping
// what is already set: root_disk (GuessRootDisk) and boot_interface;
// all_interfaces, valid_interfaces (as with add_ports=pxe: only the PXE
// interface when it is known) and macs; local_gb.
func Complete(doc *Document) {
	inv, pd := &doc.Inventory, &doc.PluginData
	if pd.RootDisk == nil {
		if d, ok := GuessRootDisk(inv.Disks); ok {
			pd.RootDisk = &d
		}
	}
	if pd.BootInterface == "" {
		pd.BootInterface = inv.Boot.PXEInterface
	}
	if pd.AllInterfaces == nil {
		pxe := pxeMAC(string(inv.Boot.PXEInterface))
		all := map[string]ProcessedInterface{}
		valid := map[string]ProcessedInterface{}
		var macs []string
		for _, iface := range inv.Interfaces {
			mac, ok := kept(iface)
			if !ok {
				continue
			}
			v6, _, _ := strings.Cut(string(iface.IPv6Address), "%")
			iface.IPv6Address = NullString(v6)
			p := ProcessedInterface{Interface: iface, PXEEnabled: mac == pxe}
			all[iface.Name] = p
			if pxe != "" && !p.PXEEnabled {
				continue
			}
			valid[iface.Name] = p
			macs = append(macs, iface.MACAddress)
		}
		pd.AllInterfaces, pd.ValidInterfaces, pd.MACs = all, valid, macs
	}
	if pd.LocalGB == 0 {
		pd.LocalGB = localGB(pd.RootDisk)
	}
}

// GuessRootDisk picks the disk IPA deploys to when no root device hints
// are given: the smallest disk of at least MinRootDiskSize, by name among
// equals (utils.guess_root_disk). ok is false when no disk is that large.
func GuessRootDisk(disks []Disk) (root Disk, ok bool) {
	sorted := slices.Clone(disks)
	slices.SortStableFunc(sorted, func(a, b Disk) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), strings.Compare(a.Name, b.Name))
	})
	for _, d := range sorted {
		if d.Size >= MinRootDiskSize {
			return d, true
		}
	}
	return Disk{}, false
}

func rootDisk(doc Document) *Disk {
	if doc.PluginData.RootDisk != nil {
		return doc.PluginData.RootDisk
	}
	if d, ok := GuessRootDisk(doc.Inventory.Disks); ok {
		return &d
	}
	return nil
}

// localGB is Ironic's root-device hook: whole GiB, less one for
// partitioning unless that leaves nothing.
func localGB(root *Disk) int {
	if root == nil {
		return 0
	}
	gb := int(root.Size / GiB)
	if gb > 0 {
		gb--
	}
	return gb
}

// kept says whether Ironic's validate-interfaces hook keeps an interface
// (a name, a valid Ethernet MAC, not loopback) and returns its normalised
// MAC.
func kept(iface Interface) (mac string, ok bool) {
	mac = normalizeMAC(iface.MACAddress)
	if iface.Name == "" || iface.Name == "lo" || !isEthernetMAC(mac) {
		return "", false
	}
	for _, ip := range []NullString{iface.IPv4Address, iface.IPv6Address} {
		host, _, _ := strings.Cut(string(ip), "%")
		if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
			return "", false
		}
	}
	return mac, true
}

// isEthernetMAC: a normalised 48-bit MAC, "aa:bb:cc:dd:ee:ff" (oslo's
// is_valid_mac).
func isEthernetMAC(mac string) bool {
	if len(mac) != 17 {
		return false
	}
	for i := 0; i < len(mac); i++ {
		c := mac[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func normalizeMAC(mac string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(mac)), "-", ":")
}

// pxeMAC reads boot.pxe_interface: a MAC, or BOOTIF's pxelinux form
// "01-aa-bb-cc-dd-ee-ff" (hardware type 01, Ethernet), as Ironic's
// get_pxe_mac does.
func pxeMAC(s string) string {
	if parts := strings.Split(s, "-"); len(parts) == 7 {
		s = strings.Join(parts[1:], ":")
	}
	return normalizeMAC(s)
}
