package inspect

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/drivers/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden documents in testdata")

// fixture returns the Config that reads testdata/<machine> (built by
// testdata/mkfixtures), with the interface addresses of its addrs.json.
func fixture(t *testing.T, machine string) Config {
	t.Helper()
	root := filepath.Join("testdata", machine)
	var addrs map[string][]string
	b, err := os.ReadFile(filepath.Join(root, "addrs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &addrs); err != nil {
		t.Fatal(err)
	}
	return Config{
		SysfsRoot: filepath.Join(root, "sys"),
		ProcRoot:  filepath.Join(root, "proc"),
		DevRoot:   filepath.Join(root, "dev"),
		RunRoot:   filepath.Join(root, "run"),
		Version:   "test",
		Addresses: func(name string) ([]netip.Addr, error) {
			var out []netip.Addr
			for _, s := range addrs[name] {
				out = append(out, netip.MustParseAddr(s))
			}
			return out, nil
		},
	}
}

// TestCollectGolden collects each fixture machine, checks the document
// against its golden copy (go test -update rewrites them), validates it
// and checks the facts each machine is there for.
func TestCollectGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		machine string
		check   func(t *testing.T, doc inventory.Document, sum inventory.Summary)
	}{
		{"qemu-vm", func(t *testing.T, doc inventory.Document, sum inventory.Summary) {
			eq(t, "summary", sum, inventory.Summary{CPUs: 2, MemoryMB: 2048, LocalGB: 9, CPUArch: "x86_64", BootMode: "bios",
				NICs: []inventory.NIC{{Name: "eth0", MAC: "52:54:00:12:34:56", PXE: true, HasCarrier: true, IPv4: "10.0.2.15", PCIAddress: "0000:00:03.0"}}})
			nic := doc.Inventory.Interfaces[0]
			eq(t, "virtio NIC", words(nic.Vendor, nic.Product, nic.Driver, nic.SpeedMbps, nic.IPv6Address),
				"0x1af4 0x1000 virtio_net 0 fe80::5054:ff:fe12:3456")
			eq(t, "disks", len(doc.Inventory.Disks), 1) // sr0, loop0, ram0 skipped
			vda := doc.Inventory.Disks[0]
			eq(t, "vda", words(vda.Name, vda.Size, vda.Rotational, vda.Vendor, vda.Tran, vda.Serial == "", vda.HCTL == ""),
				"/dev/vda 10737418240 true 0x1af4 virtio true true")
			eq(t, "cpu", words(doc.Inventory.CPU.Frequency, doc.Inventory.CPU.SocketCount), "2999.998 1")
			eq(t, "pxe_interface", doc.Inventory.Boot.PXEInterface, inventory.NullString("01-52-54-00-12-34-56"))
			eq(t, "hostname", doc.Inventory.Hostname, "")
			eq(t, "pci devices", len(doc.PluginData.PCIDevices), 7)
		}},
		{"server", func(t *testing.T, doc inventory.Document, sum inventory.Summary) {
			eq(t, "summary", sum, inventory.Summary{CPUs: 16, MemoryMB: 262144, LocalGB: 446, CPUArch: "x86_64", BootMode: "uefi",
				NICs: []inventory.NIC{
					{Name: "eno1", MAC: "3c:ec:ef:00:00:01", PXE: true, HasCarrier: true, IPv4: "192.0.2.10", PCIAddress: "0000:17:00.0"},
					{Name: "eno2", MAC: "3c:ec:ef:00:00:02", PCIAddress: "0000:17:00.1"},
					{Name: "ens3f0np0", MAC: "b8:59:9f:00:00:0a", HasCarrier: true, PCIAddress: "0000:98:00.0"},
					{Name: "ens3f1np1", MAC: "b8:59:9f:00:00:0b", PCIAddress: "0000:98:00.1"},
					{Name: "idrac", MAC: "d0:94:66:7a:1b:2d", HasCarrier: true, IPv4: "169.254.0.2"},
				}})
			ifs := doc.Inventory.Interfaces
			eq(t, "speeds", words(ifs[0].SpeedMbps, ifs[1].SpeedMbps, ifs[2].SpeedMbps, ifs[3].SpeedMbps), "10000 0 25000 0")
			eq(t, "ConnectX IPv6 (global before link-local)", ifs[2].IPv6Address, inventory.NullString("2001:db8:10::7"))
			eq(t, "USB NIC", words(ifs[4].PCIAddress == "", ifs[4].Driver), "true cdc_ether")
			eq(t, "disks", len(doc.Inventory.Disks), 3) // the empty virtual floppy and loop0 skipped
			sda := doc.Inventory.Disks[2]
			eq(t, "sda", words(sda.Name, sda.Vendor, sda.Model, sda.HCTL, sda.WWN, sda.Serial, sda.ByPath, sda.Tran, sda.PhysicalSectors),
				"/dev/sda ATA MTFDDAK480TDS 0:0:0:0 0x500a07512a3b4c5d 2236391A2B3C /dev/disk/by-path/pci-0000:00:17.0-ata-1 sata 4096")
			nvme := doc.Inventory.Disks[0]
			eq(t, "nvme0n1", words(nvme.Name, nvme.Model, nvme.Serial, nvme.WWN, nvme.ByPath, nvme.Tran, nvme.Vendor == ""),
				"/dev/nvme0n1 SAMSUNG MZQL21T9HCJR-00A07 S64GNE0R100001 eui.36344830526000010025384500000001 /dev/disk/by-path/pci-0000:c1:00.0-nvme-1 nvme true")
			eq(t, "root disk", doc.PluginData.RootDisk.Name, "/dev/sda")
			eq(t, "cpu", words(doc.Inventory.CPU.Frequency, doc.Inventory.CPU.SocketCount), "3200.0000 2")
			eq(t, "system", fmt.Sprintf("%v", doc.Inventory.SystemVendor), "{PowerEdge R650 ABC1234 Dell Inc. {Dell Inc. 1.6.5 04/06/2022}}")
			eq(t, "valid interfaces (add_ports=pxe)", doc.PluginData.MACs, []string{"3c:ec:ef:00:00:01"})
		}},
		{"gpu", func(t *testing.T, doc inventory.Document, sum inventory.Summary) {
			eq(t, "summary", words(sum.CPUs, sum.MemoryMB, sum.LocalGB, sum.BootMode, len(sum.NICs)), "8 131072 446 uefi 2")
			var gpus, nodes []string
			for _, d := range doc.PluginData.PCIDevices {
				if d.VendorID == "10de" && d.Class == "030200" {
					gpus = append(gpus, d.Bus)
					nodes = append(nodes, string(d.NUMANodeID))
				}
				if d.Class == "060400" && d.VendorID == "1022" && d.Revision != "" {
					t.Errorf("bridge %s has revision %q; its fixture has no revision file", d.Bus, d.Revision)
				}
			}
			eq(t, "GPUs", gpus, []string{"0000:01:00.0", "0000:41:00.0", "0000:81:00.0", "0000:c1:00.0"})
			eq(t, "GPU NUMA nodes", nodes, []string{"0", "0", "1", "1"})
			eq(t, "root disk (the smaller NVMe)", doc.PluginData.RootDisk.Name, "/dev/nvme1n1")
			eq(t, "NVMe sectors", words(doc.Inventory.Disks[0].LogicalSectors, doc.Inventory.Disks[0].ByPath == ""), "4096 true")
			eq(t, "cpu", words(doc.Inventory.CPU.ModelName, doc.Inventory.CPU.Frequency, doc.Inventory.CPU.SocketCount),
				"AMD EPYC 7313P 16-Core Processor 3000.0000 1")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.machine, func(t *testing.T) {
			t.Parallel()
			doc, err := Collect(t.Context(), fixture(t, tc.machine))
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			got, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if err := inventory.Validate(got); err != nil {
				t.Errorf("Validate: %v", err)
			}
			golden := filepath.Join("testdata", tc.machine+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("document differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
			tc.check(t, doc, inventory.Summarize(doc))
		})
	}
}

// words prints values separated by spaces.
func words(vs ...any) string { return strings.TrimSuffix(fmt.Sprintln(vs...), "\n") }

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}
