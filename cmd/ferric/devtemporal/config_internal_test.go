package devtemporal

import (
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
)

// TestHistoryCacheBounded: both tunings bound the history cache (Temporal's
// default, 128,000 entries for an hour, held gigabytes in a fleet run:
// BENCHMARKS.md, "Memory at 10,000 nodes").
func TestHistoryCacheBounded(t *testing.T) {
	for name, dc := range map[string]dynamicconfig.StaticClient{"sqlite": DynamicConfig(), "postgres": PostgresDynamicConfig()} {
		v, _ := dc[dynamicconfig.HistoryCacheHostLevelMaxSize.Key()].([]dynamicconfig.ConstrainedValue)
		if len(v) != 1 || v[0].Value != HistoryCacheEntries {
			t.Errorf("%s: history.hostLevelCacheMaxSize = %v, want %d", name, v, HistoryCacheEntries)
		}
	}
}
