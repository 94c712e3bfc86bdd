//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/ipmi"
)

// The end-to-end deploy test: a QEMU VM is the node. Its BMC is OpenIPMI's
// ipmi_sim, whose chassis_control program (testdata/e2e/chassisctl-qemu)
// starts QEMU on power on and kills it on power off; the VM network-boots
// the deploy ramdisk (`make ramdisk`) from ferric's boot server, its agent
// calls back to the API, writes an image served from loopback onto the VM's
// disk, and the VM reboots from that disk. QEMU's user network maps the
// guest's 10.0.2.2 to the host's loopback, so every server here listens on
// 127.0.0.1 and is known to the VM as 10.0.2.2:PORT.

const (
	e2eMAC    = "52:54:00:fe:2e:01" // the VM's NIC and the node's port
	e2eMarker = "FERRIC-E2E-BOOTED" // printed on COM1 by the image's boot sector
	e2eImage  = 32 << 20            // image size
	e2eDisk   = 128 << 20           // the VM's disk (sparse file): the image, then the config drive's 64 MiB
	// e2eSecret is in the deploy's config drive: it must reach the disk and
	// no Temporal history.
	e2eSecret = "e2e-admin-pass-7f3a9c"
	e2eBMCPW  = "secret" // testdata/e2e/lan.conf.in: user admin
)

// e2ePrereqs gates the test: it runs with FERRIC_E2E_QEMU=1, and must run
// (failing on missing prerequisites) when CI is set. It returns the QEMU and
// ipmi_sim binaries and the folder holding vmlinuz and initramfs.
func e2ePrereqs(t *testing.T) (qemu, ipmiSim, ramdisk string) {
	t.Helper()
	ci := os.Getenv("CI") != ""
	if os.Getenv("FERRIC_E2E_QEMU") != "1" && !ci {
		t.Skip("QEMU end-to-end deploy: set FERRIC_E2E_QEMU=1 (needs qemu-system-x86, ipxe-qemu, openipmi and `make ramdisk`; takes minutes under TCG)")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf("CI is set but a prerequisite of the QEMU end-to-end test is missing: "+format, args...)
		}
		t.Skipf("prerequisite missing: "+format, args...)
	}
	var err error
	if qemu, err = exec.LookPath("qemu-system-x86_64"); err != nil {
		missing("qemu-system-x86_64 (apt-get install qemu-system-x86 ipxe-qemu): %v", err)
	}
	if ipmiSim, err = exec.LookPath("ipmi_sim"); err != nil {
		missing("ipmi_sim (apt-get install openipmi): %v", err)
	}
	ramdisk = os.Getenv("FERRIC_E2E_RAMDISK_DIR")
	if ramdisk == "" {
		ramdisk = filepath.Join("..", "..", "ramdisk", "out")
	}
	if ramdisk, err = filepath.Abs(ramdisk); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vmlinuz", "initramfs"} {
		if _, err := os.Stat(filepath.Join(ramdisk, f)); err != nil {
			missing("deploy ramdisk (run `make ramdisk`, or set FERRIC_E2E_RAMDISK_DIR): %v", err)
		}
	}
	return qemu, ipmiSim, ramdisk
}

// e2eQEMUAccel is KVM only when the CPU really has it: /dev/kvm on these
// machines is a nested device without vmx/svm that hangs the guest.
func e2eQEMUAccel() string {
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	for _, flag := range []string{"vmx", "svm"} {
		if bytes.Contains(cpuinfo, []byte(" "+flag+" ")) || bytes.Contains(cpuinfo, []byte(" "+flag+"\n")) {
			if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
				f.Close()
				return "-accel kvm -cpu host"
			}
		}
	}
	return "-accel tcg -cpu max"
}

