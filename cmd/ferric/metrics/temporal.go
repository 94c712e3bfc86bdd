package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// The Temporal SDK's metrics (and the worker's, which are recorded through
// the SDK's replay-safe workflow handler) come as names and tag maps whose
// key sets differ from call site to call site. sdkSeries keeps one vector
// per name and key set and is registered as an unchecked collector: the
// families it exposes may mix label sets, which the exposition format allows.
//
// Names are exposed as OpenMetrics names them: a counter gets "_total" and a
// timer (a histogram in seconds) "_seconds", as in Temporal's published SDK
// dashboards.

// help is the help text of the metrics recorded through the SDK handler by
// ferric itself (see worker.OperationMetrics); the SDK's own get a generic
// one.
var help = map[string]string{
	"ferric_operations_finished_total":        "Operations (workflows on a node) that ended, by verb and outcome (succeeded, failed, refused, canceled).",
	"ferric_operation_duration_seconds":       "Time from an operation's start to its end, by verb and outcome.",
	"ferric_power_sync_pass_duration_seconds": "Time one power-sync pass took (every node's BMC read and the decisions written).",
	"ferric_power_sync_nodes_checked":         "BMCs the last power-sync pass read.",
}

type seriesKey struct {
	name   string
	labels string // sorted label names joined by ","
}

// sdkSeries holds the vectors created through the SDK handler.
type sdkSeries struct {
	mu         sync.RWMutex
	counters   map[seriesKey]*prometheus.CounterVec
	gauges     map[seriesKey]*prometheus.GaugeVec
	histograms map[seriesKey]*prometheus.HistogramVec
}

func newSDKSeries() *sdkSeries {
	return &sdkSeries{counters: map[seriesKey]*prometheus.CounterVec{},
		gauges: map[seriesKey]*prometheus.GaugeVec{}, histograms: map[seriesKey]*prometheus.HistogramVec{}}
}

// Describe describes nothing: the collector is unchecked (its series are
// created as the SDK names them).
func (s *sdkSeries) Describe(chan<- *prometheus.Desc) {}

// Collect collects every vector.
func (s *sdkSeries) Collect(ch chan<- prometheus.Metric) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.counters {
		v.Collect(ch)
	}
	for _, v := range s.gauges {
		v.Collect(ch)
	}
	for _, v := range s.histograms {
		v.Collect(ch)
	}
}

func helpOf(name string) string {
	if h, ok := help[name]; ok {
		return h
	}
	return "Temporal SDK metric " + name + "."
}

// vec returns the vector of key in m, creating it with mk.
func vec[V any](s *sdkSeries, m map[seriesKey]V, key seriesKey, mk func() V) V {
	s.mu.RLock()
	v, ok := m[key]
	s.mu.RUnlock()
	if ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := m[key]; ok {
		return v
	}
	v = mk()
	m[key] = v
	return v
}

// TemporalHandler is the client.MetricsHandler to give the Temporal client
// (and so its workers): what the SDK records lands in this registry.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	return &sdkHandler{s: m.sdk, tags: map[string]string{}}
}

// sdkHandler implements client.MetricsHandler over sdkSeries.
type sdkHandler struct {
	s      *sdkSeries
	tags   map[string]string
	names  []string // sorted label names
	values []string // their values, in the same order
}

// WithTags returns a handler with tags added (a key present in both takes
// the new value).
func (h *sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	n := &sdkHandler{s: h.s, tags: merged, names: slices.Sorted(maps.Keys(merged))}
	for _, k := range n.names {
		n.values = append(n.values, merged[k])
	}
	return n
}

func (h *sdkHandler) key(name string) seriesKey {
	return seriesKey{name: name, labels: strings.Join(h.names, ",")}
}

// Counter returns the counter name+"_total" with the handler's tags.
func (h *sdkHandler) Counter(name string) client.MetricsCounter {
	name = sanitize(name) + "_total"
	v := vec(h.s, h.s.counters, h.key(name), func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: helpOf(name)}, h.names)
	})
	c := v.WithLabelValues(h.values...)
	return counterFunc(func(d int64) {
		if d > 0 {
			c.Add(float64(d))
		}
	})
}

// Gauge returns the gauge name with the handler's tags.
func (h *sdkHandler) Gauge(name string) client.MetricsGauge {
	name = sanitize(name)
	v := vec(h.s, h.s.gauges, h.key(name), func() *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: helpOf(name)}, h.names)
	})
	g := v.WithLabelValues(h.values...)
	return gaugeFunc(g.Set)
}

// Timer returns the histogram name+"_seconds" with the handler's tags.
func (h *sdkHandler) Timer(name string) client.MetricsTimer {
	name = sanitize(name) + "_seconds"
	v := vec(h.s, h.s.histograms, h.key(name), func() *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: helpOf(name),
			Buckets: timerBuckets}, h.names)
	})
	o := v.WithLabelValues(h.values...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

// sanitize makes s a valid Prometheus metric or label name: characters
// other than ASCII letters, digits (not first) and '_' become '_'.
func sanitize(s string) string {
	valid := func(i int, r rune) bool {
		return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
	}
	clean := s != ""
	for i, r := range s {
		if !valid(i, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if valid(i, r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
