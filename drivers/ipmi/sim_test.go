package ipmi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/ipmi/ipmisim"
)

// testConfig is fast: short polls, short UDP timeouts.
func testConfig(idle time.Duration) Config {
	return Config{SessionIdleTimeout: idle, CallTimeout: 5 * time.Second, ExchangeTimeout: 300 * time.Millisecond,
		PollInterval: 10 * time.Millisecond, PowerStateTimeout: 2 * time.Second}
}

// sessionModes are the two ways of using sessions; every scenario runs in both.
func sessionModes() []struct {
	name string
	idle time.Duration
} {
	return []struct {
		name string
		idle time.Duration
	}{{"cached", 20 * time.Second}, {"per-call", -1}}
}

func newHardware(t testing.TB, cfg Config) *Hardware {
	t.Helper()
	h := New(cfg)
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("Hardware.Close() = %v", err)
		}
	})
	return h
}

// startSim runs go-ipmi's reference BMC in process on 127.0.0.1:0.
func startSim(t testing.TB, opts ipmisim.Options) *ipmisim.BMC {
	t.Helper()
	b, err := ipmisim.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start simulated BMC: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newNode(t testing.TB, h *Hardware, info json.RawMessage) *Node {
	t.Helper()
	n, err := h.Node(drivers.Node{UUID: "node-1", DriverInfo: info})
	if err != nil {
		t.Fatalf("Node(%s) = %v", info, err)
	}
	return n
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestAgainstGoIPMIServer(t *testing.T) {
	for _, mode := range sessionModes() {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			h := newHardware(t, testConfig(mode.idle))
			sim := startSim(t, ipmisim.Options{SoftOffDelay: 50 * time.Millisecond, Users: []ipmisim.User{
				{Name: "operator", Password: "op-pass", Privilege: "OPERATOR"},
				{Name: "viewer", Password: "view-pass", Privilege: "USER"},
			}})
			n := newNode(t, h, sim.DriverInfo(nil))
			ctx := timeout(t, 20*time.Second)

			t.Run("power on, off and read back", func(t *testing.T) {
				for _, want := range []drivers.PowerState{drivers.PowerOn, drivers.PowerOff, drivers.PowerOn} {
					if err := n.SetPowerState(ctx, want); err != nil {
						t.Fatalf("SetPowerState(%q) = %v", want, err)
					}
					got, err := n.PowerState(ctx)
					if err != nil || got != want {
						t.Fatalf("PowerState() = %q, %v; want %q", got, err, want)
					}
					if on := sim.Chassis().On(); on != (want == drivers.PowerOn) {
						t.Fatalf("simulated chassis on = %v after %q", on, want)
					}
				}
				if err := n.SetPowerState(ctx, "sleeping"); !errors.Is(err, drivers.ErrUnsupported) {
					t.Errorf("SetPowerState(sleeping) = %v, want ErrUnsupported", err)
				}
			})

			t.Run("reboot cycles a running node and powers up a stopped one", func(t *testing.T) {
				before := sim.Chassis().Counts().PowerCycles
				if err := n.Reboot(ctx); err != nil {
					t.Fatalf("Reboot() = %v", err)
				}
				if got := sim.Chassis().Counts().PowerCycles; got != before+1 {
					t.Errorf("power cycles = %d, want %d", got, before+1)
				}
				if err := n.SetPowerState(ctx, drivers.PowerOff); err != nil {
					t.Fatal(err)
				}
				if err := n.Reboot(ctx); err != nil {
					t.Fatalf("Reboot() from off = %v", err)
				}
				if !sim.Chassis().On() || sim.Chassis().Counts().PowerCycles != before+1 {
					t.Errorf("after reboot from off: on=%v cycles=%d", sim.Chassis().On(), sim.Chassis().Counts().PowerCycles)
				}
			})

			t.Run("a node that keeps its power is reset, never cycled", func(t *testing.T) {
				keep, err := h.Node(drivers.Node{UUID: "node-1", DriverInfo: sim.DriverInfo(nil), DisablePowerOff: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
					t.Fatal(err)
				}
				before := sim.Chassis().Counts()
				if err := keep.Reboot(ctx); err != nil {
					t.Fatalf("Reboot() = %v", err)
				}
				after := sim.Chassis().Counts()
				if after.HardResets != before.HardResets+1 || after.PowerCycles != before.PowerCycles || !sim.Chassis().On() {
					t.Errorf("resets %d -> %d, cycles %d -> %d, on %v; want one reset, no cycle, on", before.HardResets,
						after.HardResets, before.PowerCycles, after.PowerCycles, sim.Chassis().On())
				}
				if err := keep.SoftReboot(ctx, time.Second); !errors.Is(err, drivers.ErrUnsupported) || !sim.Chassis().On() {
					t.Errorf("SoftReboot() = %v, on %v; want ErrUnsupported and nothing done", err, sim.Chassis().On())
				}
			})

			t.Run("soft power off waits for the OS", func(t *testing.T) {
				if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := n.SoftPowerOff(ctx, 2*time.Second); err != nil {
					t.Fatalf("SoftPowerOff() = %v", err)
				}
				if d := time.Since(start); d < 50*time.Millisecond {
					t.Errorf("SoftPowerOff returned after %s, before the simulated OS shut down", d)
				}
				if sim.Chassis().On() {
					t.Error("chassis still on")
				}
				if err := n.SoftPowerOff(ctx, time.Second); err != nil {
					t.Errorf("SoftPowerOff() when already off = %v", err)
				}
				if err := n.SoftReboot(ctx, 2*time.Second); err != nil || !sim.Chassis().On() {
					t.Errorf("SoftReboot() = %v, on = %v", err, sim.Chassis().On())
				}
			})

			t.Run("boot device, persistent and one-time", func(t *testing.T) {
				for _, tc := range []struct {
					dev        drivers.BootDevice
					persistent bool
				}{{drivers.BootPXE, true}, {drivers.BootDisk, false}, {drivers.BootBIOS, false},
					{drivers.BootCDROM, true}, {drivers.BootSafe, false}} {
					if err := n.SetBootDevice(ctx, tc.dev, tc.persistent); err != nil {
						t.Fatalf("SetBootDevice(%s, %v) = %v", tc.dev, tc.persistent, err)
					}
					dev, persistent, err := n.BootDevice(ctx)
					if err != nil || dev != tc.dev || persistent != tc.persistent {
						t.Fatalf("BootDevice() = %q, %v, %v; want %q, %v", dev, persistent, err, tc.dev, tc.persistent)
					}
				}
				if f := sim.Chassis().BootFlags(); f.BIOSBootType != types.BIOSBootTypeEFI || !f.BootFlagsValid {
					t.Errorf("boot flags %+v: want valid, EFI (default boot mode uefi)", f)
				}
				legacy := newNode(t, h, sim.DriverInfo(nil))
				legacy.bootMode = bootModeOf(drivers.Node{Properties: json.RawMessage(`{"capabilities":"boot_mode:bios"}`)}, "uefi")
				if err := legacy.SetBootDevice(ctx, drivers.BootPXE, false); err != nil {
					t.Fatal(err)
				}
				if f := sim.Chassis().BootFlags(); f.BIOSBootType != types.BIOSBootTypeLegacy {
					t.Errorf("boot flags %+v: want legacy for boot_mode:bios", f)
				}
				if err := n.SetBootDevice(ctx, "floppy", false); !errors.Is(err, drivers.ErrUnsupported) {
					t.Errorf("SetBootDevice(floppy) = %v, want ErrUnsupported", err)
				}
			})

			t.Run("credentials and privileges", func(t *testing.T) {
				for _, tc := range []struct {
					name string
					info map[string]any
				}{
					{"wrong password", map[string]any{"ipmi_password": "wrong-password"}},
					{"unknown user", map[string]any{"ipmi_username": "nobody"}},
					{"operator asking for administrator", map[string]any{"ipmi_username": "operator", "ipmi_password": "op-pass"}},
				} {
					bad := newNode(t, h, sim.DriverInfo(tc.info))
					_, err := bad.PowerState(ctx)
					if !errors.Is(err, drivers.ErrAuth) {
						t.Errorf("%s: PowerState() = %v, want ErrAuth", tc.name, err)
					}
					if err != nil && strings.Contains(err.Error(), "wrong-password") {
						t.Errorf("%s: error reveals the password: %v", tc.name, err)
					}
				}
				viewer := newNode(t, h, sim.DriverInfo(map[string]any{"ipmi_username": "viewer",
					"ipmi_password": "view-pass", "ipmi_priv_level": "USER"}))
				if _, err := viewer.PowerState(ctx); err != nil {
					t.Errorf("USER PowerState() = %v", err)
				}
				if err := viewer.SetPowerState(ctx, drivers.PowerOff); !errors.Is(err, drivers.ErrAuth) {
					t.Errorf("USER SetPowerState() = %v, want ErrAuth (insufficient privilege)", err)
				}
				op := newNode(t, h, sim.DriverInfo(map[string]any{"ipmi_username": "operator",
					"ipmi_password": "op-pass", "ipmi_priv_level": "OPERATOR"}))
				if err := op.SetPowerState(ctx, drivers.PowerOn); err != nil {
					t.Errorf("OPERATOR SetPowerState() = %v", err)
				}
				// The administrator's session comes back after other users.
				if _, err := n.PowerState(ctx); err != nil {
					t.Errorf("PowerState() after other users = %v", err)
				}
			})

			t.Run("send_raw round trip", func(t *testing.T) {
				for _, args := range []string{`{"netfn": 6, "command": 1}`, `{"netfn": "0x06", "command": "0x01", "data": []}`,
					`{"raw_bytes": "0x06 0x01"}`} {
					out, err := n.CallVendor(ctx, MethodSendRaw, json.RawMessage(args))
					if err != nil {
						t.Fatalf("send_raw %s = %v", args, err)
					}
					var r RawReply
					if err := json.Unmarshal(out, &r); err != nil {
						t.Fatal(err)
					}
					// Get Device ID: device ID 0x20, manufacturer 0x001291 (ipmisim's).
					if r.CompletionCode != 0 || len(r.Data) < 11 || r.Data[0] != 0x20 || r.Data[6] != 0x91 || r.Data[7] != 0x12 {
						t.Fatalf("send_raw %s = %s", args, out)
					}
				}
				out, err := n.CallVendor(ctx, MethodSendRaw, json.RawMessage(`{"netfn": 6, "command": 255, "data": "0x01 0x02"}`))
				if err != nil || !strings.Contains(string(out), `"completion_code":193`) {
					t.Errorf("send_raw of an unknown command = %s, %v; want completion code 0xc1 in the reply", out, err)
				}
				for _, args := range []string{`{"netfn": 7, "command": 1}`, `{"netfn": 6}`, `{"raw_bytes": "0x06"}`,
					`{"netfn": 6, "command": 1, "data": ["0x1ff"]}`, `{"netfn": 6, "command": 1, "extra": 1}`, `[]`} {
					if _, err := n.CallVendor(ctx, MethodSendRaw, json.RawMessage(args)); !errors.Is(err, drivers.ErrBadConfig) {
						t.Errorf("send_raw %s = %v, want ErrBadConfig", args, err)
					}
				}
				if _, err := n.CallVendor(ctx, "nope", nil); !errors.Is(err, drivers.ErrUnsupported) {
					t.Errorf("unknown vendor method = %v, want ErrUnsupported", err)
				}
			})

			t.Run("bmc_reset", func(t *testing.T) {
				before := sim.Chassis().Counts()
				for _, args := range []string{`{}`, `{"warm": false}`, `{"warm": "true"}`} {
					if _, err := n.CallVendor(ctx, MethodBMCReset, json.RawMessage(args)); err != nil {
						t.Fatalf("bmc_reset %s = %v", args, err)
					}
				}
				c := sim.Chassis().Counts()
				if c.BMCWarmResets != before.BMCWarmResets+2 || c.BMCColdResets != before.BMCColdResets+1 {
					t.Errorf("resets warm %d cold %d, want +2 and +1 over %+v", c.BMCWarmResets, c.BMCColdResets, before)
				}
				if _, err := n.CallVendor(ctx, MethodBMCReset, json.RawMessage(`{"cold": true}`)); !errors.Is(err, drivers.ErrBadConfig) {
					t.Errorf("bmc_reset with an unknown argument = %v, want ErrBadConfig", err)
				}
			})

			t.Run("IPMI 1.5", func(t *testing.T) {
				n15 := newNode(t, h, sim.DriverInfo(map[string]any{"ipmi_protocol_version": "1.5"}))
				if _, err := n15.PowerState(ctx); err != nil {
					t.Errorf("PowerState() over IPMI 1.5 = %v", err)
				}
			})
		})
	}
}

func TestPinnedCipherSuites(t *testing.T) {
	t.Parallel()
	sim := startSim(t, ipmisim.Options{})
	h := newHardware(t, testConfig(-1))
	ctx := timeout(t, 10*time.Second)
	for _, cs := range []int{3, 17} {
		n := newNode(t, h, sim.DriverInfo(map[string]any{"ipmi_cipher_suite": cs}))
		if _, err := n.PowerState(ctx); err != nil {
			t.Errorf("cipher suite %d: PowerState() = %v", cs, err)
		}
	}
}

// TestConcurrentCallsToOneBMC: a go-ipmi client is not goroutine-safe; the
// per-BMC slot must make 20 concurrent callers (each with its own Node, as
// activities have) all succeed, with at most one session per BMC.
func TestConcurrentCallsToOneBMC(t *testing.T) {
	for _, mode := range sessionModes() {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			h := newHardware(t, testConfig(mode.idle))
			sim := startSim(t, ipmisim.Options{})
			ctx := timeout(t, 30*time.Second)
			var wg sync.WaitGroup
			errs := make(chan error, 20*10)
			for g := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n := newNode(t, h, sim.DriverInfo(nil))
					for i := range 10 {
						var err error
						switch (g + i) % 3 {
						case 0:
							_, err = n.PowerState(ctx)
						case 1:
							err = n.SetPowerState(ctx, drivers.PowerOn)
						case 2:
							_, _, err = n.BootDevice(ctx)
						}
						if err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("concurrent call: %v", err)
			}
			if c := h.sessionCount(); c > 1 {
				t.Errorf("%d cached sessions to one BMC, want at most 1", c)
			}
		})
	}
}

