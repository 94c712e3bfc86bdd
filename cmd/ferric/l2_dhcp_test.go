//go:build linux

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/ferric-project/ferric/drivers/deploy/dhcp"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// l2Log is a logger writing to a file that a failing test prints.
func l2Log(t testing.TB) *slog.Logger {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferric.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(path)
			t.Logf("ferric log (end):\n%s", e2eTail(string(raw), 12000))
		}
	})
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// l2DHCPConfig is the boot role's configuration on the L2 network: DHCP on
// br0, TFTP on port 69 and HTTP on the bridge's address.
func l2DHCPConfig(mode string) config {
	c := config{role: "boot", tftpAddr: ":69", bootHTTPAddr: l2BridgeIP + ":" + l2BootHTTP, ipxeDir: "/usr/lib/ipxe",
		dhcpLeaseTime: time.Hour}
	c.dhcp = dhcpConfig{mode: mode, iface: "br0", biosFile: dhcp.DefaultBIOSFile, uefiFile: dhcp.DefaultUEFIFile,
		arm64File: dhcp.DefaultARM64File}
	if mode == "full" {
		c.dhcp.subnet = netip.MustParsePrefix(l2Subnet)
		c.dhcp.rangeStart, c.dhcp.rangeEnd = netip.MustParseAddr("10.213.0.100"), netip.MustParseAddr("10.213.0.199")
		c.dhcp.routers = []netip.Addr{netip.MustParseAddr(l2BridgeIP)}
	}
	return c
}

