package inventory

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetalintrospection/v1/introspection"
)

// sampleDocument is a document as ferric's agent produces it, with every
// member set.
func sampleDocument() Document {
	doc := Document{
		Inventory: Inventory{
			Interfaces: []Interface{
				{Name: "eno1", MACAddress: "3c:ec:ef:00:00:01", IPv4Address: "192.0.2.10", IPv6Address: "2001:db8::10",
					HasCarrier: true, Vendor: "0x8086", Product: "0x1572", SpeedMbps: 10000, PCIAddress: "0000:3b:00.0", Driver: "i40e",
					LLDP: []LLDPTLV{{Type: 1, Value: "04aabbccddeeff"}}},
				{Name: "eno2", MACAddress: "3c:ec:ef:00:00:02", Vendor: "0x8086", Product: "0x1572", PCIAddress: "0000:3b:00.1", Driver: "i40e"},
			},
			CPU: CPU{ModelName: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Frequency: "3200.0000", Count: 128,
				Architecture: "x86_64", Flags: []string{"fpu", "vme", "avx512f"}, SocketCount: 2},
			Disks: []Disk{
				{Name: "/dev/nvme0n1", Model: "SAMSUNG MZQL21T9HCJR-00A07", Size: 1920383410176, Serial: "S64GNE0R100001",
					WWN: "eui.36344830526000010025384500000001", LogicalSectors: 512, PhysicalSectors: 512, Tran: "nvme",
					ByPath: "/dev/disk/by-path/pci-0000:c1:00.0-nvme-1"},
				{Name: "/dev/sda", Model: "MTFDDAK480TDS", Size: 480103981056, Vendor: "ATA", HCTL: "0:0:0:0",
					WWN: "0x500a07512a3b4c5d", WWNWithExtension: "0x500a07512a3b4c5d", Rotational: false, Tran: "sata",
					LogicalSectors: 512, PhysicalSectors: 4096},
			},
			Memory:     Memory{Total: 540805431296, PhysicalMB: 524288},
			BMCAddress: "192.0.2.200",
			SystemVendor: SystemVendor{ProductName: "PowerEdge R650", SerialNumber: "ABC1234", Manufacturer: "Dell Inc.",
				Firmware: SystemFirmware{Vendor: "Dell Inc.", Version: "1.6.5", BuildDate: "04/06/2022"}},
			Boot:     Boot{CurrentBootMode: BootModeUEFI, PXEInterface: "01-3c-ec-ef-00-00-01"},
			Hostname: "r650-07",
		},
		PluginData: PluginData{
			Configuration: &Configuration{Collectors: []string{"default", "pci-devices"},
				Managers: []HardwareManager{{Name: "ferric-agent", Version: "test"}}},
			PCIDevices: []PCIDevice{{VendorID: "8086", ProductID: "1572", Class: "020000", Revision: "02", Bus: "0000:3b:00.0", NUMANodeID: "0"}},
			ParsedLLDP: map[string]map[string]any{"eno1": {"switch_chassis_id": "aa:bb:cc:dd:ee:ff", "switch_port_id": "Ethernet1/7"}},
		},
	}
	Complete(&doc)
	return doc
}

