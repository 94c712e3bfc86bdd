// Package inventory is the hardware inventory document in
// ironic-python-agent's (IPA) format: what a ramdisk agent collects on a
// machine, what ferric stores for a node and what GET
// /v1/nodes/{id}/inventory returns to clients (the baremetal CLI,
// gophercloud, Metal3's baremetal-operator).
//
// The package is pure: Go types with IPA's JSON names and JSON types, the
// document's JSON Schema (embedded, versioned), a validator driven by that
// schema, and the facts Ironic derives from an inventory (Summarize) and
// adds to its plugin data (Complete). It reads no files and talks to no
// hardware: collection is the agent's job (agent/inspect).
package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Document is what an agent reports and what the inventory endpoint
// returns: {"inventory": ..., "plugin_data": ...}.
type Document struct {
	Inventory  Inventory  `json:"inventory"`
	PluginData PluginData `json:"plugin_data"`
}

// Inventory is IPA's hardware inventory (hardware.py list_hardware_info).
// Every member IPA sends is here, with IPA's JSON name and JSON type.
//
// A fact nobody collected is left out of the JSON: a nil Interfaces or
// Disks, a zero CPU, Memory or Boot. An out-of-band inspection (a BMC
// knows the system's vendor and serial number and its own address, not
// the NICs, CPUs, memory or disks the host sees) reports only what it
// knows; an in-band one sends every list, [] when it found nothing.
type Inventory struct {
	// Interfaces are the machine's network interfaces, each with a MAC
	// address; Ironic requires at least one when the member is present.
	// nil (unknown) is left out; an empty slice is encoded as [].
	Interfaces []Interface `json:"interfaces,omitzero"`
	// CPU is left out when nothing is known of it (CPU.IsZero).
	CPU CPU `json:"cpu,omitzero"`
	// Disks are the block devices an image could go to: [] when there is
	// none, left out when unknown (nil).
	Disks []Disk `json:"disks,omitzero"`
	// Memory is left out when unknown (zero).
	Memory Memory `json:"memory,omitzero"`
	// BMCAddress and BMCV6Address are the BMC's addresses, null when
	// unknown (IPA asks ipmitool; ferric's agent does not).
	BMCAddress   NullString `json:"bmc_address"`
	BMCV6Address NullString `json:"bmc_v6address"`
	// BMCMAC is sent only when known.
	BMCMAC       string       `json:"bmc_mac,omitempty"`
	SystemVendor SystemVendor `json:"system_vendor"`
	// Boot is left out when unknown (zero): out of band, nothing booted.
	Boot     Boot   `json:"boot,omitzero"`
	Hostname string `json:"hostname"`
}

// MarshalJSON encodes a known CPU's nil flags as [] (IPA always sends the
// list).
func (inv Inventory) MarshalJSON() ([]byte, error) {
	type plain Inventory
	p := plain(inv)
	if p.CPU.Flags == nil && !p.CPU.IsZero() {
		p.CPU.Flags = []string{}
	}
	return json.Marshal(p)
}

// Interface is a network interface (IPA's NetworkInterface).
type Interface struct {
	Name        string     `json:"name"`
	MACAddress  string     `json:"mac_address"`
	IPv4Address NullString `json:"ipv4_address"`
	// IPv6Address has no zone suffix ("fe80::1", not "fe80::1%eth0";
	// Ironic strips it anyway).
	IPv6Address NullString `json:"ipv6_address"`
	HasCarrier  bool       `json:"has_carrier"`
	// LLDP is the raw LLDP TLVs received on the interface (IPA's
	// collect_lldp); null when not collected.
	LLDP []LLDPTLV `json:"lldp"`
	// Vendor and Product are PCI IDs as sysfs prints them: "0x8086",
	// "0x1572".
	Vendor      NullString `json:"vendor"`
	Product     NullString `json:"product"`
	ClientID    NullString `json:"client_id"`
	BIOSDevName NullString `json:"biosdevname"`
	// SpeedMbps is the link speed; null when unknown (no link).
	SpeedMbps NullInt `json:"speed_mbps"`
	// PCIAddress is the PCI function of the NIC: "0000:3b:00.0".
	PCIAddress NullString `json:"pci_address"`
	// Driver is the kernel driver: "i40e", "virtio_net".
	Driver NullString `json:"driver"`
}

// LLDPTLV is one LLDP TLV, encoded as IPA does: [type, "hex value"].
type LLDPTLV struct {
	Type  int
	Value string // hex
}

// MarshalJSON encodes the TLV as [type, value].
func (t LLDPTLV) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{t.Type, t.Value})
}

