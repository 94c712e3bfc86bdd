package ipmi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// openIPMISim is OpenIPMI's ipmi_sim (Debian package openipmi) serving one
// BMC on a loopback port, with chassisctl keeping power and boot device in
// files under state.
type openIPMISim struct {
	t     testing.TB
	bin   string
	dir   string
	state string
	port  int
	cmd   *exec.Cmd
	out   bytes.Buffer
}

// startOpenIPMISim skips when ipmi_sim is not installed, unless CI is set.
func startOpenIPMISim(t testing.TB) *openIPMISim {
	t.Helper()
	bin, err := exec.LookPath("ipmi_sim")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ipmi_sim not found but CI is set: install Debian package openipmi: %v", err)
		}
		t.Skip("ipmi_sim not found: apt-get install -y openipmi to run the end-to-end IPMI test")
	}
	dir := t.TempDir()
	s := &openIPMISim{t: t, bin: bin, dir: dir, state: filepath.Join(dir, "state"), port: freeUDPPort(t)}
	if err := os.Mkdir(s.state, 0o755); err != nil {
		t.Fatal(err)
	}
	ctl, err := os.ReadFile("testdata/ipmi_sim/chassisctl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chassisctl"), ctl, 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile("testdata/ipmi_sim/lan.conf.in")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@BIN@", dir, "@STATE@", s.state, "addr 127.0.0.1 9623",
		"addr 127.0.0.1 "+strconv.Itoa(s.port)).Replace(string(tmpl))
	if !strings.Contains(conf, strconv.Itoa(s.port)) {
		t.Fatal("lan.conf.in no longer has the line addr 127.0.0.1 9623 to rewrite")
	}
	if err := os.WriteFile(filepath.Join(dir, "lan.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	emu, err := os.ReadFile("testdata/ipmi_sim/sim.emu")
	if err != nil {
		t.Fatal(err)
	}
	// FRU device 0 of the BMC, from a file (ipmi_sim_cmd(5) mc_add_fru_data).
	fru, img := filepath.Join(dir, "fru0.bin"), simFRU()
	if err := os.WriteFile(fru, img, 0o644); err != nil {
		t.Fatal(err)
	}
	addFRU := fmt.Sprintf("mc_add_fru_data 0x20 0 %d file 0 %q\nmc_enable 0x20", len(img), fru)
	if emu = bytes.Replace(emu, []byte("mc_enable 0x20"), []byte(addFRU), 1); !bytes.Contains(emu, []byte(fru)) {
		t.Fatal("sim.emu no longer has the line mc_enable 0x20 to add the FRU data before")
	}
	if err := os.WriteFile(filepath.Join(dir, "sim.emu"), emu, 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// simFRU is the FRU image ipmi_sim serves: a board info area (BoardCo,
// X11DPi, serial BSN-0042) and a product info area (Supermicro, a
// Latin-1 product name, no serial number), written by hand after the
// Platform Management FRU Information Storage Definition v1.0 rather than
// with go-ipmi's packer, so that ferric's reading is checked against an
// independent encoding.
func simFRU() []byte {
	return fruImage(
		// board: manufacturer, product name, serial number, part number, FRU file ID
		[]string{"BoardCo", "X11DPi", "BSN-0042", "PN-1", ""},
		// product: manufacturer, name, part/model, version, serial number, asset tag, FRU file ID
		[]string{"Supermicro", "Serveur mod\xe8le 1", "SYS-1029P", "1.0", "", "", ""},
	)
}

// fruImage builds a FRU image: the common header (format version 1,
// offsets in multiples of 8 bytes, zero checksum), then a board and a
// product info area, each of 8-bit ASCII fields, the end-of-fields mark,
// zero padding to a multiple of 8 bytes and a zero checksum.
func fruImage(boardFields, productFields []string) []byte {
	area := func(head []byte, fields []string) []byte {
		b := append([]byte{}, head...)
		for _, f := range fields {
			b = append(append(b, 0xc0|byte(len(f))), f...)
		}
		b = append(b, 0xc1) // end of fields
		for (len(b)+1)%8 != 0 {
			b = append(b, 0)
		}
		b[1] = byte((len(b) + 1) / 8) // area length
		return append(b, zeroSum(b))
	}
	board := area([]byte{1, 0, 0, 0, 0, 0}, boardFields) // version, length, language, mfg date (unspecified)
	product := area([]byte{1, 0, 0}, productFields)      // version, length, language
	hdr := []byte{1, 0, 0, 1, byte(1 + len(board)/8), 0, 0}
	img := append(append(hdr, zeroSum(hdr)), board...)
	return append(img, product...)
}

// zeroSum is the checksum byte that makes b's bytes sum to 0 modulo 256.
func zeroSum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func (s *openIPMISim) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-c", filepath.Join(s.dir, "lan.conf"), "-f", filepath.Join(s.dir, "sim.emu"),
		"-s", filepath.Join(s.dir, "simstate"), "-n")
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start ipmi_sim: %v", err)
	}
	// Wait until it answers, with a throwaway per-call driver.
	probe := newNode(s.t, New(Config{CallTimeout: time.Second, ExchangeTimeout: 200 * time.Millisecond, SessionIdleTimeout: -1}), s.info(nil))
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := probe.PowerState(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ipmi_sim on port %d did not answer: %v\n%s", s.port, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills ipmi_sim (it has no graceful stop worth waiting for).
func (s *openIPMISim) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// info is the driver_info for the admin user; ipmi_sim needs suite 3.
func (s *openIPMISim) info(extra map[string]any) json.RawMessage {
	m := map[string]any{"ipmi_address": "127.0.0.1", "ipmi_port": s.port, "ipmi_username": "admin",
		"ipmi_password": "secret", "ipmi_cipher_suite": 3}
	for k, v := range extra {
		m[k] = v
	}
	out, _ := json.Marshal(m)
	return out
}

func (s *openIPMISim) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.state, name))
	return strings.TrimSpace(string(b))
}