// e2eBootSector is a 512-byte MBR that prints the marker on COM1 and halts.
// SeaBIOS loads it at 0000:7C00 and jumps there in real mode. Hand-assembled
// (check with `objdump -D -b binary -mi8086 --adjust-vma=0x7c00`):
//
//	7C00  FA           cli                  ; no interrupts: hlt below is final
//	7C01  FC           cld                  ; lodsb counts up
//	7C02  31 C0        xor  ax, ax
//	7C04  8E D8        mov  ds, ax          ; DS:SI addresses the message
//	7C06  BA FB 03     mov  dx, 0x3FB       ; COM1 line control register
//	7C09  B0 03        mov  al, 0x03        ; 8N1, DLAB off: 0x3F8 is the data port
//	7C0B  EE           out  dx, al
//	7C0C  BE 1D 7C     mov  si, 0x7C1D      ; the message
//	7C0F  BA F8 03     mov  dx, 0x3F8       ; COM1 transmit holding register
//	7C12  AC           lodsb                ; loop: al = [ds:si++]
//	7C13  84 C0        test al, al
//	7C15  74 03        jz   0x7C1A          ; NUL ends the message
//	7C17  EE           out  dx, al          ; QEMU's UART sends at once, no LSR poll needed
//	7C18  EB F8        jmp  0x7C12
//	7C1A  F4           hlt                  ; halt: the VM stays on, idle
//	7C1B  EB FD        jmp  0x7C1A
//	7C1D  "FERRIC-E2E-BOOTED\r\n\0"
//	      zeros up to 0x1FD, then the boot signature 55 AA at 0x1FE.
func e2eBootSector() []byte {
	code := []byte{
		0xFA, 0xFC, 0x31, 0xC0, 0x8E, 0xD8,
		0xBA, 0xFB, 0x03, 0xB0, 0x03, 0xEE,
		0xBE, 0x1D, 0x7C, 0xBA, 0xF8, 0x03,
		0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8,
		0xF4, 0xEB, 0xFD,
	}
	code = append(code, e2eMarker+"\r\n\x00"...)
	s := make([]byte, 512)
	copy(s, code)
	s[510], s[511] = 0x55, 0xAA
	return s
}

// e2eDiskImage is the boot sector followed by deterministic pseudo-random
// bytes, so that a disk holding zeros or a partial write cannot match.
func e2eDiskImage(size int) []byte {
	img := make([]byte, size)
	copy(img, e2eBootSector())
	r := rand.NewChaCha8([32]byte{'f', 'e', 'r', 'r', 'i', 'c'})
	_, _ = r.Read(img[512:])
	return img
}

// e2eVMEnv is what chassisctl-qemu reads from <state>/vm.env.
type e2eVMEnv struct {
	QEMU, Accel, MAC, BootFile, Disk string
	MemMiB                           int
	// NetNS, Tap and Firmware are the L2 variant's (l2_deploy_test.go):
	// QEMU runs in namespace NetNS with its NIC on tap device Tap, and
	// Firmware "ovmf" boots UEFI. Empty: QEMU user networking, SeaBIOS.
	NetNS, Tap, Firmware string
}

// e2eBMC is ipmi_sim on a loopback UDP port powering the VM through
// chassisctl-qemu; its state folder holds the VM's serial logs.
type e2eBMC struct {
	t     *testing.T
	dir   string
	state string
	port  int
	cmd   *exec.Cmd
	out   bytes.Buffer
}