// UnmarshalJSON decodes [type, value].
func (t *LLDPTLV) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("lldp tlv: %w", err)
	}
	if len(pair) != 2 {
		return fmt.Errorf("lldp tlv: %d elements, want 2", len(pair))
	}
	if err := json.Unmarshal(pair[0], &t.Type); err != nil {
		return fmt.Errorf("lldp tlv type: %w", err)
	}
	if err := json.Unmarshal(pair[1], &t.Value); err != nil {
		return fmt.Errorf("lldp tlv value: %w", err)
	}
	return nil
}

// CPU summarises the processors (IPA's CPU, from lscpu).
type CPU struct {
	ModelName string `json:"model_name"`
	// Frequency is the maximum frequency in MHz as a string ("2400.0000"),
	// "" when unknown. It is a string in IPA's format: clients parse it.
	Frequency string `json:"frequency"`
	// Count is the number of logical CPUs.
	Count        int      `json:"count"`
	Architecture string   `json:"architecture"`
	Flags        []string `json:"flags"`
	SocketCount  int      `json:"socket_count"`
}

// IsZero reports whether nothing is known of the CPUs; the inventory then
// leaves its cpu member out.
func (c CPU) IsZero() bool {
	return c.ModelName == "" && c.Frequency == "" && c.Count == 0 && c.Architecture == "" && len(c.Flags) == 0 &&
		c.SocketCount == 0
}

// Memory is the machine's RAM.
type Memory struct {
	// Total is the memory the kernel manages, in bytes (MemTotal).
	Total int64 `json:"total"`
	// PhysicalMB is the installed memory in MiB (the sum of the DIMMs);
	// null when unknown. Ironic's memory_mb and Metal3's RAM come from it.
	PhysicalMB NullInt `json:"physical_mb"`
}

// Disk is a block device (IPA's BlockDevice).
type Disk struct {
	Name               string     `json:"name"` // "/dev/sda"
	Model              string     `json:"model"`
	Size               int64      `json:"size"` // bytes
	Rotational         bool       `json:"rotational"`
	WWN                NullString `json:"wwn"`
	Serial             NullString `json:"serial"`
	Vendor             NullString `json:"vendor"`
	WWNWithExtension   NullString `json:"wwn_with_extension"`
	WWNVendorExtension NullString `json:"wwn_vendor_extension"`
	// HCTL is the SCSI address ("0:0:0:0"), null for non-SCSI disks.
	HCTL NullString `json:"hctl"`
	// ByPath is the /dev/disk/by-path link, null when udev made none.
	ByPath          NullString `json:"by_path"`
	LogicalSectors  NullInt    `json:"logical_sectors"`  // logical block size, bytes
	PhysicalSectors NullInt    `json:"physical_sectors"` // physical block size, bytes
	// Tran is the transport: "sata", "sas", "nvme", "virtio", "usb", ...
	Tran NullString `json:"tran"`
}

// SystemVendor identifies the machine (SMBIOS system information).
type SystemVendor struct {
	ProductName  string         `json:"product_name"`
	SerialNumber string         `json:"serial_number"`
	Manufacturer string         `json:"manufacturer"`
	Firmware     SystemFirmware `json:"firmware"`
}

// SystemFirmware is the BIOS or UEFI firmware.
type SystemFirmware struct {
	Vendor    string `json:"vendor"`
	Version   string `json:"version"`
	BuildDate string `json:"build_date"`
}

// Boot modes (Boot.CurrentBootMode).
const (
	BootModeUEFI = "uefi"
	BootModeBIOS = "bios"
)

// Boot says how the ramdisk was booted.
type Boot struct {
	// CurrentBootMode is BootModeUEFI or BootModeBIOS.
	CurrentBootMode string `json:"current_boot_mode"`
	// PXEInterface is the BOOTIF= value of the kernel command line as IPA
	// sends it ("01-52-54-00-12-34-56"; a plain MAC is accepted too), null
	// when the machine did not network-boot with one.
	PXEInterface NullString `json:"pxe_interface"`
}

