package ssh

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/ferric-project/ferric/drivers"
)

// countingDialer counts TCP connections opened by a Hardware.
type countingDialer struct{ n atomic.Int64 }

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func newHardware(t testing.TB, cfg Config) (*Hardware, *countingDialer) {
	t.Helper()
	d := &countingDialer{}
	if cfg.Dial == nil {
		cfg.Dial = d.dial
	}
	h := New(cfg)
	t.Cleanup(func() { _ = h.Close() })
	return h, d
}

func mustNode(t testing.TB, h *Hardware, info json.RawMessage) *Node {
	t.Helper()
	n, err := h.node(drivers.Node{UUID: "n1", DriverInfo: info})
	if err != nil {
		t.Fatalf("driver_info rejected: %v", err)
	}
	return n
}

func TestSSHD(t *testing.T) {
	s := startSSHD(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	t.Run("registry power and management", func(t *testing.T) {
		s.addVM(t, "reg", "shut off", "hd")
		h, _ := newHardware(t, Config{})
		r := drivers.NewRegistry()
		h.Register(r)
		ifaces, err := r.ResolveInterfaces(TypeName, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ifaces[drivers.KindPower] != "ssh" || ifaces[drivers.KindManagement] != "ssh" ||
			ifaces[drivers.KindDeploy] != "direct" {
			t.Fatalf("default interfaces = %v", ifaces)
		}
		node := drivers.Node{UUID: "reg", DriverInfo: s.info("reg", nil)}
		p, err := r.Power("ssh", node)
		if err != nil {
			t.Fatal(err)
		}
		if err := drivers.Reboot(ctx, p, false); err != nil {
			t.Fatalf("Reboot: %v", err)
		}
		if got, err := p.PowerState(ctx); err != nil || got != drivers.PowerOn {
			t.Fatalf("PowerState() = %q, %v; want power on", got, err)
		}
		m, err := r.Management("ssh", node)
		if err != nil {
			t.Fatal(err)
		}
		if dev, _, err := m.BootDevice(ctx); err != nil || dev != drivers.BootDisk {
			t.Fatalf("BootDevice() = %q, %v; want disk", dev, err)
		}
	})

	t.Run("power round trip", func(t *testing.T) {
		s.addVM(t, "vm1", "shut off", "hd")
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm1", nil))
		if got, err := n.PowerState(ctx); err != nil || got != drivers.PowerOff {
			t.Fatalf("PowerState() = %q, %v; want power off", got, err)
		}
		if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
			t.Fatalf("SetPowerState(on): %v", err)
		}
		if got := s.vm("vm1", "power"); got != "running" {
			t.Fatalf("stand-in power = %q, want running", got)
		}
		before := len(s.calls())
		if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
			t.Fatalf("SetPowerState(on) again: %v", err)
		}
		if c := s.calls()[before:]; len(c) != 1 || !strings.Contains(c[0], "domstate") {
			t.Fatalf("power on of a running VM ran %q, want only domstate", c)
		}
		if got, err := n.PowerState(ctx); err != nil || got != drivers.PowerOn {
			t.Fatalf("PowerState() = %q, %v; want power on", got, err)
		}
		if err := n.SetPowerState(ctx, drivers.PowerOff); err != nil {
			t.Fatalf("SetPowerState(off): %v", err)
		}
		if got, err := n.PowerState(ctx); err != nil || got != drivers.PowerOff {
			t.Fatalf("PowerState() = %q, %v; want power off", got, err)
		}
		if err := n.SetPowerState(ctx, "rebooting"); !errors.Is(err, drivers.ErrUnsupported) {
			t.Fatalf("SetPowerState(rebooting) = %v, want ErrUnsupported", err)
		}
	})

	t.Run("virsh uri", func(t *testing.T) {
		s.addVM(t, "urivm", "running", "hd")
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("urivm", map[string]any{"ssh_virsh_uri": "qemu:///system"}))
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(s.state, "last_uri")); strings.TrimSpace(string(b)) != "qemu:///system" {
			t.Fatalf("virsh -c got %q", b)
		}
	})

	t.Run("reboot and soft power", func(t *testing.T) {
		s.addVM(t, "vm2", "running", "hd")
		h, _ := newHardware(t, Config{PollInterval: 20 * time.Millisecond})
		n := mustNode(t, h, s.info("vm2", nil))
		if err := n.Reboot(ctx); err != nil {
			t.Fatalf("Reboot: %v", err)
		}
		if got := s.vm("vm2", "resets"); got != "reset" {
			t.Fatalf("resets = %q, want a hard reset", got)
		}
		if err := n.SoftReboot(ctx, time.Second); err != nil {
			t.Fatalf("SoftReboot: %v", err)
		}
		if got := s.vm("vm2", "resets"); got != "reset\nreboot" {
			t.Fatalf("resets = %q, want reset then reboot", got)
		}
		if err := n.SoftPowerOff(ctx, 5*time.Second); err != nil {
			t.Fatalf("SoftPowerOff: %v", err)
		}
		if got := s.vm("vm2", "power"); got != "shut off" {
			t.Fatalf("power = %q after soft off", got)
		}
		if err := n.Reboot(ctx); err != nil { // off: reboot powers on
			t.Fatalf("Reboot when off: %v", err)
		}
		if got := s.vm("vm2", "power"); got != "running" {
			t.Fatalf("power = %q after reboot from off", got)
		}
	})

	t.Run("failing command carries stderr", func(t *testing.T) {
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("no-such-vm", nil))
		_, err := n.PowerState(ctx)
		if !errors.Is(err, drivers.ErrFailed) || !strings.Contains(err.Error(), "failed to get domain") {
			t.Fatalf("PowerState() = %v; want ErrFailed with virsh's stderr", err)
		}
	})

	t.Run("boot device", func(t *testing.T) {
		s.addVM(t, "vm3", "shut off", "hd")
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm3", nil))
		if dev, persistent, err := n.BootDevice(ctx); err != nil || dev != drivers.BootDisk || !persistent {
			t.Fatalf("BootDevice() = %q, %v, %v; want disk, persistent", dev, persistent, err)
		}
		for _, tc := range []struct {
			dev     drivers.BootDevice
			libvirt string
		}{{drivers.BootPXE, "network"}, {drivers.BootCDROM, "cdrom"}, {drivers.BootDisk, "hd"}, {drivers.BootPXE, "network"}} {
			if err := n.SetBootDevice(ctx, tc.dev, false); err != nil {
				t.Fatalf("SetBootDevice(%s): %v", tc.dev, err)
			}
			if got := s.vm("vm3", "boot"); got != tc.libvirt {
				t.Fatalf("stand-in boot dev = %q, want %q", got, tc.libvirt)
			}
			if dev, _, err := n.BootDevice(ctx); err != nil || dev != tc.dev {
				t.Fatalf("BootDevice() = %q, %v; want %q", dev, err, tc.dev)
			}
		}
		if err := n.SetBootDevice(ctx, drivers.BootBIOS, true); !errors.Is(err, drivers.ErrUnsupported) {
			t.Fatalf("SetBootDevice(bios) = %v, want ErrUnsupported", err)
		}
	})

	t.Run("vm name is shell-quoted", func(t *testing.T) {
		pwned := filepath.Join(s.state, "pwned")
		name := `x'; touch "$VIRSH_STATE/pwned"; echo '$(touch $VIRSH_STATE/pwned)` + "`touch $VIRSH_STATE/pwned`"
		s.addVM(t, name, "shut off", "hd")
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info(name, nil))
		if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
			t.Fatalf("SetPowerState(on): %v", err)
		}
		if got := s.vm(name, "power"); got != "running" {
			t.Fatalf("power = %q", got)
		}
		if err := n.SetBootDevice(ctx, drivers.BootPXE, true); err != nil {
			t.Fatalf("SetBootDevice: %v", err)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatal("the VM name was interpreted by the remote shell")
		}
	})

	t.Run("host key mismatch", func(t *testing.T) {
		s.addVM(t, "vm4", "running", "hd")
		otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
		ecPriv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader) // a type the server has no key of
		for name, key := range map[string]gossh.PublicKey{
			"other ed25519 key":   mustPublicKey(t, otherPub),
			"key type not served": mustPublicKey(t, &ecPriv.PublicKey),
		} {
			t.Run(name, func(t *testing.T) {
				h, _ := newHardware(t, Config{})
				n := mustNode(t, h, s.info("vm4", map[string]any{
					"ssh_host_key": "[127.0.0.1]:" + strconv.Itoa(s.port) + " " +
						string(gossh.MarshalAuthorizedKey(key))}))
				before := len(s.calls())
				_, err := n.PowerState(ctx)
				if !errors.Is(err, drivers.ErrAuth) || !errors.Is(err, ErrHostKeyMismatch) {
					t.Fatalf("PowerState() = %v; want ErrAuth and ErrHostKeyMismatch", err)
				}
				if after := len(s.calls()); after != before {
					t.Fatalf("a command ran despite the host key mismatch")
				}
				t.Log(err)
			})
		}
	})

	t.Run("insecure ignore host key", func(t *testing.T) {
		s.addVM(t, "vm5", "running", "hd")
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm5", map[string]any{"ssh_host_key": nil, "ssh_insecure_ignore_host_key": true}))
		if got, err := n.PowerState(ctx); err != nil || got != drivers.PowerOn {
			t.Fatalf("PowerState() = %q, %v", got, err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm5", map[string]any{"ssh_key_contents": string(pemBytes(t, other))}))
		_, err := n.PowerState(ctx)
		if !errors.Is(err, drivers.ErrAuth) || errors.Is(err, ErrHostKeyMismatch) {
			t.Fatalf("PowerState() = %v; want ErrAuth", err)
		}
		t.Log(err)
	})

	t.Run("wrong password", func(t *testing.T) {
		const secret = "not-root's-password-0xC0FFEE"
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm5", map[string]any{"ssh_key_contents": nil, "ssh_password": secret}))
		_, err := n.PowerState(ctx)
		if !errors.Is(err, drivers.ErrAuth) {
			t.Fatalf("PowerState() = %v; want ErrAuth", err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error quotes the password: %v", err)
		}
		t.Log(err)
	})

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closedPort := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm5", map[string]any{"ssh_port": closedPort}))
		if _, err := n.PowerState(ctx); !errors.Is(err, drivers.ErrUnreachable) {
			t.Fatalf("PowerState() on a closed port = %v; want ErrUnreachable", err)
		}

		// A server that accepts and never speaks: the handshake hangs.
		silent, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		var held []net.Conn
		var heldMu sync.Mutex
		go func() {
			for {
				c, err := silent.Accept()
				if err != nil {
					return
				}
				heldMu.Lock()
				held = append(held, c)
				heldMu.Unlock()
			}
		}()
		defer func() {
			heldMu.Lock()
			defer heldMu.Unlock()
			for _, c := range held {
				_ = c.Close()
			}
		}()
		info := s.info("vm5", map[string]any{"ssh_port": silent.Addr().(*net.TCPAddr).Port})

		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = mustNode(t, h, info).PowerState(short)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
			t.Fatalf("PowerState() with a 300ms deadline = %v after %v", err, time.Since(start))
		}

		h2, _ := newHardware(t, Config{DialTimeout: 300 * time.Millisecond})
		start = time.Now()
		_, err = mustNode(t, h2, info).PowerState(ctx)
		if !errors.Is(err, drivers.ErrUnreachable) || time.Since(start) > time.Second {
			t.Fatalf("PowerState() with DialTimeout 300ms = %v after %v; want ErrUnreachable", err, time.Since(start))
		}
	})

	t.Run("hung command is cancelled at the deadline", func(t *testing.T) {
		s.addVM(t, "vm6", "running", "hd")
		h, dials := newHardware(t, Config{})
		ok := mustNode(t, h, s.info("vm6", nil))
		if _, err := ok.PowerState(ctx); err != nil { // the connection the hang will share
			t.Fatal(err)
		}
		hang := mustNode(t, h, s.info("hang", nil))

		const deadline = time.Second
		hctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		var wg sync.WaitGroup
		var others []error
		wg.Go(func() { // other sessions on the same connection keep working meanwhile
			time.Sleep(200 * time.Millisecond)
			for range 5 {
				_, err := ok.PowerState(ctx)
				others = append(others, err)
			}
		})
		start := time.Now()
		_, err := hang.PowerState(hctx)
		elapsed := time.Since(start)
		wg.Wait()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PowerState(hang) = %v; want context.DeadlineExceeded", err)
		}
		if elapsed > deadline+time.Second {
			t.Fatalf("PowerState(hang) returned after %v; deadline was %v", elapsed, deadline)
		}
		t.Logf("hung call returned after %v (deadline %v)", elapsed, deadline)
		if err := errors.Join(others...); err != nil {
			t.Fatalf("concurrent calls during the hang: %v", err)
		}
		if got, err := ok.PowerState(ctx); err != nil || got != drivers.PowerOn {
			t.Fatalf("PowerState() after the hang = %q, %v", got, err)
		}
		if n := dials.n.Load(); n != 2 {
			t.Fatalf("%d connections; want 2 (the hung one is discarded)", n)
		}
		// The remote command was sent SIGKILL over the session. OpenSSH
		// refuses signal requests when privilege separation is off, which it
		// is for root logins (as here): the command then runs to its end.
		// Kill it ourselves so it does not outlive the test.
		b, _ := os.ReadFile(filepath.Join(s.state, "hang.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(200 * time.Millisecond)
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && pid > 0 {
			t.Logf("remote command %d survived the cancellation (sshd ignores signals for root logins)", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	t.Run("50 sequential calls share one connection", func(t *testing.T) {
		s.addVM(t, "vm7", "running", "hd")
		h, dials := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm7", nil))
		for i := range 50 {
			if _, err := n.PowerState(ctx); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if got := dials.n.Load(); got != 1 {
			t.Fatalf("%d TCP connections for 50 calls; want 1", got)
		}
	})

	t.Run("30 concurrent calls across nodes of one host", func(t *testing.T) {
		for i := range 3 {
			s.addVM(t, "c"+strconv.Itoa(i), "running", "hd")
		}
		h, dials := newHardware(t, Config{})
		var wg sync.WaitGroup
		errs := make([]error, 30)
		for i := range 30 {
			n := mustNode(t, h, s.info("c"+strconv.Itoa(i%3), nil))
			wg.Go(func() { _, errs[i] = n.PowerState(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		peak := h.peakSessions
		h.mu.Unlock()
		if got := dials.n.Load(); got != 1 || peak > 10 {
			t.Fatalf("%d connections, %d sessions at once; want 1 and <= 10", got, peak)
		}
		t.Logf("peak concurrent sessions: %d", peak)
	})

	t.Run("MaxSessions above the server's limit still succeeds", func(t *testing.T) {
		h, _ := newHardware(t, Config{MaxSessions: 30})
		var wg sync.WaitGroup
		errs := make([]error, 30)
		for i := range 30 {
			n := mustNode(t, h, s.info("c"+strconv.Itoa(i%3), nil))
			wg.Go(func() { _, errs[i] = n.PowerState(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("idle connection is closed", func(t *testing.T) {
		h, dials := newHardware(t, Config{IdleTimeout: 100 * time.Millisecond})
		n := mustNode(t, h, s.info("vm7", nil))
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		h.mu.Lock()
		live := len(h.live)
		h.mu.Unlock()
		if live != 0 {
			t.Fatalf("%d connections open after the idle timeout", live)
		}
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		if got := dials.n.Load(); got != 2 {
			t.Fatalf("%d connections; want 2", got)
		}
	})

	t.Run("command virt type", func(t *testing.T) {
		s.addVM(t, "cmdvm", "shut off", "hd")
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("cmdvm", map[string]any{
			"ssh_virt_type":           "command",
			"ssh_cmd_power_on":        "virsh start {vm}",
			"ssh_cmd_power_off":       "virsh destroy {vm}",
			"ssh_cmd_power_state":     "virsh domstate {vm}",
			"ssh_cmd_reboot":          "virsh reset {vm}",
			"ssh_cmd_get_boot_device": `virsh dumpxml {vm} | sed -n "s/.*<boot dev='\([a-z]*\)'.*/\1/p"`,
			"ssh_cmd_set_boot_device": "virt-xml {vm} --edit --boot {device}",
		}))
		if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
			t.Fatalf("SetPowerState(on): %v", err)
		}
		if got, err := n.PowerState(ctx); err != nil || got != drivers.PowerOn {
			t.Fatalf("PowerState() = %q, %v", got, err)
		}
		if err := n.Reboot(ctx); err != nil || s.vm("cmdvm", "resets") != "reset" {
			t.Fatalf("Reboot() = %v, resets %q", err, s.vm("cmdvm", "resets"))
		}
		if err := n.SetBootDevice(ctx, drivers.BootPXE, true); err != nil {
			t.Fatalf("SetBootDevice: %v", err)
		}
		if got := s.vm("cmdvm", "boot"); got != "pxe" { // {device} is the Ironic name
			t.Fatalf("boot = %q", got)
		}
		if dev, _, err := n.BootDevice(ctx); err != nil || dev != drivers.BootPXE {
			t.Fatalf("BootDevice() = %q, %v", dev, err)
		}
		if err := n.SetPowerState(ctx, drivers.PowerOff); err != nil || s.vm("cmdvm", "power") != "shut off" {
			t.Fatalf("SetPowerState(off) = %v", err)
		}
		if err := n.SoftPowerOff(ctx, time.Second); !errors.Is(err, drivers.ErrUnsupported) {
			t.Fatalf("SoftPowerOff() = %v; want ErrUnsupported", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		h, _ := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm7", nil))
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := n.PowerState(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("PowerState() after Close = %v; want ErrClosed", err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	})

	// Last: it restarts the server.
	t.Run("sshd restart between calls reconnects", func(t *testing.T) {
		h, dials := newHardware(t, Config{})
		n := mustNode(t, h, s.info("vm7", nil))
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		s.restart()
		if got, err := n.PowerState(ctx); err != nil || got != drivers.PowerOn {
			t.Fatalf("PowerState() after restart = %q, %v", got, err)
		}
		if got := dials.n.Load(); got != 2 {
			t.Fatalf("%d connections; want 2", got)
		}
	})
}

// BenchmarkPowerState measures one power state query against the real sshd:
// on the pooled connection, and with a fresh connection (dial, key exchange,
// public key auth) each time. It reports the median.
func BenchmarkPowerState(b *testing.B) {
	s := startSSHD(b)
	s.addVM(b, "bench", "running", "hd")
	ctx := b.Context()
	bench := func(b *testing.B, fresh bool) {
		info := s.info("bench", nil)
		h, _ := newHardware(b, Config{})
		n := mustNode(b, h, info)
		if _, err := n.PowerState(ctx); err != nil { // warm up
			b.Fatal(err)
		}
		var took []time.Duration
		for b.Loop() {
			if fresh {
				h = New(Config{})
				n = mustNode(b, h, info)
			}
			start := time.Now()
			if _, err := n.PowerState(ctx); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
			if fresh {
				_ = h.Close()
			}
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median/op")
	}
	b.Run("reused connection", func(b *testing.B) { bench(b, false) })
	b.Run("fresh connection", func(b *testing.B) { bench(b, true) })
	// What SSH itself costs per command, without the virsh stand-in (a
	// shell script that forks a few processes).
	b.Run("reused connection, true", func(b *testing.B) {
		h, _ := newHardware(b, Config{})
		n := mustNode(b, h, s.info("bench", nil))
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := h.run(ctx, n.cfg, "true"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median/op")
	})
}