// silentBMC is a UDP socket that never answers.
func silentBMC(t *testing.T) json.RawMessage {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return json.RawMessage(`{"ipmi_address":"127.0.0.1","ipmi_port":` +
		itoa(pc.LocalAddr().(*net.UDPAddr).Port) + `,"ipmi_username":"admin","ipmi_password":"password"}`)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestUnreachableBMC(t *testing.T) {
	t.Parallel()
	t.Run("silent BMC fails at the caller's deadline", func(t *testing.T) {
		t.Parallel()
		h := newHardware(t, testConfig(20*time.Second))
		n := newNode(t, h, silentBMC(t))
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := n.PowerState(ctx)
		if !errors.Is(err, drivers.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PowerState() = %v, want ErrUnreachable and DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 1200*time.Millisecond {
			t.Errorf("PowerState() took %s past a 700ms deadline", d)
		}
	})
	t.Run("silent BMC without a caller deadline is bounded by CallTimeout", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(-1)
		cfg.CallTimeout = 500 * time.Millisecond
		cfg.ExchangeTimeout = 5 * time.Second // would block 25 s without the call deadline
		h := newHardware(t, cfg)
		n := newNode(t, h, silentBMC(t))
		start := time.Now()
		_, err := n.PowerState(context.Background())
		if !errors.Is(err, drivers.ErrUnreachable) {
			t.Fatalf("PowerState() = %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("PowerState() took %s with a 500ms CallTimeout", d)
		}
	})
	t.Run("closed port is refused at once", func(t *testing.T) {
		t.Parallel()
		sim := startSim(t, ipmisim.Options{})
		info := sim.DriverInfo(nil)
		_ = sim.Close()
		h := newHardware(t, testConfig(-1))
		n := newNode(t, h, info)
		start := time.Now()
		_, err := n.PowerState(timeout(t, 5*time.Second))
		if !errors.Is(err, drivers.ErrUnreachable) {
			t.Fatalf("PowerState() = %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refused connection took %s", d)
		}
	})
	t.Run("cancellation is honoured and is not an unreachable BMC", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(-1)
		cfg.ExchangeTimeout = 2 * time.Second // go-ipmi's reader outlives the cancel by up to this
		h := newHardware(t, cfg)
		n := newNode(t, h, silentBMC(t))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := n.SetPowerState(ctx, drivers.PowerOn)
		if !errors.Is(err, context.Canceled) || errors.Is(err, drivers.ErrUnreachable) {
			t.Fatalf("SetPowerState() = %v, want context.Canceled and not ErrUnreachable", err)
		}
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("cancelled call returned after %s, cancel was at 200ms", d)
		}
	})
	t.Run("waiting for a busy BMC honours the deadline", func(t *testing.T) {
		t.Parallel()
		h := newHardware(t, testConfig(-1))
		info := silentBMC(t)
		slow, fast := newNode(t, h, info), newNode(t, h, info)
		go func() { _, _ = slow.PowerState(timeout(t, 2*time.Second)) }()
		time.Sleep(50 * time.Millisecond) // let slow take the BMC
		start := time.Now()
		_, err := fast.PowerState(timeout(t, 300*time.Millisecond))
		if !errors.Is(err, drivers.ErrUnreachable) || time.Since(start) > 600*time.Millisecond {
			t.Errorf("queued PowerState() = %v after %s, want ErrUnreachable at 300ms", err, time.Since(start))
		}
	})
}

