package inventory_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// TestDecodeWrongTypes: a member of another JSON type than the agent's
// is left zero (unknown), wherever it is; the rest is decoded as
// json.Unmarshal decodes it, and Summarize derives nothing from the
// unknown facts.
func TestDecodeWrongTypes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, inventory, pluginData string
		want                        inventory.Document
		wantSum                     inventory.Summary
	}{
		{
			name:      "physical_mb a string",
			inventory: `{"memory":{"physical_mb":"16384","total":1073741824},"cpu":{"count":8,"architecture":"x86_64"}}`,
			want: inventory.Document{Inventory: inventory.Inventory{Memory: inventory.Memory{Total: 1 << 30},
				CPU: inventory.CPU{Count: 8, Architecture: "x86_64"}}},
			wantSum: inventory.Summary{CPUs: 8, MemoryMB: 1024, CPUArch: "x86_64"},
		},
		{
			name:      "count a string",
			inventory: `{"cpu":{"count":"8","architecture":"x86_64"},"memory":{"physical_mb":16384}}`,
			want: inventory.Document{Inventory: inventory.Inventory{Memory: inventory.Memory{PhysicalMB: 16384},
				CPU: inventory.CPU{Architecture: "x86_64"}}},
			wantSum: inventory.Summary{MemoryMB: 16384, CPUArch: "x86_64"},
		},
		{
			name: "in lists, maps and pointers",
			inventory: `{"interfaces":[{"name":"eth0","mac_address":"52:54:00:00:00:01","has_carrier":"yes",` +
				`"speed_mbps":"fast","lldp":[[1,"aa"],"x"]},7,{"name":"eth1","mac_address":"52:54:00:00:00:02"}],` +
				`"disks":[{"name":"/dev/sda","size":"big"},{"name":"/dev/sdb","size":8589934592,"rotational":1}],` +
				`"boot":{"current_boot_mode":1,"pxe_interface":"52:54:00:00:00:02"},"hostname":["h"],` +
				`"bmc_address":"192.0.2.1","system_vendor":"acme"}`,
			pluginData: `{"root_disk":{"name":"/dev/sdb","size":"8589934592"},"all_interfaces":{"eth0":{"name":1}},` +
				`"macs":"x","local_gb":"7","error":null}`,
			want: inventory.Document{
				Inventory: inventory.Inventory{
					Interfaces: []inventory.Interface{
						{Name: "eth0", MACAddress: "52:54:00:00:00:01", LLDP: []inventory.LLDPTLV{{Type: 1, Value: "aa"}, {}}},
						{},
						{Name: "eth1", MACAddress: "52:54:00:00:00:02"},
					},
					Disks:      []inventory.Disk{{Name: "/dev/sda"}, {Name: "/dev/sdb", Size: 8 << 30}},
					Boot:       inventory.Boot{PXEInterface: "52:54:00:00:00:02"},
					BMCAddress: "192.0.2.1",
				},
				PluginData: inventory.PluginData{RootDisk: &inventory.Disk{Name: "/dev/sdb"},
					AllInterfaces: map[string]inventory.ProcessedInterface{"eth0": {}}},
			},
			wantSum: inventory.Summary{NICs: []inventory.NIC{
				{Name: "eth0", MAC: "52:54:00:00:00:01"},
				{Name: "eth1", MAC: "52:54:00:00:00:02", PXE: true},
			}},
		},
		{
			// Not an object: no root disk (the disks' guess decides), rather
			// than an empty one.
			name:       "root disk a string",
			inventory:  `{"disks":[{"name":"/dev/sda","size":21474836480}]}`,
			pluginData: `{"root_disk":"sda"}`,
			want: inventory.Document{Inventory: inventory.Inventory{
				Disks: []inventory.Disk{{Name: "/dev/sda", Size: 20 << 30}}}},
			wantSum: inventory.Summary{LocalGB: 19},
		},
		{
			name:       "well typed, plugin data not an object",
			inventory:  `{"cpu":{"count":2},"memory":{"physical_mb":512},"boot":{"current_boot_mode":"uefi"}}`,
			pluginData: `[]`,
			want: inventory.Document{Inventory: inventory.Inventory{CPU: inventory.CPU{Count: 2},
				Memory: inventory.Memory{PhysicalMB: 512}, Boot: inventory.Boot{CurrentBootMode: "uefi"}}},
			wantSum: inventory.Summary{CPUs: 2, MemoryMB: 512, BootMode: "uefi"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := inventory.Decode(json.RawMessage(tt.inventory), json.RawMessage(tt.pluginData))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(doc, tt.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", doc, tt.want)
			}
			if sum := inventory.Summarize(doc); !reflect.DeepEqual(sum, tt.wantSum) {
				t.Errorf("Summarize =\n%+v\nwant\n%+v", sum, tt.wantSum)
			}
		})
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{`} {
		if _, err := inventory.Decode(json.RawMessage(bad), nil); err == nil {
			t.Errorf("Decode(%q): no error", bad)
		}
	}
}
