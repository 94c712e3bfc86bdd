package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// TestRamdiskInQEMU boots the real ramdisk (FERRIC_TEST_RAMDISK: a folder
// with vmlinuz and an initramfs holding this agent, built by
// deployments/ramdisk) in a QEMU VM against a fake API: lookup by the VM's
// MAC, a gzip image then a qcow2 image streamed onto /dev/vda, then
// power_off. Skipped unless
// FERRIC_TEST_RAMDISK is set (`make ramdisk` then
// FERRIC_TEST_RAMDISK=$PWD/ramdisk/out); ~7 s under TCG on an idle machine.
func TestRamdiskInQEMU(t *testing.T) {
	dir := os.Getenv("FERRIC_TEST_RAMDISK")
	if dir == "" {
		t.Skip("FERRIC_TEST_RAMDISK not set")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	const mac = "52:54:00:fe:44:01"
	// A gzip image, then a qcow2 one over it: the qcow2's unallocated
	// clusters must zero what the first image left (BLKZEROOUT on virtio-blk).
	first := gzipped(t, testDisk(24<<20, 42))
	disk := testDisk(24<<20, 43)
	clear(disk[4<<20 : 12<<20])
	qcow := qcow2Image(disk, false)
	gzSrv := httptest.NewServer(&imageServer{data: first})
	t.Cleanup(gzSrv.Close)
	qSrv := httptest.NewServer(&imageServer{data: qcow})
	t.Cleanup(qSrv.Close)
	guestURL := func(s *httptest.Server, name string) string {
		return "http://10.0.2.2:" + strconv.Itoa(s.Listener.Addr().(*net.TCPAddr).Port) + "/" + name
	}

	api := newFakeAPI(t)
	api.macs = mac
	api.commands = []wire.Command{
		{ID: "w1", Name: wire.CmdWriteImage, Params: params(t, wire.WriteImage{
			URL: guestURL(gzSrv, "first.img.gz"), Checksum: "sha256:" + sha256hex(first),
		})},
		{ID: "w2", Name: wire.CmdWriteImage, Params: params(t, wire.WriteImage{
			URL: guestURL(qSrv, "disk.qcow2"), Device: "/dev/vda", HashAlgo: "sha256", HashValue: sha256hex(qcow),
		})},
		{ID: "p1", Name: wire.CmdPowerOff},
	}
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)
	apiPort := apiSrv.Listener.Addr().(*net.TCPAddr).Port

	work := t.TempDir()
	vda := filepath.Join(work, "vda.raw")
	if err := os.WriteFile(vda, bytes.Repeat([]byte{0xee}, 64<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	log := bootRamdisk(t, dir, qemu,
		"-m", "512", "-smp", "1",
		"-append", "console=ttyS0 quiet ferric.api_url=http://10.0.2.2:"+strconv.Itoa(apiPort),
		"-drive", "file="+vda+",if=virtio,format=raw",
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac="+mac,
	)
	_, final, lookups := api.snapshot()
	if final["w1"].Status != wire.StatusSucceeded || final["w2"].Status != wire.StatusSucceeded || final["p1"].Status != wire.StatusSucceeded {
		t.Fatalf("results: %+v (lookups %d)\nconsole:\n%s", final, lookups, log)
	}
	if got := readDisk(t, vda, len(disk)); !bytes.Equal(got, disk) {
		t.Fatalf("the VM's disk does not hold the image\nconsole:\n%s", log)
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "image written") || strings.Contains(l, "ferric-ramdisk") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// bootRamdisk boots the ramdisk in dir (vmlinuz, initramfs) in QEMU with
// the extra arguments until the VM powers off (at most 3 minutes) and
// returns its serial console's output (logged with FERRIC_TEST_VERBOSE).
func bootRamdisk(t *testing.T, dir, qemu string, extra ...string) []byte {
	t.Helper()
	console := filepath.Join(t.TempDir(), "console.log")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	accel := []string{"-accel", "tcg", "-cpu", "max"}
	if b, _ := os.ReadFile("/proc/cpuinfo"); bytes.Contains(b, []byte(" vmx")) || bytes.Contains(b, []byte(" svm")) {
		accel = []string{"-accel", "kvm", "-cpu", "host"}
	}
	args := append(accel, "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "file:"+console,
		"-kernel", filepath.Join(dir, "vmlinuz"), "-initrd", filepath.Join(dir, "initramfs"))
	start := time.Now()
	out, err := exec.CommandContext(ctx, qemu, append(args, extra...)...).CombinedOutput()
	log, _ := os.ReadFile(console)
	if os.Getenv("FERRIC_TEST_VERBOSE") != "" {
		t.Logf("console:\n%s", log)
	}
	t.Logf("qemu ran %v: %v %s", time.Since(start).Round(time.Millisecond), err, out)
	return log
}

// TestRamdiskInspectInQEMU boots the real ramdisk (FERRIC_TEST_RAMDISK, as
// TestRamdiskInQEMU) with 2 CPUs, 512 MiB, a virtio-net NIC at PCI
// 00:03.0 booted "over PXE" (BOOTIF) and a 6 GiB virtio-blk disk at
// 00:04.0 under SeaBIOS, runs inspect then power_off, and checks the
// inventory against what QEMU was started with.
func TestRamdiskInspectInQEMU(t *testing.T) {
	dir := os.Getenv("FERRIC_TEST_RAMDISK")
	if dir == "" {
		t.Skip("FERRIC_TEST_RAMDISK not set")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	const (
		mac      = "52:54:00:fe:44:02"
		memMiB   = 512
		diskSize = 6 << 30
	)
	api := newFakeAPI(t)
	api.macs = mac
	api.commands = []wire.Command{{ID: "i1", Name: wire.CmdInspect}, {ID: "p1", Name: wire.CmdPowerOff}}
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)
	apiPort := apiSrv.Listener.Addr().(*net.TCPAddr).Port

	vda := filepath.Join(t.TempDir(), "vda.raw")
	if err := os.WriteFile(vda, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(vda, diskSize); err != nil { // sparse
		t.Fatal(err)
	}
	log := bootRamdisk(t, dir, qemu,
		"-M", "pc", "-m", strconv.Itoa(memMiB), "-smp", "2",
		"-append", "console=ttyS0 quiet BOOTIF=01-"+strings.ReplaceAll(mac, ":", "-")+
			" ferric.api_url=http://10.0.2.2:"+strconv.Itoa(apiPort),
		"-drive", "file="+vda+",if=none,id=d0,format=raw", "-device", "virtio-blk-pci,drive=d0,addr=0x4",
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac="+mac+",addr=0x3",
	)
	_, final, lookups := api.snapshot()
	res := final["i1"]
	if res.Status != wire.StatusSucceeded || final["p1"].Status != wire.StatusSucceeded {
		t.Fatalf("results: %+v (lookups %d)\nconsole:\n%s", final, lookups, log)
	}
	if err := inventory.Validate(res.Result); err != nil {
		t.Fatalf("Validate(result): %v\n%s", err, res.Result)
	}
	var doc inventory.Document
	if err := json.Unmarshal(res.Result, &doc); err != nil {
		t.Fatal(err)
	}
	t.Logf("inventory (%d bytes): %s", len(res.Result), res.Result)
	inv := doc.Inventory
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	sum := inventory.Summarize(doc)
	check("cpus", sum.CPUs, 2)
	check("cpu_arch", sum.CPUArch, "x86_64")
	check("memory_mb (SMBIOS DIMMs)", sum.MemoryMB, memMiB)
	if inv.Memory.Total <= 256<<20 || inv.Memory.Total >= memMiB<<20 {
		t.Errorf("memory.total = %d, want a little less than %d MiB", inv.Memory.Total, memMiB)
	}
	check("boot_mode", sum.BootMode, "bios")
	check("pxe_interface", inv.Boot.PXEInterface, inventory.NullString("01-52-54-00-fe-44-02"))
	check("NICs", sum.NICs, []inventory.NIC{{Name: "eth0", MAC: mac, PXE: true, HasCarrier: true, IPv4: "10.0.2.15", PCIAddress: "0000:00:03.0"}})
	if len(inv.Interfaces) == 1 {
		nic := inv.Interfaces[0]
		check("NIC vendor, product, driver", []string{string(nic.Vendor), string(nic.Product), string(nic.Driver)},
			[]string{"0x1af4", "0x1000", "virtio_net"})
	}
	if len(inv.Disks) != 1 {
		t.Fatalf("disks = %+v, want /dev/vda only", inv.Disks)
	}
	check("disk", []any{inv.Disks[0].Name, inv.Disks[0].Size, string(inv.Disks[0].Tran)}, []any{"/dev/vda", int64(diskSize), "virtio"})
	check("local_gb", sum.LocalGB, diskSize>>30-1)
	check("manufacturer", inv.SystemVendor.Manufacturer, "QEMU")
	pci := map[string]string{}
	for _, d := range doc.PluginData.PCIDevices {
		pci[d.Bus] = d.VendorID + ":" + d.ProductID + " " + d.Class
	}
	for bus, want := range map[string]string{
		"0000:00:00.0": "8086:1237 060000", // i440FX host bridge
		"0000:00:01.0": "8086:7000 060100", // PIIX3 ISA bridge
		"0000:00:03.0": "1af4:1000 020000", // virtio-net (transitional)
		"0000:00:04.0": "1af4:1001 010000", // virtio-blk (transitional)
	} {
		check("PCI device "+bus, pci[bus], want)
	}
	t.Logf("summary: %+v; %d PCI devices", sum, len(doc.PluginData.PCIDevices))
}