func TestAgainstIPMISim(t *testing.T) {
	sim := startOpenIPMISim(t)
	h := newHardware(t, testConfig(20*time.Second))
	n := newNode(t, h, sim.info(nil))
	ctx := timeout(t, 60*time.Second)

	t.Run("power on, off and state", func(t *testing.T) {
		for _, want := range []drivers.PowerState{drivers.PowerOn, drivers.PowerOff} {
			if err := n.SetPowerState(ctx, want); err != nil {
				t.Fatalf("SetPowerState(%q) = %v", want, err)
			}
			got, err := n.PowerState(ctx)
			if err != nil || got != want {
				t.Fatalf("PowerState() = %q, %v; want %q", got, err, want)
			}
			wantFile := map[drivers.PowerState]string{drivers.PowerOn: "1", drivers.PowerOff: "0"}[want]
			if f := sim.file("power"); f != wantFile {
				t.Errorf("chassisctl power file = %q, want %q", f, wantFile)
			}
		}
		if err := n.Reboot(ctx); err != nil {
			t.Fatalf("Reboot() = %v", err)
		}
		if f := sim.file("power"); f != "1" {
			t.Errorf("power file after reboot = %q, want 1", f)
		}
		if err := n.SoftPowerOff(ctx, 5*time.Second); err != nil {
			t.Fatalf("SoftPowerOff() = %v", err)
		}
		if f := sim.file("power"); f != "0" {
			t.Errorf("power file after soft power off = %q, want 0", f)
		}
	})

	t.Run("boot device reaches chassis_control", func(t *testing.T) {
		if err := n.SetBootDevice(ctx, drivers.BootPXE, true); err != nil {
			t.Fatalf("SetBootDevice(pxe) = %v", err)
		}
		if f := sim.file("boot"); f != "pxe" {
			t.Errorf("chassisctl boot file = %q, want pxe", f)
		}
		// ipmi_sim keeps only the device; persistence is lost (peers README).
		if dev, _, err := n.BootDevice(ctx); err != nil || dev != drivers.BootPXE {
			t.Errorf("BootDevice() = %q, %v; want pxe", dev, err)
		}
	})

	t.Run("send_raw Get Device ID", func(t *testing.T) {
		r, err := n.SendRaw(ctx, 0x06, 0x01, nil)
		// sim.emu: mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
		if err != nil || r.CompletionCode != 0 || len(r.Data) < 11 || r.Data[5] != 0x9f || r.Data[6] != 0x91 || r.Data[7] != 0x12 {
			t.Errorf("SendRaw(Get Device ID) = %+v, %v; want device support 0x9f, manufacturer 0x001291", r, err)
		}
	})

	t.Run("inspect reads the FRU and the LAN configuration", func(t *testing.T) {
		// Give the BMC an address and a MAC (Set LAN Configuration
		// Parameters on channel 1, as ipmitool lan set 1 ipaddr/macaddr).
		for _, set := range [][]byte{{0x01, 0x03, 192, 0, 2, 17}, {0x01, 0x05, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}} {
			if r, err := n.SendRaw(ctx, 0x0c, 0x01, set); err != nil || r.CompletionCode != 0 {
				t.Fatalf("Set LAN Configuration Parameters % x = %+v, %v", set, r, err)
			}
		}
		doc := inspect(t, ctx, n)
		want := inventory.SystemVendor{Manufacturer: "Supermicro", ProductName: "Serveur modèle 1",
			SerialNumber: "BSN-0042"} // no product serial: the board's
		inv := doc.Inventory
		if inv.SystemVendor != want || inv.BMCAddress != "192.0.2.17" || inv.BMCMAC != "52:54:00:ab:cd:ef" ||
			inv.BMCV6Address != "" {
			t.Errorf("inventory = %+v", inv)
		}
		// sim.emu: mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 (ipmitool mc info: 9.08).
		b := doc.PluginData.BMC
		if b.FirmwareVersion != "9.08" || b.IPMIVersion != "2.0" || b.ManufacturerID != 0x1291 ||
			b.ProductID != 0x0f02 {
			t.Errorf("plugin_data.bmc = %+v", b)
		}
		if u := b.Unavailable; len(u) != 1 || !strings.Contains(u["lan6"], "0x80") {
			t.Errorf("unavailable = %q; want only lan6 (ipmi_sim has no IPv6 parameters)", u)
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		for _, extra := range []map[string]any{{"ipmi_password": "wrong-password"}, {"ipmi_username": "nobody"}} {
			_, err := newNode(t, h, sim.info(extra)).PowerState(ctx)
			if !errors.Is(err, drivers.ErrAuth) {
				t.Errorf("PowerState(%v) = %v, want ErrAuth", extra, err)
			}
			if err != nil && strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error reveals the password: %v", err)
			}
		}
	})

	t.Run("BMC restarted mid-run", func(t *testing.T) {
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		sim.stop()
		sim.start()
		start := time.Now()
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatalf("PowerState() after ipmi_sim restart = %v", err)
		}
		t.Logf("first call after the restart took %s (stale session dropped, fresh one opened)", time.Since(start))
	})

	t.Run("BMC hung (SIGSTOP) fails at the deadline, then recovers", func(t *testing.T) {
		if err := sim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := n.PowerState(ctx)
		d := time.Since(start)
		if err := sim.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(err, drivers.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PowerState() against a hung BMC = %v, want ErrUnreachable", err)
		}
		if d > 1500*time.Millisecond {
			t.Errorf("took %s past a 1s deadline", d)
		}
		if _, err := n.PowerState(timeout(t, 5*time.Second)); err != nil {
			t.Errorf("PowerState() after SIGCONT = %v", err)
		}
	})

	t.Run("BMC killed", func(t *testing.T) {
		sim.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := n.PowerState(ctx)
		if !errors.Is(err, drivers.ErrUnreachable) {
			t.Fatalf("PowerState() with ipmi_sim killed = %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("took %s past a 2s deadline", d)
		}
	})
}
