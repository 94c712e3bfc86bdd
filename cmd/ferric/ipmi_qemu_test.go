package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// TestIPMIPowersQEMUThroughAPI: an ipmi node whose BMC is ipmi_sim driving a
// real QEMU VM (chassisctl-qemu). Through the REST API, power on starts the
// VM (it boots its disk and prints the marker), power off kills it, and a
// boot device set to pxe is what the VM's next power-on boots from.
func TestIPMIPowersQEMUThroughAPI(t *testing.T) {
	qemu, ipmiSim, _ := e2ePrereqs(t)
	disk := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(disk, e2eDiskImage(1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	bmc := startE2EBMC(t, ipmiSim, e2eVMEnv{QEMU: qemu, Accel: e2eQEMUAccel(), MAC: e2eMAC,
		BootFile: "http://10.0.2.2:9/boot.ipxe", Disk: disk, MemMiB: 256})
	s := startStack(t, "all")
	ctx := context.Background()

	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "qemu-0", Driver: "ipmi",
		DriverInfo: bmc.driverInfo()}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	if err := nodes.SetBootDevice(ctx, s.client, n.UUID, nodes.BootDeviceOpts{BootDevice: "disk", Persistent: true}).ExtractErr(); err != nil {
		t.Fatalf("boot device disk: %v", err)
	}

	s.power(t, n.UUID, nodes.PowerOn, "power on")
	mctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	first, _, err := bmc.waitSerial(mctx, 1, e2eMarker)
	if err != nil {
		t.Fatalf("power on through the API: the VM did not boot its disk: %v", err)
	}
	s.power(t, n.UUID, nodes.PowerOff, "power off")
	if on := bmc.powerOns(); len(on) != 1 || on[0].order != "c" {
		t.Fatalf("power-ons %+v; want one, from disk", on)
	}
	if qemuRunning(disk) {
		t.Error("power off through the API left the QEMU VM running")
	}

	if err := nodes.SetBootDevice(ctx, s.client, n.UUID, nodes.BootDeviceOpts{BootDevice: "pxe"}).ExtractErr(); err != nil {
		t.Fatalf("boot device pxe: %v", err)
	}
	s.power(t, n.UUID, nodes.PowerOn, "power on")
	on := bmc.powerOns()
	if len(on) != 2 || on[1].order != "n" {
		t.Fatalf("power-ons %+v; want the second from the network (pxe)", on)
	}
	if _, _, err := bmc.waitSerial(mctx, first+1, "iPXE"); err != nil {
		t.Errorf("the VM's next boot did not start iPXE: %v", err)
	}
	s.power(t, n.UUID, nodes.PowerOff, "power off")
	if qemuRunning(disk) {
		t.Error("power off left the VM running")
	}
}

// qemuRunning reports whether a QEMU process uses disk.
func qemuRunning(disk string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmd := string(raw)
		if strings.Contains(cmd, "qemu-system") && strings.Contains(cmd, disk) {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				continue
			}
			return true
		}
	}
	return false
}