// startL2DHCP starts ferric's DHCP server (the wiring of the boot role) in
// the network's namespace; it stops when the test ends or stop is called.
func startL2DHCP(t testing.TB, n *l2Net, cfg config, log *slog.Logger, st *store.Store) (stop func()) {
	t.Helper()
	srv, err := newDHCPServer(cfg, log, st)
	if err != nil || srv == nil {
		t.Fatalf("newDHCPServer: %v, %v", srv, err)
	}
	if err := in(n.ns, func() error { return srv.Start(context.Background()) }); err != nil {
		t.Fatalf("start dhcp: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Errorf("dhcp shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// udhcpcScript records the variables udhcpc sets for each event in
// $DIR/<event>.env.
const udhcpcScript = `#!/bin/sh
env | grep -E '^(ip|subnet|router|serverid|siaddr|sname|boot_file|bootfile|tftp|vendor|lease)=' > "$(dirname "$0")/$1.env"
`

// udhcpc runs busybox udhcpc in ns (3 DISCOVERs, 1 s apart) and returns
// the environment of its "bound" event: ip, siaddr, boot_file (the BOOTP
// file field), bootfile (option 67), serverid. errNoLease when it got none.
func udhcpc(t *testing.T, ns string, args ...string) (map[string]string, error) {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := netnsCmd(ns, "busybox", append([]string{"udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "1",
		"-O", "bootfile", "-O", "tftp", "-s", script}, args...)...)
	out, err := cmd.CombinedOutput()
	raw, rerr := os.ReadFile(filepath.Join(dir, "bound.env"))
	if err != nil || rerr != nil {
		t.Logf("udhcpc %s: %v\n%s", strings.Join(args, " "), err, out)
		return nil, errNoLease
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// udhcpc arguments that make it look like PXE firmware (option 60 and 93)
// and like iPXE (user class, option 77).
var (
	udhcpcPXEBIOS = []string{"-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"}
	udhcpcIPXE    = []string{"-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000", "-x", "0x4d:69505845"}
)

// TestL2DHCPFullMode runs `ferric boot` in full mode on a bridge in a
// network namespace and busybox udhcpc in namespaces of their own on that
// bridge: an unknown MAC gets an address but no boot file, an enrolled MAC
// both (the iPXE binary for PXE firmware, the boot script for iPXE), and
// after a restart of the process the enrolled MAC's reservation holds while
// no address already leased is handed out again. A second DHCP server on
// the port, ferric or dnsmasq, makes ferric boot exit with a clear error.
func TestL2DHCPFullMode(t *testing.T) {
	l2Prereqs(t, "busybox", "dnsmasq")
	if _, err := os.Stat("/usr/lib/ipxe/" + dhcp.DefaultBIOSFile); err != nil {
		t.Skipf("iPXE binaries (apt-get install ipxe): %v", err)
	}
	st := storetest.New(t)
	ctx := t.Context()
	const enrolled, unknownA, unknownB = "52:54:00:d0:00:01", "52:54:00:d0:00:0a", "52:54:00:d0:00:0b"
	n, err := st.CreateNode(ctx, store.Node{Driver: "ipmi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePort(ctx, store.Port{Address: enrolled, NodeUUID: n.UUID, PXEEnabled: true}); err != nil {
		t.Fatal(err)
	}
	nw := newL2Net(t)
	ramdisk := t.TempDir() // the boot server only starts with a ramdisk to serve
	for _, f := range []string{"vmlinuz", "initramfs"} {
		if err := os.WriteFile(filepath.Join(ramdisk, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Two addresses: after the restart below, both are taken.
	args := append(l2BootArgs("full", ramdisk, "http://"+l2BridgeIP+":"+l2AgentPort), "-dhcp-range", "10.213.0.100-10.213.0.101")
	boot := newL2Boot(t, nw, st, args...)
	boot.start()
	hostA, hostE, hostB := nw.addHost(unknownA, ""), nw.addHost(enrolled, ""), nw.addHost(unknownB, "")
	inRange := func(ip string) bool { return ip == "10.213.0.100" || ip == "10.213.0.101" }

	a, err := udhcpc(t, hostA, udhcpcPXEBIOS...)
	if err != nil || !inRange(a["ip"]) || a["boot_file"] != "" || a["bootfile"] != "" {
		t.Fatalf("unknown MAC (PXE firmware): %v %v; want an address in the range and no boot file", err, a)
	}
	t.Logf("unknown %s: ip %s, no boot file", unknownA, a["ip"])

	e, err := udhcpc(t, hostE, udhcpcPXEBIOS...)
	if err != nil || !inRange(e["ip"]) || e["ip"] == a["ip"] || e["boot_file"] != dhcp.DefaultBIOSFile ||
		e["siaddr"] != l2BridgeIP || e["serverid"] != l2BridgeIP || e["router"] != l2BridgeIP {
		t.Fatalf("enrolled MAC (PXE firmware): %v %v; want the other address, undionly.kpxe from %s", err, e, l2BridgeIP)
	}
	t.Logf("enrolled %s: ip %s, boot file %s from %s", enrolled, e["ip"], e["boot_file"], e["siaddr"])
	if ipxe, err := udhcpc(t, hostE, udhcpcIPXE...); err != nil || ipxe["ip"] != e["ip"] ||
		ipxe["bootfile"] != "http://"+l2BridgeIP+":"+l2BootHTTP+"/boot.ipxe" {
		t.Fatalf("enrolled MAC (iPXE): %v %v; want %s and the boot script", err, ipxe, e["ip"])
	}

	// A second ferric on the same interface (its TFTP and HTTP elsewhere)
	// exits with a clear error, and so does ferric beside a dnsmasq that
	// serves DHCP on the bridge.
	second := append(slices.Clone(args), "-tftp-address", ":6969", "-boot-http-address", l2BridgeIP+":8081")
	var exit *l2BootExit
	if err := newL2Boot(t, nw, st, second...).run(); !errors.As(err, &exit) || !strings.Contains(exit.out, "port 67 on br0 is taken") {
		t.Errorf("a second ferric boot on br0: %v; want it to exit saying port 67 is taken", err)
	}
	// Without the capability to bind ports below 1024, it says so.
	if _, err := exec.LookPath("setpriv"); err == nil {
		unpriv := newL2Boot(t, nw, st, second...)
		unpriv.args = append([]string{"setpriv", "--bounding-set=-net_bind_service"}, unpriv.args...)
		if err := unpriv.run(); !errors.As(err, &exit) || !strings.Contains(exit.out, "CAP_NET_BIND_SERVICE") {
			t.Errorf("ferric boot without CAP_NET_BIND_SERVICE: %v; want it to exit naming the capability", err)
		}
	}
	boot.stop()
	dnsmasq := startDnsmasq(t, nw.ns, "br0", "10.213.0.150,10.213.0.160")
	if err := newL2Boot(t, nw, st, args...).run(); !errors.As(err, &exit) || !strings.Contains(exit.out, "dnsmasq") {
		t.Errorf("ferric boot beside dnsmasq: %v; want it to exit naming dnsmasq", err)
	} else {
		lines := strings.Split(strings.TrimSpace(exit.out), "\n")
		t.Logf("ferric boot beside dnsmasq exits with:\n%s", lines[len(lines)-1])
	}
	dnsmasq()

	// Restart: only PostgreSQL remembers. The enrolled MAC gets its
	// address again; a new MAC gets nothing, since the unknown MAC's lease
	// (not released: udhcpc -q keeps it) holds the other address.
	boot.start()
	if again, err := udhcpc(t, hostE, udhcpcPXEBIOS...); err != nil || again["ip"] != e["ip"] {
		t.Fatalf("enrolled MAC after restart: %v %v, want its reservation %s", err, again, e["ip"])
	}
	if b, err := udhcpc(t, hostB); !errors.Is(err, errNoLease) {
		t.Fatalf("new MAC after restart got %v (%v): an address already leased was handed out again", b, err)
	}
	leases, err := st.DHCPLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		t.Logf("lease %s %s reserved=%v expires=%v", l.MAC, l.IP, l.Reserved, l.ExpiresAt)
		if l.MAC == enrolled && (!l.Reserved || l.IP.String() != e["ip"]) {
			t.Errorf("enrolled MAC's lease %+v: want a reservation of %s", l, e["ip"])
		}
	}
}

// TestL2DHCPOffModeDnsmasq checks the README's dnsmasq settings for
// -dhcp-mode=off (an external DHCP server chainloads ferric's iPXE): PXE
// firmware gets the iPXE binary for its architecture from ferric's TFTP, iPXE
// gets ferric's boot script, and UEFI HTTP boot the iPXE binary over HTTP.
func TestL2DHCPOffModeDnsmasq(t *testing.T) {
	l2Prereqs(t, "busybox", "dnsmasq")
	nw := newL2Net(t)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The lines after "dnsmasq:" in the README, up to the closing fence.
	_, rest, _ := strings.Cut(string(readme), "MACs if that matters")
	_, rest, _ = strings.Cut(rest, "```\n")
	block, _, _ := strings.Cut(rest, "```")
	conf := strings.NewReplacer("10.0.0.100,10.0.0.200", "10.213.0.150,10.213.0.160,255.255.0.0", "10.0.0.1", l2BridgeIP).Replace(block)
	if !strings.Contains(conf, "dhcp-boot=tag:ipxe,http://"+l2BridgeIP+":8080/boot.ipxe") {
		t.Fatalf("README's dnsmasq settings not found:\n%s", conf)
	}
	confFile := filepath.Join(t.TempDir(), "ferric.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	dnsHost := nw.addHost("", "10.213.0.2")
	startDnsmasq(t, dnsHost, "eth0", "", "--conf-file="+confFile)

	// dnsmasq puts the file in option 67 when asked for it (udhcpc -O
	// bootfile), else in the BOOTP header's file field.
	file := func(env map[string]string) string { return cmp.Or(env["bootfile"], env["boot_file"]) }
	pxe, err := udhcpc(t, nw.addHost("52:54:00:d2:00:01", ""), udhcpcPXEBIOS...)
	if err != nil || file(pxe) != dhcp.DefaultBIOSFile || pxe["siaddr"] != l2BridgeIP {
		t.Errorf("BIOS PXE: %v %v; want undionly.kpxe from %s", err, pxe, l2BridgeIP)
	}
	efi, err := udhcpc(t, nw.addHost("52:54:00:d2:00:02", ""), "-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007")
	if err != nil || file(efi) != dhcp.DefaultUEFIFile || efi["siaddr"] != l2BridgeIP {
		t.Errorf("UEFI PXE: %v %v; want snponly.efi from %s", err, efi, l2BridgeIP)
	}
	ipxe, err := udhcpc(t, nw.addHost("52:54:00:d2:00:03", ""), udhcpcIPXE...)
	if err != nil || file(ipxe) != "http://"+l2BridgeIP+":8080/boot.ipxe" {
		t.Errorf("iPXE: %v %v; want ferric's boot script", err, ipxe)
	}
	http, err := udhcpc(t, nw.addHost("52:54:00:d2:00:04", ""), "-V", "HTTPClient:Arch:00016:UNDI:003016", "-x", "0x5d:0010",
		"-O", "vendor")
	if err != nil || file(http) != "http://"+l2BridgeIP+":8080/ipxe-bin/snponly.efi" || http["vendor"] != "HTTPClient" {
		t.Errorf("UEFI HTTP boot: %v %v; want the iPXE binary over HTTP", err, http)
	}
}

// startDnsmasq runs dnsmasq as a DHCP server (no DNS, no PXE) on iface in
// ns, handing out rng ("first,last"); the returned func stops it.
func startDnsmasq(t testing.TB, ns, iface, rng string, extra ...string) (stop func()) {
	t.Helper()
	dir := t.TempDir()
	out := &l2Output{}
	args := []string{"--no-daemon", "--port=0", "--interface=" + iface,
		"--bind-interfaces", "--dhcp-leasefile=" + filepath.Join(dir, "leases"),
		"--pid-file=" + filepath.Join(dir, "pid"), "--user=root", "--log-dhcp", "--dhcp-authoritative",
		"--no-ping"} // no ICMP check of an address before offering it: offers come at once
	if rng != "" {
		args = append(args, "--dhcp-range="+rng+",255.255.0.0,1h")
	}
	if len(extra) == 0 {
		extra = []string{"--conf-file=/dev/null"}
	}
	cmd := netnsCmd(ns, "dnsmasq", append(args, extra...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	// dnsmasq binds before it logs "started"; wait for its DHCP line.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "DHCP, IP range") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("dnsmasq did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("dnsmasq output:\n%s", e2eTail(out.String(), 6000))
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// l2Output collects a program's output; safe for concurrent use.
type l2Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *l2Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *l2Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// dhcpProbe is a DHCP client socket on eth0 of a host namespace: it sends
// requests and collects the replies to each transaction, from every server.
type dhcpProbe struct {
	conn    net.PacketConn
	mu      sync.Mutex
	waiting map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
}

func newDHCPProbe(t testing.TB, ns string) *dhcpProbe {
	t.Helper()
	p := &dhcpProbe{waiting: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}
	if err := in(ns, func() (err error) {
		p.conn, err = dhcpListen("eth0", dhcpv4.ClientPort)
		return err
	}); err != nil {
		t.Fatalf("dhcp probe socket: %v", err)
	}
	t.Cleanup(func() { p.conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := p.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
				continue
			}
			p.mu.Lock()
			ch := p.waiting[m.TransactionID]
			p.mu.Unlock()
			if ch != nil {
				select {
				case ch <- m:
				default:
				}
			}
		}
	}()
	return p
}

// exchange sends req to dst and returns the replies received within wait
// (all of them when all is set, else the first).
func (p *dhcpProbe) exchange(req *dhcpv4.DHCPv4, dst *net.UDPAddr, wait time.Duration, all bool) []*dhcpv4.DHCPv4 {
	ch := make(chan *dhcpv4.DHCPv4, 8)
	p.mu.Lock()
	p.waiting[req.TransactionID] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, req.TransactionID)
		p.mu.Unlock()
	}()
	if _, err := p.conn.WriteTo(req.ToBytes(), dst); err != nil {
		return nil
	}
	var out []*dhcpv4.DHCPv4
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case m := <-ch:
			out = append(out, m)
			if !all {
				return out
			}
		case <-timer.C:
			return out
		}
	}
}

var dhcpBroadcast = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}

// pxeDiscover is a DISCOVER as PXE firmware of arch sends it.
func pxeDiscover(t testing.TB, mac string, arch iana.Arch, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	vc := fmt.Sprintf("PXEClient:Arch:%05d:UNDI:003016", arch)
	d, err := dhcpv4.NewDiscovery(hw, append([]dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(vc)), dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
		dhcpv4.WithBroadcast(true)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestL2DHCPProxyMode puts a real dnsmasq (another host on the bridge,
// handing out addresses) next to ferric in proxy mode: a PXE client's
// DISCOVER gets dnsmasq's offer with an address and ferric's offer with the
// boot file and no address; its request to ferric's port 4011 gets the same
// boot file; an unknown MAC gets dnsmasq's offer only; a plain DHCP client
// (the ramdisk's udhcpc) gets its address from dnsmasq.
func TestL2DHCPProxyMode(t *testing.T) {
	l2Prereqs(t, "busybox", "dnsmasq")
	st := storetest.New(t)
	ctx := t.Context()
	const enrolled, unknown = "52:54:00:d1:00:01", "52:54:00:d1:00:0a"
	n, err := st.CreateNode(ctx, store.Node{Driver: "ipmi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePort(ctx, store.Port{Address: enrolled, NodeUUID: n.UUID, PXEEnabled: true}); err != nil {
		t.Fatal(err)
	}
	nw := newL2Net(t)
	dnsHost := nw.addHost("", "10.213.0.2")
	startDnsmasq(t, dnsHost, "eth0", "10.213.0.150,10.213.0.160")
	startL2DHCP(t, nw, l2DHCPConfig("proxy"), l2Log(t), st)
	client := nw.addHost("", "10.213.0.250")
	probe := newDHCPProbe(t, client)

	replies := probe.exchange(pxeDiscover(t, enrolled, iana.EFI_X86_64), dhcpBroadcast, 2*time.Second, true)
	var fromDnsmasq, fromFerric *dhcpv4.DHCPv4
	for _, m := range replies {
		switch m.ServerIdentifier().String() {
		case "10.213.0.2":
			fromDnsmasq = m
		case l2BridgeIP:
			fromFerric = m
		}
	}
	if fromDnsmasq == nil || fromDnsmasq.YourIPAddr.IsUnspecified() || fromDnsmasq.BootFileName != "" {
		t.Fatalf("dnsmasq's offer: %v", fromDnsmasq)
	}
	if fromFerric == nil || !fromFerric.YourIPAddr.IsUnspecified() || fromFerric.BootFileName != dhcp.DefaultUEFIFile ||
		fromFerric.ClassIdentifier() != "PXEClient" || !fromFerric.ServerIPAddr.Equal(net.IPv4(10, 213, 0, 1)) {
		t.Fatalf("ferric's proxy offer: %v (replies %d)", fromFerric, len(replies))
	}
	t.Logf("dnsmasq offers %s; ferric offers %s from %s", fromDnsmasq.YourIPAddr, fromFerric.BootFileName, fromFerric.ServerIPAddr)

	// PXE boot server request on port 4011, as UEFI firmware sends it once
	// it has dnsmasq's address.
	req := pxeDiscover(t, enrolled, iana.EFI_X86_64, dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IPv4(10, 213, 0, 250)), dhcpv4.WithBroadcast(false))
	acks := probe.exchange(req, &net.UDPAddr{IP: net.IPv4(10, 213, 0, 1), Port: 4011}, 2*time.Second, false)
	if len(acks) != 1 || acks[0].MessageType() != dhcpv4.MessageTypeAck || acks[0].BootFileName != dhcp.DefaultUEFIFile {
		t.Fatalf("port 4011 request: %v", acks)
	}

	replies = probe.exchange(pxeDiscover(t, unknown, iana.INTEL_X86PC), dhcpBroadcast, 2*time.Second, true)
	for _, m := range replies {
		if m.ServerIdentifier().String() == l2BridgeIP {
			t.Errorf("ferric offered a boot to an unknown MAC: %s", m.Summary())
		}
	}
	if len(replies) != 1 {
		t.Errorf("unknown MAC: %d replies, want dnsmasq's alone", len(replies))
	}

	// The ramdisk's DHCP client: an address from dnsmasq, nothing from ferric.
	ramdisk := nw.addHost(enrolled, "")
	if env, err := udhcpc(t, ramdisk); err != nil || env["serverid"] != "10.213.0.2" || env["boot_file"] != "" {
		t.Fatalf("ramdisk udhcpc: %v %v, want dnsmasq's lease", err, env)
	}
}

// dhcpListen is a client socket on iface's port.
func dhcpListen(iface string, port int) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error { return bindToDevice(c, iface) }}
	return lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
}
