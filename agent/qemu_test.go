package agent

import (
	"bytes"
	"context"
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
	console := filepath.Join(work, "console.log")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	accel := []string{"-accel", "tcg", "-cpu", "max"}
	if b, _ := os.ReadFile("/proc/cpuinfo"); bytes.Contains(b, []byte(" vmx")) || bytes.Contains(b, []byte(" svm")) {
		accel = []string{"-accel", "kvm", "-cpu", "host"}
	}
	args := append(accel,
		"-m", "512", "-smp", "1", "-no-reboot", "-display", "none", "-monitor", "none",
		"-serial", "file:"+console,
		"-kernel", filepath.Join(dir, "vmlinuz"), "-initrd", filepath.Join(dir, "initramfs"),
		"-append", "console=ttyS0 quiet ferric.api_url=http://10.0.2.2:"+strconv.Itoa(apiPort),
		"-drive", "file="+vda+",if=virtio,format=raw",
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac="+mac,
	)
	start := time.Now()
	out, err := exec.CommandContext(ctx, qemu, args...).CombinedOutput()
	log, _ := os.ReadFile(console)
	if os.Getenv("FERRIC_TEST_VERBOSE") != "" {
		t.Logf("console:\n%s", log)
	}
	t.Logf("qemu ran %v: %v %s", time.Since(start).Round(time.Millisecond), err, out)
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
