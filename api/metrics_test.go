package api

import (
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/cmd/ferric/metrics"
)

// metricsEnv is a test API whose requests are observed by a real registry.
func metricsEnv(t testing.TB) (*testEnv, *metrics.Metrics) {
	e := newEnv(t)
	m := metrics.New()
	e.srv.Metrics, e.srv.MetricsHandler = m, m.Handler()
	e.app = e.srv.App()
	return e, m
}

// TestRequestMetricsRouteTemplates checks that requests are labelled with
// their route template and final status, never with an identifier, and that
// /metrics is served.
func TestRequestMetricsRouteTemplates(t *testing.T) {
	t.Parallel()
	e, m := metricsEnv(t)
	v := map[string]string{hdrVersion: "1.78"}
	resp, body := e.do(t, "POST", "/v1/nodes", `{"driver": "fake-hardware", "name": "m-1"}`, v)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	id := e.node("m-1").UUID
	e.do(t, "GET", "/v1/nodes/"+id, "", v)
	e.do(t, "GET", "/v1/nodes/m-1", "", v)
	e.do(t, "GET", "/v1/nodes/0f0e0d0c-0000-4000-8000-000000000001", "", v) // 404
	e.do(t, "GET", "/v1/no/such/thing", "", v)
	e.do(t, "PROPFIND", "/v1/nodes", "", v)
	resp, body = e.do(t, "GET", "/metrics", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "ferric_api_request_duration_seconds_bucket") {
		t.Fatalf("GET /metrics: %d %.300s", resp.StatusCode, body)
	}
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "ferric_api_request_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			var key []string
			for _, l := range s.GetLabel() {
				key = append(key, l.GetName()+"="+l.GetValue())
			}
			seen[strings.Join(key, ",")] += s.GetHistogram().GetSampleCount()
		}
	}
	for _, k := range []string{
		"method=POST,route=/v1/nodes,status=201",
		"method=GET,route=/v1/nodes/:ident,status=200",
		"method=GET,route=/v1/nodes/:ident,status=404",
		"method=GET,route=unmatched,status=404",
		"method=other,route=unmatched,status=405",
	} {
		if seen[k] == 0 {
			t.Errorf("no request recorded as %s; recorded: %v", k, seen)
		}
	}
	if seen["method=GET,route=/v1/nodes/:ident,status=200"] != 2 {
		t.Errorf("GET node by UUID and by name: %v", seen)
	}
	for k := range seen {
		if strings.Contains(k, id) || strings.Contains(k, "m-1") {
			t.Errorf("label set %s holds an identifier", k)
		}
	}
}

// BenchmarkNodeGetMetrics is BenchmarkNodeGet with the metrics middleware
// observing into a real registry: the difference is its cost per request.
func BenchmarkNodeGetMetrics(b *testing.B) {
	e, _ := benchEnv(b)
	m := metrics.New()
	e.srv.Metrics = m
	e.app = e.srv.App()
	benchGetEnv(b, e, "/v1/nodes/9f7ef9f4-7a46-40bc-9037-000000000042")
}

// BenchmarkRequestMetricsObserve is the middleware's own work per request,
// alone: the route template lookup and the histogram observation.
func BenchmarkRequestMetricsObserve(b *testing.B) {
	m := metrics.New()
	routes := newRouteTable(routeAccess())
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest(labelMethod("GET"), routes.template("GET", "/v1/nodes/9f7ef9f4-7a46-40bc-9037-000000000042"), 200, time.Millisecond)
	}
}
