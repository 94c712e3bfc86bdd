//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"

	"github.com/ferric-project/ferric/agent/wire"
)

// l2Serve serves h on ln until the test ends and returns ln's port.
func l2Serve(t *testing.T, ln net.Listener, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	})
	return e2ePort(ln.Addr().String())
}

// TestL2DeployQEMU deploys a QEMU VM on a real L2 network, through the REST
// API: no QEMU user networking. A namespace holds a bridge; ferric's boot
// server (DHCP, TFTP on port 69, HTTP) listens on the bridge's address; the
// VM's NIC is a tap on the bridge; the agent reaches the API through a proxy
// on the bridge's address, and the image comes from a server there too. The
// whole loop runs: DHCP → iPXE → ramdisk → agent → image → boot from disk.
//
//   - seabios-full: legacy BIOS, ferric leases the addresses (full mode);
//     the node's boot_mode capability is bios.
//   - ovmf-proxy: UEFI (Debian's OVMF), a real dnsmasq on the bridge hands
//     out the addresses and ferric only the boot files (proxy mode): the
//     firmware's own PXE client (the NIC has no iPXE ROM) loads snponly.efi
//     over TFTP, which chainloads the script over HTTP; the
//     image is a UEFI-bootable disk (an EFI system partition whose
//     BOOTX64.EFI prints the marker); the node's boot_mode is uefi.
//
// Automated cleaning is off: each deploy boots the VM twice (the ramdisk,
// then the disk). It needs root, QEMU, ipmi_sim, ovmf, dnsmasq and `make
// ramdisk`; it runs with FERRIC_E2E_QEMU=1 (and always in CI):
//
//	make ramdisk && FERRIC_E2E_QEMU=1 make test GOTEST_FLAGS='-count=1 -run TestL2DeployQEMU -v'
func TestL2DeployQEMU(t *testing.T) {
	qemu, ipmiSim, ramdisk := e2ePrereqs(t)
	l2Prereqs(t, "dnsmasq")
	if _, err := os.Stat("/usr/share/ovmf/OVMF.fd"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but OVMF is missing (apt-get install ovmf): %v", err)
		}
		t.Skipf("OVMF missing (apt-get install ovmf): %v", err)
	}
	for _, tc := range []struct{ name, firmware, mode, bootMode, mac string }{
		{"seabios-full", "", "full", "bios", "52:54:00:fe:2e:11"},
		{"ovmf-proxy", "ovmf", "proxy", "uefi", "52:54:00:fe:2e:12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l2Deploy(t, qemu, ipmiSim, ramdisk, tc.firmware, tc.mode, tc.bootMode, tc.mac)
		})
	}
}

