package ipmisim_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/ipmi"
	"github.com/ferric-project/ferric/drivers/ipmi/ipmisim"
)

func TestStartBMCs(t *testing.T) {
	t.Parallel()
	const latency = 5 * time.Millisecond
	bmcs, stop, err := ipmisim.StartBMCs(context.Background(), 20, latency)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	h := ipmi.New(ipmi.Config{SessionIdleTimeout: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ports := map[int]bool{}
	for i, b := range bmcs {
		ports[b.Port] = true
		n, err := h.Node(drivers.Node{UUID: strconv.Itoa(i), DriverInfo: b.DriverInfo(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := n.SetPowerState(ctx, drivers.PowerOn); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		st, err := n.PowerState(ctx)
		if err != nil {
			t.Fatalf("BMC %d: PowerState() = %v", i, err)
		}
		if want := map[bool]drivers.PowerState{true: drivers.PowerOn, false: drivers.PowerOff}[i%2 == 0]; st != want {
			t.Errorf("BMC %d: PowerState() = %q, want %q", i, st, want)
		}
		if d := time.Since(start); d < 7*latency { // a session per call: 7 round trips
			t.Errorf("BMC %d: PowerState() took %s, want >= 7 x %s", i, d, latency)
		}
	}
	if len(ports) != len(bmcs) {
		t.Errorf("%d distinct ports for %d BMCs", len(ports), len(bmcs))
	}
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkFleetPowerSync runs power-sync passes (one PowerState per node,
// 100 at a time) over 1000 in-process BMCs answering after 20 ms, with cached
// sessions and with a session per call, and reports what 1000 simulated BMCs
// cost in memory. Needs about 2100 file descriptors.
func BenchmarkFleetPowerSync(b *testing.B) {
	const n, latency, workers = 1000, 20 * time.Millisecond, 100
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 2*n+100 {
		b.Skipf("RLIMIT_NOFILE %d is too low for %d BMCs", lim.Cur, n)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rss0, g0 := rssMiB(), runtime.NumGoroutine()
	bmcs, stop, err := ipmisim.StartBMCs(context.Background(), n, latency)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Logf("%d BMCs: heap in use +%.1f MiB, RSS +%.1f MiB, goroutines +%d", n,
		float64(after.HeapInuse-before.HeapInuse)/(1<<20), rssMiB()-rss0, runtime.NumGoroutine()-g0)

	for _, mode := range []struct {
		name string
		idle time.Duration
	}{{"cached", 20 * time.Second}, {"per-call", -1}} {
		b.Run(mode.name, func(b *testing.B) {
			h := ipmi.New(ipmi.Config{SessionIdleTimeout: mode.idle})
			b.Cleanup(func() { _ = h.Close(context.Background()) })
			nodes := make([]*ipmi.Node, n)
			for i, bm := range bmcs {
				nodes[i], err = h.Node(drivers.Node{UUID: strconv.Itoa(i), DriverInfo: bm.DriverInfo(nil)})
				if err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				var next, failed atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
							if _, err := nodes[i].PowerState(context.Background()); err != nil {
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				if f := failed.Load(); f > 0 {
					b.Fatalf("%d of %d power reads failed", f, n)
				}
			}
			b.ReportMetric(rssMiB(), "RSS-MiB")
		})
	}
}

// TestFRUAndLAN reads the FRU and LAN configuration a simulated BMC is
// given with go-ipmi's own client (ipmitool's fru print and lan print),
// after a restart too; without them the BMC has no FRU data and no IPv6.
func TestFRUAndLAN(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fru, err := types.PackFRU(types.FRUPackConfig{Product: &types.FRUPackProduct{Manufacturer: "Acme",
		Name: "R1", Serial: "S-1"}})
	if err != nil {
		t.Fatal(err)
	}
	v6 := netip.MustParseAddr("2001:db8::17")
	b, err := ipmisim.Start(ctx, ipmisim.Options{FRU: fru, LAN: ipmisim.LAN{IP: netip.MustParseAddr("192.0.2.17"),
		MAC: net.HardwareAddr{0x52, 0x54, 0, 0xab, 0xcd, 0xef}, IPv6: []netip.Addr{v6}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	connect := func(b *ipmisim.BMC) *client.Client {
		t.Helper()
		c, err := client.NewClient(b.Host, b.Port, b.Username, b.Password)
		if err != nil {
			t.Fatal(err)
		}
		c.WithInterface(client.InterfaceLanplus)
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // a session the BMC forgot in a restart would hold Close for 5 s
			cctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_ = c.Close(cctx)
		})
		return c
	}
	for _, restart := range []bool{false, true} {
		if restart {
			if err := b.Restart(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		c := connect(b)
		got, err := c.GetFRU(ctx, 0, "")
		if err != nil || got.ProductInfoArea == nil || string(got.ProductInfoArea.Manufacturer) != "Acme" ||
			string(got.ProductInfoArea.SerialNumber) != "S-1" {
			t.Fatalf("GetFRU = %+v, %v", got, err)
		}
		ip, mac := &types.LanConfigParam_IP{}, &types.LanConfigParam_MAC{}
		for _, p := range []types.LanConfigParameter{ip, mac} {
			if err := c.GetLanConfigParamFor(ctx, types.ChannelNumberSelf, p); err != nil {
				t.Fatal(err)
			}
		}
		if ip.IP.String() != "192.0.2.17" || mac.MAC.String() != "52:54:00:ab:cd:ef" {
			t.Errorf("LAN = %s %s", ip.IP, mac.MAC)
		}
		st, addr := &types.LanConfigParam_IPv6Status{}, &types.LanConfigParam_IPv6DynamicAddress{}
		for _, p := range []types.LanConfigParameter{st, addr} {
			if err := c.GetLanConfigParamFor(ctx, types.ChannelNumberSelf, p); err != nil {
				t.Fatal(err)
			}
		}
		if st.DynamicAddressMax != 1 || addr.IPv6.String() != v6.String() ||
			addr.Status != types.LanIPv6AddressStatus_Active {
			t.Errorf("IPv6 = %+v %+v", st, addr)
		}
	}

	bare, err := ipmisim.Start(ctx, ipmisim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bare.Close() })
	c := connect(bare)
	if got, err := c.GetFRU(ctx, 0, ""); err != nil || got.Present() {
		t.Errorf("GetFRU without FRU data = %+v, %v; want not present", got, err)
	}
	err = c.GetLanConfigParamFor(ctx, types.ChannelNumberSelf, &types.LanConfigParam_IPv6Status{})
	if re, ok := types.IsResponseError(err); !ok || re.CompletionCode() != types.CodeParameterNotSupported {
		t.Errorf("IPv6 status without IPv6 = %v; want parameter not supported", err)
	}
}
