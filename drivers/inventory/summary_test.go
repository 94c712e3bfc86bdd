package inventory

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decodeFixture(t *testing.T, name string) Document {
	t.Helper()
	var doc Document
	if err := json.Unmarshal(readFixture(t, name), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	disk := func(name string, size int64) Disk { return Disk{Name: name, Size: size} }
	nic := func(name, mac string) Interface { return Interface{Name: name, MACAddress: mac, HasCarrier: true} }
	tests := []struct {
		name string
		doc  Document
		want Summary
	}{
		{
			name: "gophercloud sample",
			doc:  decodeFixture(t, "gophercloud-standard.json"),
			want: Summary{CPUs: 2, MemoryMB: 2048, LocalGB: 12, CPUArch: "x86_64", BootMode: "bios", NICs: []NIC{
				{Name: "eth1", MAC: "52:54:00:47:20:4d", HasCarrier: true, IPv4: "172.24.42.101"},
				{Name: "eth0", MAC: "52:54:00:4e:3d:30", PXE: true, HasCarrier: true, IPv4: "172.24.42.100"},
			}},
		},
		{
			name: "Dell R640: BOOTIF form of the PXE MAC, root disk from plugin_data",
			doc:  decodeFixture(t, "ipa-dell-r640.json"),
			want: Summary{CPUs: 48, MemoryMB: 196608, LocalGB: 557, CPUArch: "x86_64", BootMode: "uefi", NICs: []NIC{
				{Name: "eno1", MAC: "e4:43:4b:aa:25:b0", PCIAddress: "0000:19:00.0"},
				{Name: "eno2", MAC: "e4:43:4b:aa:25:b1", PCIAddress: "0000:19:00.1"},
				{Name: "eno3", MAC: "e4:43:4b:aa:25:b2", HasCarrier: true, PCIAddress: "0000:01:00.0"},
				{Name: "eno4", MAC: "e4:43:4b:aa:25:b3", PCIAddress: "0000:01:00.1"},
				{Name: "ens2f0", MAC: "b8:59:9f:d5:83:2a", PXE: true, HasCarrier: true, IPv4: "192.168.121.68", PCIAddress: "0000:3b:00.0"},
				{Name: "ens2f1", MAC: "b8:59:9f:d5:83:2b", HasCarrier: true, PCIAddress: "0000:3b:00.1"},
			}},
		},
		{
			name: "memory from total when physical_mb is unknown",
			doc:  Document{Inventory: Inventory{Memory: Memory{Total: 2105864192}}},
			want: Summary{MemoryMB: 2008},
		},
		{
			name: "root disk: the smallest of at least 4 GiB, by name among equals",
			doc: Document{Inventory: Inventory{Disks: []Disk{
				disk("/dev/sdb", 100*GiB), disk("/dev/sda", 100*GiB), disk("/dev/sdc", 3*GiB), disk("/dev/sdd", 200*GiB)}}},
			want: Summary{LocalGB: 99},
		},
		{
			name: "out of band: no NICs, CPUs, memory, disks or boot mode",
			doc: Document{Inventory: Inventory{BMCAddress: "192.0.2.17", BMCMAC: "52:54:00:ab:cd:ef",
				SystemVendor: SystemVendor{Manufacturer: "Supermicro", ProductName: "SYS-1029P", SerialNumber: "S1"}},
				PluginData: PluginData{BMC: &BMC{FirmwareVersion: "1.02"}}},
			want: Summary{},
		},
		{
			name: "no disk of 4 GiB: diskless",
			doc:  Document{Inventory: Inventory{Disks: []Disk{disk("/dev/vda", MinRootDiskSize-1)}}},
			want: Summary{},
		},
		{
			name: "exactly 4 GiB",
			doc:  Document{Inventory: Inventory{Disks: []Disk{disk("/dev/vda", MinRootDiskSize)}}},
			want: Summary{LocalGB: 3},
		},
		{
			name: "a root disk under 1 GiB in plugin_data is not decremented",
			doc: Document{
				Inventory:  Inventory{Disks: []Disk{disk("/dev/vda", 10*GiB)}},
				PluginData: PluginData{RootDisk: &Disk{Name: "/dev/vdb", Size: 900 * MiB}},
			},
			want: Summary{},
		},
		{
			name: "NICs Ironic skips: loopback, no name, an InfiniBand or invalid MAC",
			doc: Document{Inventory: Inventory{
				Boot: Boot{CurrentBootMode: "legacy", PXEInterface: "52-54-00-AA-BB-01"},
				Interfaces: []Interface{
					nic("lo", "00:00:00:00:00:00"),
					{Name: "lo2", MACAddress: "52:54:00:aa:bb:09", IPv4Address: "127.0.0.2"},
					{Name: "lo6", MACAddress: "52:54:00:aa:bb:0a", IPv6Address: "::1"},
					nic("", "52:54:00:aa:bb:02"),
					nic("ib0", "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de"),
					nic("bad", "52:54:00:aa:bb"),
					nic("eth0", "52:54:00:AA:BB:01"),
					{Name: "eth1", MACAddress: "52-54-00-aa-bb-03", IPv6Address: "fe80::1%eth1"},
				},
			}},
			want: Summary{NICs: []NIC{
				{Name: "eth0", MAC: "52:54:00:aa:bb:01", PXE: true, HasCarrier: true},
				{Name: "eth1", MAC: "52:54:00:aa:bb:03"},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Summarize(tc.doc); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Summarize =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	inv := Inventory{
		Interfaces: []Interface{
			{Name: "eth0", MACAddress: "52:54:00:00:00:01", IPv4Address: "10.0.2.15", IPv6Address: "fe80::1%eth0"},
			{Name: "eth1", MACAddress: "52:54:00:00:00:02"},
			{Name: "ib0", MACAddress: "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de"},
		},
		Disks: []Disk{{Name: "/dev/vda", Size: 64 * MiB}, {Name: "/dev/vdb", Size: 20 * GiB}},
		Boot:  Boot{CurrentBootMode: BootModeBIOS, PXEInterface: "01-52-54-00-00-00-01"},
	}
	t.Run("PXE interface known", func(t *testing.T) {
		t.Parallel()
		doc := Document{Inventory: inv}
		Complete(&doc)
		pd := doc.PluginData
		if pd.RootDisk == nil || pd.RootDisk.Name != "/dev/vdb" || pd.LocalGB != 19 {
			t.Errorf("root disk %+v, local_gb %d; want /dev/vdb, 19", pd.RootDisk, pd.LocalGB)
		}
		if pd.BootInterface != "01-52-54-00-00-00-01" {
			t.Errorf("boot_interface = %q", pd.BootInterface)
		}
		if len(pd.AllInterfaces) != 2 || !pd.AllInterfaces["eth0"].PXEEnabled || pd.AllInterfaces["eth1"].PXEEnabled {
			t.Errorf("all_interfaces = %+v", pd.AllInterfaces)
		}
		if pd.AllInterfaces["eth0"].IPv6Address != "fe80::1" {
			t.Errorf("all_interfaces keeps the IPv6 zone: %q", pd.AllInterfaces["eth0"].IPv6Address)
		}
		if len(pd.ValidInterfaces) != 1 || !reflect.DeepEqual(pd.MACs, []string{"52:54:00:00:00:01"}) {
			t.Errorf("valid_interfaces = %+v, macs = %v; want eth0 only", pd.ValidInterfaces, pd.MACs)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(b); err != nil {
			t.Errorf("Validate(completed document): %v", err)
		}
	})
	t.Run("no PXE interface: every interface is valid", func(t *testing.T) {
		t.Parallel()
		doc := Document{Inventory: inv}
		doc.Inventory.Boot.PXEInterface = ""
		Complete(&doc)
		if len(doc.PluginData.ValidInterfaces) != 2 || len(doc.PluginData.MACs) != 2 {
			t.Errorf("valid_interfaces = %+v", doc.PluginData.ValidInterfaces)
		}
	})
	t.Run("what is set is kept", func(t *testing.T) {
		t.Parallel()
		root := &Disk{Name: "/dev/vda", Size: 64 * MiB}
		doc := Document{Inventory: inv, PluginData: PluginData{RootDisk: root, LocalGB: 7}}
		Complete(&doc)
		if doc.PluginData.RootDisk != root || doc.PluginData.LocalGB != 7 {
			t.Errorf("Complete replaced root_disk or local_gb: %+v", doc.PluginData)
		}
	})
}

func TestNullValues(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Interface{Name: "eth0", MACAddress: "52:54:00:00:00:01", SpeedMbps: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"eth0","mac_address":"52:54:00:00:00:01","ipv4_address":null,"ipv6_address":null,` +
		`"has_carrier":false,"lldp":null,"vendor":null,"product":null,"client_id":null,"biosdevname":null,` +
		`"speed_mbps":1000,"pci_address":null,"driver":null}`
	if string(b) != want {
		t.Errorf("Interface JSON =\n%s\nwant (IPA sends every member, null when unknown)\n%s", b, want)
	}
	var iface Interface
	if err := json.Unmarshal([]byte(want), &iface); err != nil || iface.Vendor != "" || iface.SpeedMbps != 1000 {
		t.Errorf("decode: %+v, %v", iface, err)
	}
	members := func(inv Inventory) map[string]json.RawMessage {
		t.Helper()
		b, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Unknown facts (out of band) are left out; known empty lists are [].
	m := members(Inventory{})
	for _, k := range []string{"interfaces", "cpu", "memory", "disks", "boot"} {
		if v, ok := m[k]; ok {
			t.Errorf("empty inventory has %s: %s; want it left out (unknown)", k, v)
		}
	}
	if string(m["bmc_address"]) != "null" || string(m["system_vendor"]) == "" {
		t.Errorf("empty inventory = %v; want a null bmc_address and a system_vendor", m)
	}
	m = members(Inventory{Interfaces: []Interface{}, Disks: []Disk{}, CPU: CPU{Count: 1, Architecture: "x86_64"},
		Boot: Boot{CurrentBootMode: BootModeBIOS}})
	if string(m["disks"]) != "[]" || string(m["interfaces"]) != "[]" || !strings.Contains(string(m["cpu"]), `"flags":[]`) ||
		m["boot"] == nil {
		t.Errorf("inventory with empty lists = %v; want [] lists, cpu flags [] and boot", m)
	}
	if _, ok := m["memory"]; ok {
		t.Error("unknown memory is not left out")
	}
	var back Inventory // [] decodes as an empty list, not as unknown
	if err := json.Unmarshal([]byte(`{"interfaces": [], "disks": []}`), &back); err != nil || back.Interfaces == nil ||
		back.Disks == nil {
		t.Errorf("decode [] lists = %+v, %v; want empty, non-nil lists", back, err)
	}
	var tlv []LLDPTLV
	if err := json.Unmarshal([]byte(`[[1, "04aa"], [5, "7377"]]`), &tlv); err != nil || tlv[1] != (LLDPTLV{5, "7377"}) {
		t.Errorf("LLDP TLVs = %+v, %v", tlv, err)
	}
	if b, _ := json.Marshal(tlv); string(b) != `[[1,"04aa"],[5,"7377"]]` {
		t.Errorf("LLDP TLVs JSON = %s", b)
	}
	if err := json.Unmarshal([]byte(`[[1]]`), &tlv); err == nil {
		t.Error("a one-element TLV decodes")
	}
}
