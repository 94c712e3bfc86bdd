//go:build linux

package main

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/ferric-project/ferric/store/storetest"
)

// BenchmarkL2DHCPOffers measures DHCP offers per second: a Go client in a
// namespace on the bridge sends DISCOVERs from distinct MACs (one per
// iteration; 32 in flight) to ferric's DHCP server and waits for each
// OFFER. full: every offer allocates a lease in PostgreSQL (range of 16,384
// addresses); proxy: every offer looks the MAC up (discovery on, so unknown
// MACs get a boot file). For BENCHMARKS.md:
//
//	make build && url=$(./bin/ferric testdb start .data/testdb) && FERRIC_TEST_DATABASE_URL=$url \
//	  go test ./cmd/ferric -run '^$' -bench L2DHCPOffers -benchtime 10000x
func BenchmarkL2DHCPOffers(b *testing.B) {
	l2Prereqs(b)
	for _, mode := range []string{"full", "proxy"} {
		b.Run(mode, func(b *testing.B) {
			st := storetest.New(b)
			nw := newL2Net(b)
			cfg := l2DHCPConfig(mode)
			cfg.dhcp.bootUnknown = true
			if mode == "full" {
				cfg.dhcp.rangeStart, cfg.dhcp.rangeEnd = netip.MustParseAddr("10.213.64.0"), netip.MustParseAddr("10.213.127.255")
			}
			startL2DHCP(b, nw, cfg, l2Log(b), st)
			probe := newDHCPProbe(b, nw.addHost("", "10.213.0.250"))
			var next, retries, lost atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						mac := net.HardwareAddr{0x02, 0xbe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}.String()
						req := pxeDiscover(b, mac, iana.INTEL_X86PC)
						var got bool
						for try := 0; try < 3 && !got; try++ {
							if try > 0 {
								retries.Add(1)
							}
							replies := probe.exchange(req, dhcpBroadcast, 2*time.Second, false)
							got = len(replies) == 1 && replies[0].MessageType() == dhcpv4.MessageTypeOffer
						}
						if !got {
							lost.Add(1)
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "offers/s")
			b.ReportMetric(float64(retries.Load()), "retries")
			if lost.Load() > 0 {
				b.Fatalf("%d of %d DISCOVERs got no offer after 3 tries", lost.Load(), b.N)
			}
			if mode == "full" {
				leases, err := st.DHCPLeases(b.Context())
				if err != nil || len(leases) != b.N {
					b.Fatalf("%d leases (%v), want %d", len(leases), err, b.N)
				}
			}
			b.Logf("%s: %d offers in %s", mode, b.N, fmt.Sprint(elapsed.Round(time.Millisecond)))
		})
	}
}
