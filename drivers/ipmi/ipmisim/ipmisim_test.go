package ipmisim_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
