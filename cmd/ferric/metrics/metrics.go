// Package metrics is ferric's Prometheus instrumentation. main builds one
// Metrics per process (no global registry: the client library's default
// registry is never used) and hands its parts to the packages that observe
// things through small interfaces they own: the API's request observer,
// the activities' driver-call observer, and the Temporal SDK's
// client.MetricsHandler, through which the SDK's own metrics and the
// worker's operation metrics (recorded replay-safely in workflow code) reach
// the same registry. Handler serves the registry in Prometheus' text format.
//
// The metrics and their labels are listed in the README ("Metrics").
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferric-project/ferric/drivers"
)

// Buckets of the latency histograms, in seconds.
var (
	// requestBuckets spans a cached GET (sub-millisecond) to a synchronous
	// operation bounded by the API's SyncTimeout (60 s).
	requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	// callBuckets spans an in-memory driver to a slow BMC command.
	callBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	// timerBuckets are those of every Temporal SDK timer and of the
	// durations recorded through it: a gRPC call (milliseconds) to a deploy
	// (tens of minutes).
	timerBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
)

// Metrics is one process's registry and the metrics ferric records itself.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	started      *prometheus.CounterVec
	driverCalls  *prometheus.HistogramVec
	driverErrors *prometheus.CounterVec
	imageBytes   prometheus.Counter
	imageRate    prometheus.Histogram
	sdk          *sdkSeries
	statuses     [600]string // status code label values, made once
}

// New builds a registry with the Go runtime and process collectors and
// ferric's own metrics.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferric_api_request_duration_seconds",
			Help:    "Time the API took to answer a request, by method, route template and status code.",
			Buckets: requestBuckets,
		}, []string{"method", "route", "status"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferric_operations_started_total",
			Help: "Operations (workflows on a node) the API started, by verb.",
		}, []string{"verb"}),
		driverCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferric_driver_call_duration_seconds",
			Help:    "Time a driver call (a BMC or agent round trip) took, by hardware type and call, failed calls included.",
			Buckets: callBuckets,
		}, []string{"driver", "call"}),
		driverErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferric_driver_call_errors_total",
			Help: "Driver calls that failed, by hardware type, call and reason (auth, unsupported, bad_config, unreachable, failed, timeout, canceled, other).",
		}, []string{"driver", "call", "reason"}),
		imageBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferric_deploy_image_bytes_total",
			Help: "Bytes of images the ramdisk agents wrote to disks.",
		}),
		imageRate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferric_deploy_image_write_bytes_per_second",
			Help:    "Rate at which an agent wrote an image to its disk (bytes over the time it was seen running the write).",
			Buckets: prometheus.ExponentialBuckets(1<<20, 2, 13), // 1 MiB/s .. 4 GiB/s
		}),
		sdk: newSDKSeries(),
	}
	for code := range m.statuses {
		m.statuses[code] = strconv.Itoa(code)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.started, m.driverCalls, m.driverErrors, m.imageBytes, m.imageRate, m.sdk,
	)
	return m
}

// Gatherer is the registry, for tests and for extra exporters.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in Prometheus' exposition format. A collector
// that fails (the node counts while the database is down) is left out of
// the answer instead of failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveRequest records one API request (api.RequestMetrics). route is the
// route template ("/v1/nodes/:ident"), never the raw path.
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	code := strconv.Itoa(status)
	if status >= 0 && status < len(m.statuses) {
		code = m.statuses[status]
	}
	m.requests.WithLabelValues(method, route, code).Observe(took.Seconds())
}

// OperationStarted counts an operation the API started (api.RequestMetrics).
func (m *Metrics) OperationStarted(verb string) {
	m.started.WithLabelValues(verb).Inc()
}

// ObserveDriverCall records one driver call (activities.DriverCallObserver):
// driver is the node's hardware type, call names the interface method.
func (m *Metrics) ObserveDriverCall(driver, call string, took time.Duration, err error) {
	m.driverCalls.WithLabelValues(driver, call).Observe(took.Seconds())
	if err != nil {
		m.driverErrors.WithLabelValues(driver, call, reason(err)).Inc()
	}
}

// ObserveImageWrite records one image an agent wrote
// (activities.ImageWriteObserver): its bytes and write rate.
func (m *Metrics) ObserveImageWrite(bytes int64, took time.Duration) {
	m.imageBytes.Add(float64(bytes))
	if took > 0 {
		m.imageRate.Observe(float64(bytes) / took.Seconds())
	}
}

// reason is a failed driver call's error class, a bounded label value.
func reason(err error) string {
	switch {
	case errors.Is(err, drivers.ErrAuth):
		return "auth"
	case errors.Is(err, drivers.ErrUnsupported):
		return "unsupported"
	case errors.Is(err, drivers.ErrBadConfig), errors.Is(err, drivers.ErrUnknownDriver):
		return "bad_config"
	case errors.Is(err, drivers.ErrUnreachable):
		return "unreachable"
	case errors.Is(err, drivers.ErrFailed):
		return "failed"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "other"
}