func TestBMCRestartRecovers(t *testing.T) {
	t.Parallel()
	h := newHardware(t, testConfig(20*time.Second))
	sim := startSim(t, ipmisim.Options{PoweredOn: true})
	n := newNode(t, h, sim.DriverInfo(nil))
	ctx := timeout(t, 10*time.Second)
	if _, err := n.PowerState(ctx); err != nil {
		t.Fatal(err)
	}
	if h.sessionCount() != 1 {
		t.Fatalf("no cached session")
	}
	if err := sim.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st, err := n.PowerState(ctx)
	if err != nil || st != drivers.PowerOn {
		t.Fatalf("PowerState() after BMC restart = %q, %v", st, err)
	}
	t.Logf("first call after the BMC restart took %s", time.Since(start))
}

func TestMinCommandInterval(t *testing.T) {
	t.Parallel()
	cfg := testConfig(20 * time.Second)
	cfg.MinCommandInterval = 100 * time.Millisecond
	h := newHardware(t, cfg)
	sim := startSim(t, ipmisim.Options{})
	other := startSim(t, ipmisim.Options{})
	n, m := newNode(t, h, sim.DriverInfo(nil)), newNode(t, h, other.DriverInfo(nil))
	ctx := timeout(t, 10*time.Second)
	start := time.Now()
	for range 4 {
		if _, err := n.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("4 commands to one BMC took %s, want >= 3 x 100ms", d)
	}
	// Another BMC is not held back by the first one's pacing.
	start = time.Now()
	if _, err := m.PowerState(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 80*time.Millisecond {
		t.Errorf("first command to another BMC waited %s", d)
	}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	cfg := testConfig(150 * time.Millisecond)
	h := New(cfg)
	sim := startSim(t, ipmisim.Options{})
	n := newNode(t, h, sim.DriverInfo(nil))
	ctx := timeout(t, 10*time.Second)
	if _, err := n.PowerState(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.sessionCount(); got != 1 {
		t.Fatalf("sessions after a call = %d, want 1", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.sessionCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle session was not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.mu.Lock()
	left := len(h.bmcs)
	h.mu.Unlock()
	if left != 0 {
		t.Errorf("%d idle BMC entries kept after the session closed", left)
	}
	if _, err := n.PowerState(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := h.sessionCount(); got != 0 {
		t.Errorf("sessions after Close = %d", got)
	}
	if _, err := n.PowerState(ctx); err != nil || h.sessionCount() != 0 {
		t.Errorf("after Close: PowerState() = %v with %d cached sessions; want per-call sessions", err, h.sessionCount())
	}
}

// TestGoIPMIHidesAuthErrors pins the go-ipmi quirk that classify works
// around: Connect's error for a wrong password does not wrap
// client.ErrRAKPAuthentication. If this starts failing, go-ipmi fixed the
// chain and the string match in classify can go.
func TestGoIPMIHidesAuthErrors(t *testing.T) {
	t.Parallel()
	sim := startSim(t, ipmisim.Options{})
	c, err := client.NewClient(sim.Host, sim.Port, sim.Username, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	c.WithTimeout(300 * time.Millisecond)
	err = c.Connect(timeout(t, 5*time.Second))
	if err == nil {
		t.Fatal("Connect with a wrong password succeeded")
	}
	if errors.Is(err, client.ErrRAKPAuthentication) {
		t.Errorf("go-ipmi now wraps ErrRAKPAuthentication through Connect; simplify classify: %v", err)
	}
	if !strings.Contains(err.Error(), client.ErrRAKPAuthentication.Error()) {
		t.Errorf("Connect error no longer names %q: %v", client.ErrRAKPAuthentication, err)
	}
	if got := classify(context.Background(), err, phaseConnect); got != drivers.ErrAuth {
		t.Errorf("classify(%v) = %v, want ErrAuth", err, got)
	}
}

func TestSoftPowerOffTimeout(t *testing.T) {
	t.Parallel()
	h := newHardware(t, testConfig(20*time.Second))
	sim := startSim(t, ipmisim.Options{PoweredOn: true, SoftOffDelay: time.Hour}) // the OS ignores ACPI
	n := newNode(t, h, sim.DriverInfo(nil))
	start := time.Now()
	err := n.SoftPowerOff(timeout(t, 5*time.Second), 200*time.Millisecond)
	if !errors.Is(err, drivers.ErrFailed) {
		t.Fatalf("SoftPowerOff() = %v, want ErrFailed", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("SoftPowerOff() with a 200ms timeout took %s", d)
	}
	if err := n.SoftReboot(timeout(t, 5*time.Second), 100*time.Millisecond); !errors.Is(err, drivers.ErrFailed) {
		t.Errorf("SoftReboot() = %v, want ErrFailed", err)
	}
}

// TestSessionAgeBelowKeepAlive pins the reason for maxSessionAge: go-ipmi's
// Connect starts a keep-alive that uses the client from its own goroutine
// every DefaultKeepAliveIntervalSec; our sessions must be closed before.
func TestSessionAgeBelowKeepAlive(t *testing.T) {
	if keepAlive := time.Duration(client.DefaultKeepAliveIntervalSec) * time.Second; maxSessionAge >= keepAlive {
		t.Errorf("maxSessionAge %s >= go-ipmi keep-alive interval %s", maxSessionAge, keepAlive)
	}
	if c := New(Config{SessionIdleTimeout: time.Hour}).cfg.SessionIdleTimeout; c > maxSessionAge {
		t.Errorf("SessionIdleTimeout not capped: %s", c)
	}
}