// TestGophercloudDecodes checks that gophercloud v2 (what Metal3's
// baremetal-operator uses) decodes a document ferric produces, both as
// GET /v1/nodes/{id}/inventory's answer (nodes.InventoryData: the typed
// inventory and plugin_data as standard or guessed data) and wrapped into
// ironic-inspector's introspection.Data, and sees the right values,
// including what Metal3's hardwaredetails reads: cpu frequency parsed
// from its string, physical_mb as RAM, by_path as the storage name when
// set, NVMe type from /dev/nvme, all_interfaces[name].pxe_enabled,
// parsed_lldp, and one NIC per IP family.
func TestGophercloudDecodes(t *testing.T) {
	t.Parallel()
	doc := sampleDocument()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(raw); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	var data nodes.InventoryData
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatalf("gophercloud nodes.InventoryData: %v", err)
	}
	data.Inventory.Compat() // as nodes.InventoryResult.Extract does
	inv := data.Inventory
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("cpu.count", inv.CPU.Count, 128)
	check("cpu.frequency", inv.CPU.Frequency, "3200.0000")
	check("cpu.architecture", inv.CPU.Architecture, "x86_64")
	check("cpu.flags", inv.CPU.Flags, []string{"fpu", "vme", "avx512f"})
	check("cpu.model_name", inv.CPU.ModelName, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
	check("memory.physical_mb", inv.Memory.PhysicalMb, 524288)
	check("memory.total", inv.Memory.Total, 540805431296)
	check("disks", len(inv.Disks), 2)
	check("disks[0].size", inv.Disks[0].Size, int64(1920383410176))
	check("disks[0].by_path", inv.Disks[0].ByPath, "/dev/disk/by-path/pci-0000:c1:00.0-nvme-1")
	check("disks[0].wwn", inv.Disks[0].Wwn, "eui.36344830526000010025384500000001")
	check("disks[1].hctl", inv.Disks[1].Hctl, "0:0:0:0")
	check("disks[1].vendor", inv.Disks[1].Vendor, "ATA")
	check("disks[1].rotational", inv.Disks[1].Rotational, false)
	check("interfaces[0].mac", inv.Interfaces[0].MACAddress, "3c:ec:ef:00:00:01")
	check("interfaces[0].speed_mbps", inv.Interfaces[0].SpeedMbps, 10000)
	check("interfaces[0].vendor+product", inv.Interfaces[0].Vendor+" "+inv.Interfaces[0].Product, "0x8086 0x1572")
	check("interfaces[0].pci_address", inv.Interfaces[0].PCIAddress, "0000:3b:00.0")
	check("interfaces[0].has_carrier", inv.Interfaces[0].HasCarrier, true)
	check("interfaces[1].speed_mbps (null)", inv.Interfaces[1].SpeedMbps, 0)
	check("interfaces[1].ipv4_address (null)", inv.Interfaces[1].IPV4Address, "")
	check("bmc_address", inv.BmcAddress, "192.0.2.200")
	check("boot", inv.Boot.CurrentBootMode+" "+inv.Boot.PXEInterface, "uefi 01-3c-ec-ef-00-00-01")
	check("system_vendor", inv.SystemVendor.Manufacturer+"/"+inv.SystemVendor.ProductName+"/"+inv.SystemVendor.SerialNumber,
		"Dell Inc./PowerEdge R650/ABC1234")
	check("firmware", inv.SystemVendor.Firmware.Version+" "+inv.SystemVendor.Firmware.BuildDate, "1.6.5 04/06/2022")
	check("hostname", inv.Hostname, "r650-07")

	std, err := data.PluginData.AsStandardData()
	if err != nil {
		t.Fatalf("gophercloud AsStandardData: %v", err)
	}
	check("all_interfaces[eno1].pxe_enabled", std.AllInterfaces["eno1"].PXEEnabled, true)
	check("all_interfaces[eno2].pxe_enabled", std.AllInterfaces["eno2"].PXEEnabled, false)
	check("valid_interfaces", len(std.ValidInterfaces), 1)
	check("macs", std.MACs, []string{"3c:ec:ef:00:00:01"})
	check("root_disk", std.RootDisk.Name, "/dev/sda") // the smaller one of at least 4 GiB
	check("boot_interface", std.BootInterface, "01-3c-ec-ef-00-00-01")
	check("configuration.managers", std.Configuration.Managers[0].Name, "ferric-agent")
	check("parsed_lldp", std.ParsedLLDP["eno1"]["switch_port_id"], "Ethernet1/7")
	if ironic, inspector, err := data.PluginData.GuessFormat(); err != nil || ironic == nil || inspector != nil {
		t.Errorf("GuessFormat = %v, %v, %v; want Ironic's format", ironic, inspector, err)
	}

	// Metal3's reading of the same data (hardwaredetails.go, condensed).
	var mhz float64
	fmt.Sscanf(inv.CPU.Frequency, "%f", &mhz) //nolint:errcheck // as Metal3 does
	check("Metal3 ClockMegahertz", math.Round(mhz), 3200.0)
	name := inv.Disks[0].Name
	if inv.Disks[0].ByPath != "" {
		name = inv.Disks[0].ByPath
	}
	check("Metal3 storage name", name, "/dev/disk/by-path/pci-0000:c1:00.0-nvme-1")
	check("Metal3 NVMe type", !inv.Disks[0].Rotational && strings.HasPrefix(inv.Disks[0].Name, "/dev/nvme"), true)
	nics := 0
	for _, i := range inv.Interfaces {
		if i.IPV4Address != "" || i.IPV6Address == "" {
			nics++
		}
		if i.IPV6Address != "" {
			nics++
		}
	}
	check("Metal3 NICs (one per address family with an address)", nics, 3)

	// ironic-inspector's shape: the inventory inside the plugin data.
	var wrapped map[string]any
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		t.Fatal(err)
	}
	pd := wrapped["plugin_data"].(map[string]any)
	pd["inventory"] = wrapped["inventory"]
	b, err := json.Marshal(pd)
	if err != nil {
		t.Fatal(err)
	}
	var old introspection.Data
	if err := json.Unmarshal(b, &old); err != nil {
		t.Fatalf("gophercloud introspection.Data: %v", err)
	}
	check("introspection local_gb", old.LocalGB, 446)
	check("introspection inventory cpu", old.Inventory.CPU.Count, 128)
}

// TestGophercloudDecodesFixtures decodes every accepted fixture with
// gophercloud: what Validate accepts, clients can read.
func TestGophercloudDecodesFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range acceptedFixtures {
		var data nodes.InventoryData
		if err := json.Unmarshal(readFixture(t, name), &data); err != nil {
			t.Errorf("%s: gophercloud: %v", name, err)
		}
		if _, _, err := data.PluginData.GuessFormat(); err != nil {
			t.Errorf("%s: gophercloud plugin data: %v", name, err)
		}
	}
}