func startE2EBMC(t *testing.T, ipmiSim string, vm e2eVMEnv) *e2eBMC {
	t.Helper()
	dir := t.TempDir()
	b := &e2eBMC{t: t, dir: dir, state: filepath.Join(dir, "state"), port: e2eFreeUDP(t)}
	if err := os.Mkdir(b.state, 0o755); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join("testdata", "e2e", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	write := func(path, content string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "chassisctl-qemu"), read("chassisctl-qemu"), 0o755)
	write(filepath.Join(dir, "sim.emu"), read("sim.emu"), 0o644)
	write(filepath.Join(dir, "lan.conf"), strings.NewReplacer("@BIN@", dir, "@STATE@", b.state,
		"@PORT@", strconv.Itoa(b.port)).Replace(read("lan.conf.in")), 0o644)
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	write(filepath.Join(b.state, "vm.env"), fmt.Sprintf("QEMU=%s\nACCEL=%s\nMAC=%s\nBOOTFILE=%s\nDISK=%s\nMEM=%d\nOWNER=%d\n"+
		"NETNS=%s\nTAP=%s\nFIRMWARE=%s\n",
		q(vm.QEMU), q(vm.Accel), q(vm.MAC), q(vm.BootFile), q(vm.Disk), vm.MemMiB, os.Getpid(),
		q(vm.NetNS), q(vm.Tap), q(vm.Firmware)), 0o644)

	b.cmd = exec.Command(ipmiSim, "-c", filepath.Join(dir, "lan.conf"), "-f", filepath.Join(dir, "sim.emu"),
		"-s", filepath.Join(dir, "simstate"), "-n")
	b.cmd.Dir = dir
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	// If the test binary dies (go test -timeout panics without cleanups),
	// the kernel kills ipmi_sim, and chassisctl-qemu's watcher the VM.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start ipmi_sim: %v", err)
	}
	t.Cleanup(b.stop)

	// Wait until it answers (a power state read through ferric's driver).
	info, _ := json.Marshal(b.driverInfo())
	hw := ipmi.New(ipmi.Config{CallTimeout: time.Second, ExchangeTimeout: 200 * time.Millisecond, SessionIdleTimeout: -1})
	defer hw.Close(context.Background())
	probe, err := hw.Node(drivers.Node{UUID: "e2e-probe", DriverInfo: info})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := probe.PowerState(ctx)
		cancel()
		if err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("ipmi_sim on 127.0.0.1:%d did not answer: %v\n%s", b.port, err, b.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the VM (if on) and ipmi_sim, and logs the BMC's view of what
// happened when the test failed.
func (b *e2eBMC) stop() {
	if raw, err := os.ReadFile(filepath.Join(b.state, "qemu.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
	if b.t.Failed() {
		chassis, _ := os.ReadFile(filepath.Join(b.state, "chassis.log"))
		qout, _ := os.ReadFile(filepath.Join(b.state, "qemu.out"))
		b.t.Logf("ipmi_sim output:\n%s\nchassis.log:\n%s\nqemu.out:\n%s", b.out.String(), chassis, qout)
		for n := 1; n <= b.boots(); n++ {
			b.t.Logf("serial console of power-on %d:\n%s", n, e2eTail(b.serial(n), 6000))
		}
	}
}

func (b *e2eBMC) driverInfo() map[string]any {
	return map[string]any{"ipmi_address": "127.0.0.1", "ipmi_port": b.port, "ipmi_username": "admin",
		"ipmi_password": e2eBMCPW, "ipmi_cipher_suite": 3}
}

// boots is how many times the BMC has powered the VM on.
func (b *e2eBMC) boots() int {
	raw, _ := os.ReadFile(filepath.Join(b.state, "boots"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return n
}

// serial is the COM1 output of the nth power-on, without terminal escape
// sequences (SeaBIOS's serial console and iPXE send them) and control bytes.
func (b *e2eBMC) serial(n int) string {
	raw, _ := os.ReadFile(filepath.Join(b.state, fmt.Sprintf("serial-%d.log", n)))
	raw = e2eANSIEscape.ReplaceAll(raw, nil)
	return strings.Map(func(r rune) rune {
		if r == '\n' || r >= 0x20 && r != 0x7f {
			return r
		}
		return -1
	}, string(raw))
}

// e2eANSIEscape matches the terminal escape sequences on the serial console.
var e2eANSIEscape = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|c)`)

// e2ePowerOn is one power-on by the BMC: its number, when, and the -boot
// order (n: network, c: disk).
type e2ePowerOn struct {
	n     int
	at    time.Time
	order string
}

// powerOns lists the power-ons so far, from chassisctl-qemu's events file.
func (b *e2eBMC) powerOns() []e2ePowerOn {
	f, err := os.Open(filepath.Join(b.state, "events"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []e2ePowerOn
	sc := bufio.NewScanner(f)
	for sc.Scan() { // "<unix seconds.nanos> start <n> <order>"
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 || fs[1] != "start" {
			continue
		}
		sec, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(fs[2])
		out = append(out, e2ePowerOn{n: n, at: time.Unix(0, int64(sec*1e9)), order: fs[3]})
	}
	return out
}

func e2eTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func e2eFreeUDP(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func e2ePort(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// e2eServe serves h on 127.0.0.1:0 until the test ends and returns the
// port.
func e2eServe(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { // waits for handlers: they may log through t
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	})
	return e2ePort(ln.Addr().String())
}

// e2eImageServer serves the image at /img.raw (with Range support) and
// remembers when each download started and how long it took.
type e2eImageServer struct {
	img  []byte
	mu   sync.Mutex
	log  []string
	gets []time.Time
}

func (s *e2eImageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/img.raw" {
		http.NotFound(w, r)
		return
	}
	start := time.Now()
	s.mu.Lock()
	s.gets = append(s.gets, start)
	s.mu.Unlock()
	http.ServeContent(w, r, "img.raw", time.Time{}, bytes.NewReader(s.img))
	s.mu.Lock()
	s.log = append(s.log, fmt.Sprintf("%s %s range=%q from %s in %s", r.Method, r.URL.Path,
		r.Header.Get("Range"), r.RemoteAddr, time.Since(start).Round(time.Millisecond)))
	s.mu.Unlock()
}

// e2eAgentTap is a reverse proxy between the agent and the API: the agent's
// ferric.api_url points at it. It records when lookups first succeed and
// what the heartbeats report, which gives phase timings without hooks in
// the API.
type e2eAgentTap struct {
	t     *testing.T
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	// lookups are the times of successful lookups.
	lookups []time.Time
	// results are command results as reported, with the time seen.
	results []e2eTapResult
}

type e2eTapResult struct {
	at time.Time
	wire.CommandResult
}

func newE2EAgentTap(t *testing.T, api string) *e2eAgentTap {
	u, err := url.Parse(api)
	if err != nil {
		t.Fatal(err)
	}
	return &e2eAgentTap{t: t, proxy: httputil.NewSingleHostReverseProxy(u)}
}

func (a *e2eAgentTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rec := &e2eStatusRecorder{ResponseWriter: w}
	a.proxy.ServeHTTP(rec, r)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/lookup"):
		if rec.code == http.StatusOK {
			a.lookups = append(a.lookups, now)
		}
		a.t.Logf("agent tap: %s %s -> %d", r.Method, r.URL.RequestURI(), rec.code)
	case strings.HasPrefix(r.URL.Path, "/v1/heartbeat/"):
		var hb wire.Heartbeat
		if json.Unmarshal(body, &hb) == nil {
			for _, res := range hb.Results {
				a.results = append(a.results, e2eTapResult{at: now, CommandResult: res})
			}
		}
		if rec.code != http.StatusOK && rec.code != http.StatusAccepted && rec.code != http.StatusNoContent {
			a.t.Logf("agent tap: heartbeat -> %d", rec.code)
		}
	default:
		a.t.Logf("agent tap: %s %s -> %d", r.Method, r.URL.RequestURI(), rec.code)
	}
}

// firstLookup is the first successful lookup at or after since.
func (a *e2eAgentTap) firstLookup(since time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.lookups {
		if !l.Before(since) {
			return l, true
		}
	}
	return time.Time{}, false
}

// firstResult is the first report of command name in status after since.
func (a *e2eAgentTap) firstResult(since time.Time, name, status string) (e2eTapResult, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.results {
		if !r.at.Before(since) && r.Name == name && r.Status == status {
			return r, true
		}
	}
	return e2eTapResult{}, false
}

type e2eStatusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *e2eStatusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *e2eStatusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// waitSerial waits until the serial log of a power-on at or after from
// holds want, and returns that power-on and when want was seen.
func (b *e2eBMC) waitSerial(ctx context.Context, from int, want string) (int, time.Time, error) {
	for {
		for n := from; n <= b.boots(); n++ {
			if strings.Contains(b.serial(n), want) {
				return n, time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, time.Time{}, fmt.Errorf("%q not on the serial console of power-on %d or later: %w", want, from, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// e2eSince formats b-a for the timing logs ("?" when one is unknown).
func e2eSince(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return "?"
	}
	return fmt.Sprintf("%.1fs", b.Sub(a).Seconds())
}

func e2eWriteAt(t *testing.T, path string, p []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
}

func e2eReadAt(t *testing.T, path string, n int, off int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off); err != nil {
		t.Fatal(err)
	}
	return p
}

// startE2EStack is startStack with ferric's boot server on and ipmi for power:
// the API on 127.0.0.1 (the agent reaches it through tap, as
// http://10.0.2.2:TAPPORT), the boot server's HTTP side on bootHTTP
// (http://10.0.2.2:PORT for the VM), the ramdisk from ramdisk. Logs go to
// a file that is printed (its end) when the test fails.
func startE2EStack(t *testing.T, apiAddr, bootHTTP, agentAPIURL, ramdisk string) *stack {
	t.Helper()
	return startStack(t, "all", func(c *config) {
		c.taskQueue, c.apiAddr, c.conductor = "ferric-e2e", apiAddr, "ferric-e2e"
		c.fakeDrivers = false
		c.pollInterval = 500 * time.Millisecond
		// The boot server over HTTP only (recipe A: QEMU's DHCP hands iPXE
		// an http:// boot file, so no TFTP).
		c.bootHTTPAddr, c.bootPublicURL, c.ramdiskDir = bootHTTP, "http://10.0.2.2:"+e2ePort(bootHTTP), ramdisk
		c.agentAPIURL, c.agentHeartbeat, c.automatedClean = agentAPIURL, 2*time.Second, true
	})
}

// TestE2EDeployQEMU drives a QEMU VM through the REST API (gophercloud) with
// the ipmi driver, the boot server and the ramdisk agent:
//
//   - provide: automated cleaning boots the ramdisk and erases disk
//     metadata (stale bytes at both ends of the disk must be zeros after);
//   - deploy: the agent writes a 32 MiB raw image (a boot sector that prints
//     a marker on COM1, then pseudo-random bytes) from a loopback HTTP
//     server; the node must reach active, the VM must print the marker
//     after the BMC powers it on from disk, and once powered off through the
//     API the disk's first 32 MiB must hash to the image's sha256;
//   - rebuild with a wrong image_os_hash_value: deploy failed, never active,
//     and last_error names the checksum.
//
// Phase timings are logged. It needs qemu-system-x86_64 (+ ipxe-qemu),
// ipmi_sim (openipmi), `make ramdisk` and a test database (make test sets
// FERRIC_TEST_DATABASE_URL); about a minute under TCG:
//
//	make ramdisk && FERRIC_E2E_QEMU=1 make test GOTEST_FLAGS='-count=1 -run TestE2EDeployQEMU -v'
//
// With CI set it always runs and fails when a prerequisite is missing.
func TestE2EDeployQEMU(t *testing.T) {
	qemu, ipmiSim, ramdisk := e2ePrereqs(t)
	ctx := context.Background()

	img := e2eDiskImage(e2eImage)
	sum := sha256.Sum256(img)
	imgSHA := hex.EncodeToString(sum[:])
	imgs := &e2eImageServer{img: img}
	imgURL := "http://10.0.2.2:" + e2eServe(t, imgs) + "/img.raw"

	disk := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, e2eDisk); err != nil {
		t.Fatal(err)
	}

	apiAddr, bootHTTP := freeAddr(t), freeAddr(t)
	tap := newE2EAgentTap(t, "http://"+apiAddr)
	agentAPIURL := "http://10.0.2.2:" + e2eServe(t, tap)
	bmc := startE2EBMC(t, ipmiSim, e2eVMEnv{QEMU: qemu, Accel: e2eQEMUAccel(), MAC: e2eMAC,
		BootFile: "http://10.0.2.2:" + e2ePort(bootHTTP) + "/boot.ipxe", Disk: disk, MemMiB: 512})
	s := startE2EStack(t, apiAddr, bootHTTP, agentAPIURL, ramdisk)
	t.Logf("QEMU %s; image %d bytes, sha256 %s at %s; BMC 127.0.0.1:%d; boot server %s; agent API %s",
		e2eQEMUAccel(), len(img), imgSHA, imgURL, bmc.port, bootHTTP, agentAPIURL)

	// automated_clean is on (the default): provide boots the VM into the
	// ramdisk once and erases disk metadata through the agent (~12 s).
	// Stale metadata at both ends of the disk must be gone afterwards.
	stale := bytes.Repeat([]byte("STALE-METADATA!!"), 32)
	e2eWriteAt(t, disk, stale, 0)
	e2eWriteAt(t, disk, stale, e2eDisk-int64(len(stale)))
	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{
		Name: "e2e-vm", Driver: "ipmi", DriverInfo: bmc.driverInfo(),
		DeployInterface: "direct", BootInterface: "pxe", InspectInterface: "agent",
		Properties: map[string]any{"cpus": 1, "memory_mb": 512, "local_gb": 0},
	}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: e2eMAC}).Extract(); err != nil {
		t.Fatalf("create port: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable) // reads the power state through ipmi_sim

	t.Run("inspect through the agent", func(t *testing.T) {
		start := time.Now()
		if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
			nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
			t.Fatalf("inspect: %v", err)
		}
		got := s.e2eFollow(t, n.UUID, start, 8*time.Minute, "manageable", "inspect failed")
		if got.ProvisionState != "manageable" {
			t.Fatalf("inspection ended in %q (last_error %q)", got.ProvisionState, got.LastError)
		}
		lookup, _ := tap.firstLookup(start)
		t.Logf("timings: inspect request -> lookup %s; lookup -> manageable %s; inspect request -> manageable %s",
			e2eSince(start, lookup), e2eSince(lookup, time.Now()), e2eSince(start, time.Now()))
		// The inventory is the VM QEMU was started with.
		c := *s.client
		c.Microversion = "1.81"
		inv, err := nodes.GetInventory(ctx, &c, n.UUID).Extract()
		if err != nil {
			t.Fatalf("GetInventory: %v", err)
		}
		var nic *struct{ pci, vendor string }
		for _, i := range inv.Inventory.Interfaces {
			if i.MACAddress == e2eMAC {
				nic = &struct{ pci, vendor string }{i.PCIAddress, i.Vendor}
			}
		}
		if nic == nil || !strings.HasPrefix(nic.pci, "0000:00:") || nic.vendor != "0x1af4" {
			t.Errorf("the VM's virtio NIC %s is not in the inventory as such: %+v", e2eMAC, inv.Inventory.Interfaces)
		}
		if len(inv.Inventory.Disks) != 1 || inv.Inventory.Disks[0].Name != "/dev/vda" ||
			inv.Inventory.Disks[0].Size != e2eDisk {
			t.Errorf("disks %+v, want /dev/vda of %d bytes", inv.Inventory.Disks, e2eDisk)
		}
		if inv.Inventory.CPU.Count != 1 || inv.Inventory.CPU.Architecture != "x86_64" ||
			inv.Inventory.Memory.PhysicalMb != 512 || inv.Inventory.Boot.CurrentBootMode != "bios" {
			t.Errorf("cpu %+v memory %+v boot %+v, want QEMU's 1 CPU, -m 512, bios",
				inv.Inventory.CPU, inv.Inventory.Memory, inv.Inventory.Boot)
		}
		if _, err := inv.PluginData.AsStandardData(); err != nil {
			t.Errorf("typed plugin data: %v", err)
		}
		raw, _ := inv.PluginData.AsMap()
		var virtioNet bool
		devs, _ := raw["pci_devices"].([]any)
		for _, d := range devs {
			m, _ := d.(map[string]any)
			virtioNet = virtioNet || (m["vendor_id"] == "1af4" && m["product_id"] == "1000")
		}
		if !virtioNet {
			t.Errorf("PCI devices %v lack QEMU's virtio-net (1af4:1000)", raw["pci_devices"])
		}
		if got.Properties["cpus"] != float64(1) || got.Properties["memory_mb"] != float64(512) ||
			got.Properties["cpu_arch"] != "x86_64" {
			t.Errorf("properties %v", got.Properties)
		}
		ps, _ := ports.List(s.client, ports.ListOpts{NodeUUID: n.UUID, Fields: []string{"address", "pxe_enabled"}}).AllPages(ctx)
		list, _ := ports.ExtractPorts(ps)
		if len(list) != 1 || list[0].Address != e2eMAC || !list[0].PXEEnabled {
			t.Errorf("ports %+v: want the VM's NIC, pxe_enabled", list)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("provide cleans through the agent", func(t *testing.T) {
		start := time.Now()
		if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
			nodes.ProvisionStateOpts{Target: nodes.TargetProvide}).ExtractErr(); err != nil {
			t.Fatalf("provide: %v", err)
		}
		got := s.e2eFollow(t, n.UUID, start, 8*time.Minute, "available", "clean failed")
		if got.ProvisionState != "available" {
			t.Fatalf("provide ended in %q (last_error %q), want available", got.ProvisionState, got.LastError)
		}
		s.settle(t, n.UUID)
		lookup, _ := tap.firstLookup(start)
		erased, _ := tap.firstResult(start, wire.CmdEraseMetadata, wire.StatusSucceeded)
		t.Logf("timings: provide request -> lookup %s; lookup -> erase_metadata succeeded %s; provide request -> available %s",
			e2eSince(start, lookup), e2eSince(lookup, erased.at), e2eSince(start, time.Now()))
		for _, off := range []int64{0, e2eDisk - int64(len(stale))} {
			if b := e2eReadAt(t, disk, len(stale), off); !bytes.Equal(b, make([]byte, len(stale))) {
				t.Errorf("disk bytes at %d after cleaning: %q..., want zeros", off, b[:32])
			}
		}
	})
	if t.Failed() {
		return
	}

	setImage := func(hash string) {
		t.Helper()
		if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
			nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: imgURL},
			nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_algo", Value: "sha256"},
			nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_value", Value: hash},
		}).Extract(); err != nil {
			t.Fatalf("set instance_info: %v", err)
		}
	}

	t.Run("deploy", func(t *testing.T) {
		setImage(imgSHA)
		start := time.Now()
		cd := nodes.ConfigDrive{MetaData: map[string]any{"hostname": "e2e-vm", "admin_pass": e2eSecret},
			UserData: "#cloud-config\nfinal_message: ferric e2e config drive\n"}
		if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
			nodes.ProvisionStateOpts{Target: nodes.TargetActive, ConfigDrive: cd}).ExtractErr(); err != nil {
			t.Fatalf("deploy: %v", err)
		}
		got := s.e2eFollow(t, n.UUID, start, 8*time.Minute, "active", "deploy failed", "error")
		if got.ProvisionState != "active" {
			t.Fatalf("deploy ended in %q (last_error %q), want active", got.ProvisionState, got.LastError)
		}
		activeAt := time.Now()

		// The image was written (the agent said so), and only then did
		// the BMC power the VM on from its disk.
		written, ok := tap.firstResult(start, wire.CmdWriteImage, wire.StatusSucceeded)
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
		mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		markerBoot, markerAt, err := bmc.waitSerial(mctx, diskBoot.n, e2eMarker)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("serial console of power-on %d (from disk):\n%s", markerBoot, e2eTail(bmc.serial(markerBoot), 400))

		// Phase timings (for BENCHMARKS.md).
		var pxeOn time.Time
		for _, p := range bmc.powerOns() {
			if p.order == "n" && p.at.After(start) {
				pxeOn = p.at
				break
			}
		}
		lookup, _ := tap.firstLookup(start)
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
		t.Logf("image downloads: %v", imgs.log)

		// Power off through the API (IPMI -> ipmi_sim -> chassisctl kills
		// QEMU), then the disk must hold exactly the image.
		s.power(t, n.UUID, nodes.PowerOff, "power off")
		if _, err := os.Stat(filepath.Join(bmc.state, "qemu.pid")); err == nil {
			t.Error("the API says power off but the VM still runs")
		}
		if err := e2eImageOnDisk(disk, img); err != nil {
			t.Error(err)
		}
		// The config drive is on the disk, where cloud-init looks for it:
		// a partition after the image holding an ISO 9660 filesystem
		// labelled config-2 with the request's meta_data and user_data.
		e2eCheckConfigDrive(t, disk, int64(len(img)), n.UUID, `"hostname":"e2e-vm"`, e2eSecret)
		// ... and its secret is in no workflow history.
		e2eNoSecretInHistory(t, s, e2eSecret)
	})
	if t.Failed() {
		return
	}

	t.Run("rebuild with a wrong checksum fails", func(t *testing.T) {
		wrong := sha256.Sum256([]byte("not the image"))
		setImage(hex.EncodeToString(wrong[:]))
		start := time.Now()
		if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
			nodes.ProvisionStateOpts{Target: nodes.TargetRebuild}).ExtractErr(); err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		got := s.e2eFollow(t, n.UUID, start, 6*time.Minute, "active", "deploy failed", "error")
		if got.ProvisionState != "deploy failed" {
			t.Fatalf("rebuild with a wrong checksum ended in %q (last_error %q), want deploy failed, never active",
				got.ProvisionState, got.LastError)
		}
		t.Logf("last_error: %s", got.LastError)
		if !strings.Contains(strings.ToLower(got.LastError), "checksum") {
			t.Errorf("last_error %q does not mention the checksum", got.LastError)
		}
		if r, ok := tap.firstResult(start, wire.CmdWriteImage, wire.StatusFailed); ok {
			t.Logf("agent: write_image failed after %.1fs: %s", r.at.Sub(start).Seconds(), r.Error)
		}
	})
}

// e2eFollow polls the node until its provision state is one of ends, logging
// every change of state, power and deploy step. An end state counts only
// after the node was seen in another state, so that a rebuild, which starts
// from active, is followed to its end.
func (s *stack) e2eFollow(t *testing.T, id string, start time.Time, timeout time.Duration, ends ...string) *nodes.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last, moved := "", false
	for {
		n, err := nodes.Get(ctx, s.client, id).Extract()
		if err != nil {
			t.Fatalf("get node: %v", err)
		}
		step, _ := json.Marshal(n.DeployStep)
		now := fmt.Sprintf("%s -> %q, power %q, deploy_step %s", n.ProvisionState, n.TargetProvisionState, n.PowerState, step)
		if clean, _ := json.Marshal(n.CleanStep); len(n.CleanStep) > 0 {
			now += ", clean_step " + string(clean)
		}
		if now != last {
			t.Logf("%6.1fs  %s", time.Since(start).Seconds(), now)
			last = now
		}
		if !slices.Contains(ends, n.ProvisionState) {
			moved = true
		} else if moved {
			return n
		}
		if ctx.Err() != nil {
			t.Fatalf("timeout after %s: node %s is %s (last_error %q)", timeout, id, now, n.LastError)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// e2eImageOnDisk checks that the disk starts with the image, but for the
// MBR's partition entries, where the config drive adds its partition.
func e2eImageOnDisk(disk string, img []byte) error {
	f, err := os.Open(disk)
	if err != nil {
		return err
	}
	defer f.Close()
	got := make([]byte, len(img))
	if _, err := io.ReadFull(f, got); err != nil {
		return fmt.Errorf("read the disk: %w", err)
	}
	want := bytes.Clone(img)
	clear(got[446:510])
	clear(want[446:510])
	if !bytes.Equal(got, want) {
		return fmt.Errorf("the disk's first %d bytes are not the image (partition entries aside)", len(img))
	}
	return nil
}

// e2eCheckConfigDrive reads the VM's disk with sfdisk, blkid and isoinfo: a
// partition after the image's end holds the config drive.
func e2eCheckConfigDrive(t *testing.T, disk string, imageEnd int64, nodeUUID string, wantMeta ...string) {
	t.Helper()
	out, err := exec.Command("sfdisk", "--json", disk).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var tab struct {
		PartitionTable struct {
			Partitions []struct{ Start, Size int64 } `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &tab); err != nil || len(tab.PartitionTable.Partitions) != 1 {
		t.Fatalf("partition table %s (%v): want one config drive partition", out, err)
	}
	p := tab.PartitionTable.Partitions[0]
	start, size := p.Start*512, p.Size*512
	if start < imageEnd {
		t.Errorf("config drive at %d overlaps the image (%d bytes)", start, imageEnd)
	}
	if out, err := exec.Command("blkid", "-p", "-O", strconv.FormatInt(start, 10), "-o", "export", disk).Output(); err != nil ||
		!strings.Contains(string(out), "LABEL=config-2") || !strings.Contains(string(out), "TYPE=iso9660") {
		t.Errorf("blkid at %d: %s (%v)", start, out, err)
	}
	iso := filepath.Join(t.TempDir(), "configdrive.iso")
	raw, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(iso, raw[start:start+size], 0o644); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		"/openstack/latest/user_data":      {"final_message: ferric e2e config drive"},
		"/openstack/latest/meta_data.json": append(wantMeta, `"uuid":"`+nodeUUID+`"`),
	} {
		out, err := exec.Command("isoinfo", "-R", "-i", iso, "-x", file).Output()
		for _, w := range want {
			if err != nil || !strings.Contains(string(out), w) {
				t.Errorf("%s on the disk: %q (%v), want %q", file, out, err, w)
			}
		}
	}
	t.Logf("config drive: partition at %d MiB, %d MiB, label config-2", start>>20, size>>20)
}

// e2eNoSecretInHistory reads the history of every workflow of the
// namespace, open or closed, and fails if secret appears in any event.
func e2eNoSecretInHistory(t *testing.T, s *stack, secret string) {
	t.Helper()
	ctx := context.Background()
	c := s.temporal.GetDefaultClient()
	var token []byte
	runs := 0
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.namespace, PageSize: 100, NextPageToken: token})
		if err != nil {
			t.Fatalf("list workflows: %v", err)
		}
		for _, e := range resp.GetExecutions() {
			runs++
			it := c.GetWorkflowHistory(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, 0)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatalf("read history: %v", err)
				}
				if historyHolds(t, ev, secret) {
					t.Errorf("workflow %s holds the config drive's secret in event %d (%s)",
						e.GetExecution().GetWorkflowId(), ev.GetEventId(), ev.GetEventType())
				}
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if runs == 0 {
		t.Error("no workflow runs listed: the check saw nothing")
	}
	t.Logf("config drive secret absent from the histories of %d workflow runs", runs)
}