func l2Deploy(t *testing.T, qemu, ipmiSim, ramdisk, firmware, mode, bootMode, mac string) {
	ctx := context.Background()
	nw := newL2Net(t)
	nw.startRouterAdvertiser()
	if mode == "proxy" {
		startDnsmasq(t, nw.addHost("", "10.213.0.2"), "eth0", "10.213.0.150,10.213.0.199")
	}
	tapDev := nw.addTap()

	var img []byte
	if firmware == "ovmf" {
		img = l2UEFIImage(t, e2eImage)
	} else {
		img = e2eDiskImage(e2eImage)
	}
	sum := sha256.Sum256(img)
	imgSHA := hex.EncodeToString(sum[:])
	imgs := &e2eImageServer{img: img}
	imgURL := "http://" + l2BridgeIP + ":" + l2Serve(t, listenIn(t, nw.ns, l2BridgeIP+":0"), imgs) + "/img.raw"
	disk := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, e2eDisk); err != nil {
		t.Fatal(err)
	}

	// The API on loopback; the agent reaches it through a proxy on the
	// bridge that also times the phases.
	apiAddr := freeAddr(t)
	agentTap := newE2EAgentTap(t, "http://"+apiAddr)
	agentAPIURL := "http://" + l2BridgeIP + ":" + l2Serve(t, listenIn(t, nw.ns, l2BridgeIP+":"+l2AgentPort), agentTap)
	bmc := startE2EBMC(t, ipmiSim, e2eVMEnv{QEMU: qemu, Accel: e2eQEMUAccel(), MAC: mac, Disk: disk, MemMiB: 512,
		NetNS: nw.ns, Tap: tapDev, Firmware: firmware})
	s := startStack(t, "all", func(c *config) {
		c.taskQueue, c.apiAddr, c.conductor = "ferric-l2", apiAddr, "ferric-l2"
		c.fakeDrivers = false
		c.pollInterval = 500 * time.Millisecond
		c.tftpAddr, c.bootHTTPAddr = "", "" // the boot server runs in the namespace, below
		c.agentAPIURL, c.agentHeartbeat, c.automatedClean = agentAPIURL, 2*time.Second, false
	})

	// ferric's boot role in the namespace: `ferric boot` with DHCP on br0,
	// TFTP on port 69 and HTTP on the bridge's address.
	newL2Boot(t, nw, s.st, l2BootArgs(mode, ramdisk, agentAPIURL)...).start()
	t.Logf("QEMU %s, firmware %s, DHCP %s; bridge %s in %s, VM on %s; image %d bytes sha256 %s",
		e2eQEMUAccel(), map[bool]string{true: "OVMF", false: "SeaBIOS"}[firmware == "ovmf"], mode, l2BridgeIP, nw.ns,
		tapDev, len(img), imgSHA)

	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{
		Name: "l2-vm", Driver: "ipmi", DriverInfo: bmc.driverInfo(),
		DeployInterface: "direct", BootInterface: "pxe",
		Properties: map[string]any{"cpus": 1, "memory_mb": 512, "local_gb": 0, "capabilities": "boot_mode:" + bootMode},
	}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: mac}).Extract(); err != nil {
		t.Fatalf("create port: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available) // automated_clean off: no boot
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: imgURL},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_algo", Value: "sha256"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_value", Value: imgSHA},
	}).Extract(); err != nil {
		t.Fatalf("set instance_info: %v", err)
	}

	start := time.Now()
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	got := s.e2eFollow(t, n.UUID, start, 10*time.Minute, "active", "deploy failed", "error")
	if got.ProvisionState != "active" {
		t.Fatalf("deploy ended in %q (last_error %q), want active", got.ProvisionState, got.LastError)
	}
	activeAt := time.Now()
	written, ok := agentTap.firstResult(start, wire.CmdWriteImage, wire.StatusSucceeded)
	if !ok {
		t.Fatal("active, but the agent never reported write_image succeeded")
	}
	var diskBoot *e2ePowerOn
	for _, p := range bmc.powerOns() {
		if p.order == "c" && p.at.After(written.at) {
			diskBoot = &p
			break
		}
	}
	if diskBoot == nil {
		t.Fatalf("no power-on from disk after the image was written; power-ons: %+v", bmc.powerOns())
	}
	mctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	markerBoot, markerAt, err := bmc.waitSerial(mctx, diskBoot.n, e2eMarker)
	if err != nil {
		t.Fatal(err)
	}

	// The network boot went through ferric's DHCP: the VM's firmware and
	// iPXE asked, and (full mode) its address is ferric's lease.
	var pxeOn time.Time
	var pxeBoot int
	for _, p := range bmc.powerOns() {
		if p.order == "n" && p.at.After(start) {
			pxeOn, pxeBoot = p.at, p.n
			break
		}
	}
	console := bmc.serial(pxeBoot)
	wantFile := "boot.ipxe"
	if firmware == "ovmf" {
		wantFile = "snponly.efi"
	}
	if !strings.Contains(console, wantFile) {
		t.Errorf("the network boot's console does not show %s:\n%s", wantFile, e2eTail(console, 3000))
	}
	leases, err := s.st.DHCPLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The ramdisk's DHCP client got its address from ferric (full) or
	// dnsmasq (proxy).
	server := map[string]string{"full": l2BridgeIP, "proxy": "10.213.0.2"}[mode]
	if !strings.Contains(console, "obtained from "+server) {
		t.Errorf("the ramdisk's lease is not from %s:\n%s", server, e2eTail(console, 3000))
	}
	switch mode {
	case "full":
		if len(leases) != 1 || leases[0].MAC != mac || !leases[0].Reserved {
			t.Errorf("leases %+v: want the VM's reservation", leases)
		} else if !strings.Contains(console, "lease of "+leases[0].IP.String()+" obtained") {
			t.Errorf("the VM's console does not show its lease %s:\n%s", leases[0].IP, e2eTail(console, 3000))
		}
	case "proxy":
		if len(leases) != 0 {
			t.Errorf("proxy mode leased addresses: %+v", leases)
		}
	}

	lookup, _ := agentTap.firstLookup(start)
	var imgGet time.Time
	imgs.mu.Lock()
	if len(imgs.gets) > 0 {
		imgGet = imgs.gets[0]
	}
	imgs.mu.Unlock()
	t.Logf("timings: deploy request -> power on (pxe) %s; power on -> lookup %s; lookup -> image GET %s; "+
		"image write (GET -> write_image succeeded) %s; write done -> power on (disk) %s; power on (disk) -> marker %s; "+
		"deploy request -> active %s; total to marker %s",
		e2eSince(start, pxeOn), e2eSince(pxeOn, lookup), e2eSince(lookup, imgGet), e2eSince(imgGet, written.at),
		e2eSince(written.at, diskBoot.at), e2eSince(diskBoot.at, markerAt), e2eSince(start, activeAt), e2eSince(start, markerAt))
	t.Logf("serial console of power-on %d (network boot, start):\n%s", pxeBoot, l2Head(console, 2500))
	t.Logf("serial console of power-on %d (from disk):\n%s", markerBoot, e2eTail(bmc.serial(markerBoot), 400))

	s.power(t, n.UUID, nodes.PowerOff, "power off")
	if err := e2eImageOnDisk(disk, img); err != nil {
		t.Error(err)
	}
}

// l2Head is the start of s, at most n bytes.
func l2Head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
