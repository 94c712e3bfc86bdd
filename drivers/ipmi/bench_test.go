package ipmi

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ferric-project/ferric/drivers/ipmi/ipmisim"
)

// BenchmarkPowerState measures one PowerState call against go-ipmi's
// in-process BMC (no latency, and 20 ms per reply) and against OpenIPMI's
// ipmi_sim, with cached sessions and with a session per call. Besides ns/op
// it reports the median and p90 latency.
func BenchmarkPowerState(b *testing.B) {
	type target struct {
		name string
		info func(b *testing.B) json.RawMessage
	}
	goipmi := func(latency time.Duration) func(b *testing.B) json.RawMessage {
		return func(b *testing.B) json.RawMessage {
			return startSim(b, ipmisim.Options{Latency: latency}).DriverInfo(map[string]any{"ipmi_cipher_suite": 17})
		}
	}
	targets := []target{
		{"goipmi", goipmi(0)},
		{"goipmi-20ms", goipmi(20 * time.Millisecond)},
		{"ipmi_sim", func(b *testing.B) json.RawMessage { return startOpenIPMISim(b).info(nil) }},
	}
	for _, tg := range targets {
		for _, mode := range sessionModes() {
			b.Run(tg.name+"/"+mode.name, func(b *testing.B) {
				info := tg.info(b)
				h := newHardware(b, Config{SessionIdleTimeout: mode.idle})
				n := newNode(b, h, info)
				ctx := context.Background()
				if _, err := n.PowerState(ctx); err != nil { // warm up (and open the cached session)
					b.Fatal(err)
				}
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for b.Loop() {
					start := time.Now()
					if _, err := n.PowerState(ctx); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "median-µs")
				b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds()), "p90-µs")
			})
		}
	}
}