// PluginData is everything in the document besides the inventory: what
// IPA's collectors add (root_disk, boot_interface, pci_devices,
// configuration) and what Ironic's inspection hooks add
// (all_interfaces, valid_interfaces, macs from validate-interfaces;
// local_gb from root-device; parsed_lldp from parse-lldp). Complete fills
// in the derived members.
type PluginData struct {
	// RootDisk is the disk a deploy without root device hints would use
	// (IPA's guess_root_disk); absent when no disk is large enough.
	RootDisk *Disk `json:"root_disk,omitempty"`
	// BootInterface is Boot.PXEInterface again (IPA's collect_default).
	BootInterface NullString `json:"boot_interface"`
	// Configuration names the collectors and hardware managers that ran.
	Configuration *Configuration `json:"configuration,omitempty"`
	// PCIDevices is every PCI function (IPA's pci-devices collector).
	PCIDevices []PCIDevice `json:"pci_devices,omitempty"`
	// AllInterfaces is every interface with a valid MAC, by name, with
	// pxe_enabled (Ironic's validate-interfaces hook). Metal3 reads
	// pxe_enabled from it.
	AllInterfaces map[string]ProcessedInterface `json:"all_interfaces,omitempty"`
	// ValidInterfaces is the subset Ironic would create ports for with
	// add_ports=pxe: the PXE interface when known, else all but loopback.
	ValidInterfaces map[string]ProcessedInterface `json:"valid_interfaces,omitempty"`
	// MACs are the MAC addresses of ValidInterfaces.
	MACs []string `json:"macs,omitempty"`
	// LocalGB is the root disk's size in GiB less 1 GiB for partitioning
	// (Ironic's root-device hook); 0 without a root disk.
	LocalGB int `json:"local_gb"`
	// ParsedLLDP is LLDP decoded per interface (Ironic's parse-lldp hook:
	// switch_chassis_id, switch_port_id, switch_system_name, ...).
	// Metal3 reads it.
	ParsedLLDP map[string]map[string]any `json:"parsed_lldp,omitempty"`
	// LLDPRaw is the raw LLDP TLVs by interface name.
	LLDPRaw map[string][]LLDPTLV `json:"lldp_raw,omitempty"`
	// Error is a ramdisk-side failure; Ironic's ramdisk-error hook fails
	// the inspection when it is set.
	Error string `json:"error,omitempty"`
	// BMC is what an out-of-band inspection learnt of the BMC itself
	// (IPA sends no such member); nil in band.
	BMC *BMC `json:"bmc,omitempty"`
}

// BMC describes the baseboard management controller an out-of-band
// inspection talked to: its identity and firmware as IPMI's Get Device ID
// reports them, and the facts it could not tell.
type BMC struct {
	// FirmwareVersion is the BMC's firmware revision: "1.02" (major,
	// then the minor revision in two digits, as ipmitool prints it). It
	// is not the system firmware (system_vendor.firmware, SMBIOS's BIOS
	// information), which a BMC does not report over IPMI.
	FirmwareVersion string `json:"firmware_version,omitempty"`
	// IPMIVersion is the IPMI version the BMC implements: "2.0".
	IPMIVersion string `json:"ipmi_version,omitempty"`
	// ManufacturerID is the BMC manufacturer's IANA enterprise number
	// (7154 for the IPMI forum), 0 when unspecified.
	ManufacturerID int `json:"manufacturer_id,omitempty"`
	// ProductID is the manufacturer's product number, 0 when
	// unspecified.
	ProductID int `json:"product_id,omitempty"`
	// Unavailable names each group of facts the BMC did not report
	// ("device_id", "fru", "lan", "lan6") with the reason, in one line:
	// a completion code, a malformed FRU, a missing privilege.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// ProcessedInterface is an interface as Ironic's validate-interfaces hook
// records it: the inventory's fields plus whether the machine PXE-booted
// from it.
type ProcessedInterface struct {
	Interface
	PXEEnabled bool `json:"pxe_enabled"`
}

// Configuration is IPA's plugin_data.configuration.
type Configuration struct {
	Collectors []string          `json:"collectors"`
	Managers   []HardwareManager `json:"managers"`
}

// HardwareManager names a ramdisk-side hardware manager and its version.
type HardwareManager struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// PCIDevice is one PCI function as IPA's pci-devices collector reports it:
// sysfs values in hex without "0x".
type PCIDevice struct {
	VendorID  string `json:"vendor_id"`  // "8086"
	ProductID string `json:"product_id"` // "1572"
	Class     string `json:"class"`      // "020000"
	// Revision is null when sysfs has no revision file.
	Revision NullString `json:"revision"` // "02"
	Bus      string     `json:"bus"`      // "0000:3b:00.0"
	// NUMANodeID is sysfs's numa_node ("0", "-1" without NUMA), null when
	// sysfs has none.
	NUMANodeID NullString `json:"numa_node_id"`
}

// NullString is a string that IPA sends as null when unknown: "" is
// encoded as null, and null decodes as "".
type NullString string

// MarshalJSON encodes "" as null.
func (s NullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

// UnmarshalJSON decodes null as "".
func (s *NullString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = NullString(v)
	return nil
}

// NullInt is an integer that IPA sends as null when unknown: 0 is encoded
// as null, and null decodes as 0.
type NullInt int64

// MarshalJSON encodes 0 as null.
func (n NullInt) MarshalJSON() ([]byte, error) {
	if n == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(int64(n))
}

// UnmarshalJSON decodes null as 0.
func (n *NullInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = NullInt(v)
	return nil
}
