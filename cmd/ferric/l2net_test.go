//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// The provisioning network of the L2 tests: a network namespace holding a
// bridge (br0, l2BridgeIP) where ferric's boot server listens, and machines
// attached to the bridge: QEMU VMs on tap devices, DHCP clients and dnsmasq
// in namespaces of their own on veth pairs. Nothing leaves the namespaces:
// the test process reaches them by opening sockets from a thread moved into
// a namespace (setns), and runs programs there with `ip netns exec`. Every
// namespace is deleted when the test ends, which removes its bridge, taps
// and veths; namespaces left by a test process that died are deleted by the
// next run.

const (
	l2BridgeIP  = "10.213.0.1"
	l2Prefix    = 16 // 10.213.0.0/16: room for the benchmark's 10,000 leases
	l2Subnet    = "10.213.0.0/16"
	l2NSPrefix  = "ferric-l2-"
	l2BootHTTP  = "8080"
	l2AgentPort = "6385"
)

var l2Seq atomic.Int64 // names are unique within the test process

// l2Prereqs skips (or in CI fails) unless the L2 tests can run: root, ip(8),
// /dev/net/tun and the given programs.
func l2Prereqs(t testing.TB, programs ...string) {
	t.Helper()
	ci := os.Getenv("CI") != ""
	missing := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf("CI is set but a prerequisite of the L2 network tests is missing: "+format, args...)
		}
		t.Skipf("L2 network test: "+format, args...)
	}
	if os.Geteuid() != 0 {
		missing("needs root (network namespaces, bridges, taps)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing("/dev/net/tun: %v", err)
	}
	for _, p := range append([]string{"ip"}, programs...) {
		if _, err := exec.LookPath(p); err != nil {
			missing("%s (apt-get install iproute2 dnsmasq busybox): %v", p, err)
		}
	}
}

// l2Net is one provisioning network.
type l2Net struct {
	t   testing.TB
	ns  string   // the boot server's namespace, holding br0
	all []string // every namespace made, deleted at cleanup
	n   int      // veths and taps made
}

// newL2Net makes the namespace with br0 up at l2BridgeIP/l2Prefix.
func newL2Net(t testing.TB) *l2Net {
	t.Helper()
	l2DeleteStale(t)
	n := &l2Net{t: t}
	t.Cleanup(n.close)
	n.ns = n.newNS()
	n.ip("-n", n.ns, "link", "add", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0")
	n.ip("-n", n.ns, "addr", "add", l2BridgeIP+"/"+strconv.Itoa(l2Prefix), "dev", "br0")
	n.ip("-n", n.ns, "link", "set", "br0", "up")
	return n
}

// newNS makes a namespace with its loopback up.
func (n *l2Net) newNS() string {
	name := fmt.Sprintf("%s%d-%d", l2NSPrefix, os.Getpid(), l2Seq.Add(1))
	n.ip("netns", "add", name)
	n.all = append(n.all, name)
	n.ip("-n", name, "link", "set", "lo", "up")
	return name
}

// addHost makes a namespace attached to the bridge by a veth pair: its end
// is eth0 with mac (random when "") and, when addr is not "", that address.
func (n *l2Net) addHost(mac, addr string) string {
	ns := n.newNS()
	n.n++
	port := fmt.Sprintf("vb%d", n.n)
	n.ip("-n", n.ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	if mac != "" {
		n.ip("-n", ns, "link", "set", "eth0", "address", mac)
	}
	n.ip("-n", n.ns, "link", "set", port, "master", "br0", "up")
	n.ip("-n", ns, "link", "set", "eth0", "up")
	if addr != "" {
		n.ip("-n", ns, "addr", "add", addr+"/"+strconv.Itoa(l2Prefix), "dev", "eth0")
	}
	return ns
}

// addTap makes a tap device on the bridge for a QEMU VM (QEMU opens it
// from inside the namespace) and returns its name.
func (n *l2Net) addTap() string {
	n.n++
	tap := fmt.Sprintf("tap%d", n.n)
	n.ip("-n", n.ns, "tuntap", "add", "dev", tap, "mode", "tap")
	n.ip("-n", n.ns, "link", "set", tap, "master", "br0", "up")
	return tap
}

func (n *l2Net) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (n *l2Net) close() {
	for i := len(n.all) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", n.all[i]).CombinedOutput(); err != nil {
			n.t.Errorf("delete namespace %s: %v\n%s", n.all[i], err, out)
		}
	}
}

// l2DeleteStale deletes namespaces of earlier test processes that are gone
// (a test binary killed by go test's timeout runs no cleanup).
func l2DeleteStale(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, l2NSPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err == nil {
			t.Logf("deleted stale namespace %s", name)
		} else {
			t.Logf("delete stale namespace %s: %v %s", name, err, bytes.TrimSpace(out))
		}
	}
}

// in runs fn on an OS thread moved into namespace ns: sockets fn opens
// belong to ns for their whole life, wherever they are used later. The
// thread is moved back before it is unlocked; if that fails it stays locked
// and exits with the goroutine rather than serve others in the wrong
// namespace. (Letting threads exit is not free either: a child started with
// Pdeathsig, like the tests' ipmi_sim, dies with the thread that forked it.)
func in(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer home.Close()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// listenIn opens a TCP listener on addr inside ns.
func listenIn(t testing.TB, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := in(ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	return ln
}

// netnsCmd is a command run inside ns.
func netnsCmd(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

var errNoLease = errors.New("no lease")

// bindToDevice sets SO_BROADCAST and SO_BINDTODEVICE on c.
func bindToDevice(c syscall.RawConn, iface string) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr == nil {
			serr = unix.BindToDevice(int(fd), iface)
		}
	}); err != nil {
		return err
	}
	return serr
}

// startRouterAdvertiser plays the provisioning network's IPv6 router on br0:
// it answers router solicitations with a router advertisement that offers
// nothing (no prefix, not a default router, no DHCPv6). iPXE configures
// IPv6 beside DHCPv4 and waits for an answer (~15 s per round without one);
// QEMU's user network answers too, so the L2 timings compare like with like.
func (n *l2Net) startRouterAdvertiser() {
	n.t.Helper()
	var pc *icmp.PacketConn
	var ifi *net.Interface
	if err := in(n.ns, func() (err error) {
		if ifi, err = net.InterfaceByName("br0"); err != nil {
			return err
		}
		pc, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		return err
	}); err != nil {
		n.t.Fatalf("router advertiser: %v", err)
	}
	p := pc.IPv6PacketConn()
	if err := p.JoinGroup(ifi, &net.IPAddr{IP: net.ParseIP("ff02::2")}); err != nil {
		n.t.Fatalf("router advertiser: join all-routers: %v", err)
	}
	_ = p.SetControlMessage(ipv6.FlagInterface, true)
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	_ = p.SetICMPFilter(&f)
	// Type 134, code 0, checksum (the kernel's), hop limit 64, no flags,
	// router lifetime 0, reachable time 0, retransmit timer 0; the source
	// link-layer address option.
	ra := append([]byte{134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, ifi.HardwareAddr...)
	allNodes := &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: "br0"}
	cm := &ipv6.ControlMessage{HopLimit: 255, IfIndex: ifi.Index}
	n.t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, _, err := p.ReadFrom(buf); err != nil {
				return
			}
			_, _ = p.WriteTo(ra, cm, allNodes)
		}
	}()
}
