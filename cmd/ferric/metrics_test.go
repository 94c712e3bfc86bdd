package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// scrape reads url's Prometheus exposition over HTTP and parses it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// sample sums the value of family name's series whose labels include want
// (a counter's or gauge's value, a histogram's count).
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

// TestMetricsAfterOperations runs the stack (API and worker, real Temporal
// and PostgreSQL, fake nodes), performs real operations, one of which fails
// in the driver, runs a power-sync pass, and checks the values /metrics
// shows, on the API listener and on the -metrics-address listener.
func TestMetricsAfterOperations(t *testing.T) {
	metricsAddr := freeAddr(t)
	s := startStack(t, "all", func(c *config) { c.metricsAddr = metricsAddr })
	ctx := context.Background()

	a := createNode(t, s, "metrics-a", map[string]any{"fake_power_delay": "1ms"})
	b := createNode(t, s, "metrics-b", map[string]any{"fake_power_delay": "1ms"})
	for _, id := range []string{a.UUID, b.UUID} {
		s.provision(t, id, nodes.TargetManage, nodes.Manageable)
		s.provision(t, id, nodes.TargetProvide, nodes.Available)
	}
	s.power(t, a.UUID, nodes.PowerOff, "power off")

	// b's power interface now fails: the power off is accepted, the driver
	// call fails, the operation ends failed.
	if _, err := nodes.Update(ctx, s.client, b.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/driver_info/fake_fail", Value: []string{"power"}},
	}).Extract(); err != nil {
		t.Fatalf("patch fake_fail: %v", err)
	}
	if err := nodes.ChangePowerState(ctx, s.client, b.UUID, nodes.PowerStateOpts{Target: nodes.PowerOff}).ExtractErr(); err != nil {
		t.Fatalf("power off b: %v", err)
	}
	s.waitFor(t, b.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.TargetPowerState == "" && n.LastError != "" })
	s.settle(t, b.UUID)
	for range 3 {
		if _, err := nodes.Get(ctx, s.client, a.UUID).Extract(); err != nil {
			t.Fatal(err)
		}
	}
	// An unknown node: a 404 on the node route, not a label of its own.
	if _, err := nodes.Get(ctx, s.client, "00000000-0000-4000-8000-000000000000").Extract(); statusOf(err) != http.StatusNotFound {
		t.Fatalf("get unknown node: %v, want 404", err)
	}

	// One power-sync pass, run as the schedule runs it.
	tc := s.temporal.GetDefaultClient()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "metrics-pass", TaskQueue: "ferric-test"},
		contract.PowerSyncName)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("power sync pass: %v", err)
	}

	base := strings.TrimSuffix(s.endpoint, "/v1")
	fams := scrape(t, base+"/metrics")

	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		got, ok := sample(fams, name, labels)
		if !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	atLeast := func(name string, labels map[string]string, min float64) {
		t.Helper()
		got, ok := sample(fams, name, labels)
		if !ok || got < min {
			t.Errorf("%s%v = %v (present %v), want at least %v", name, labels, got, ok, min)
		}
	}

	// Operations: started by the API, finished on the worker.
	check("ferric_operations_started_total", map[string]string{"verb": "manage"}, 2)
	check("ferric_operations_started_total", map[string]string{"verb": "provide"}, 2)
	check("ferric_operations_started_total", map[string]string{"verb": "power off"}, 2)
	check("ferric_operations_finished_total", map[string]string{"verb": "manage", "outcome": "succeeded"}, 2)
	check("ferric_operations_finished_total", map[string]string{"verb": "provide", "outcome": "succeeded"}, 2)
	check("ferric_operations_finished_total", map[string]string{"verb": "power off", "outcome": "succeeded"}, 1)
	check("ferric_operations_finished_total", map[string]string{"verb": "power off", "outcome": "failed"}, 1)
	check("ferric_operations_finished_total", map[string]string{}, 6)
	check("ferric_operation_duration_seconds", map[string]string{"verb": "manage"}, 2)
	check("ferric_operation_duration_seconds", map[string]string{"verb": "power off", "outcome": "failed"}, 1)

	// API requests, by route template and status.
	check("ferric_api_request_duration_seconds", map[string]string{"method": "POST", "route": "/v1/nodes", "status": "201"}, 2)
	check("ferric_api_request_duration_seconds", map[string]string{"method": "PUT",
		"route": "/v1/nodes/:ident/states/provision", "status": "202"}, 4)
	check("ferric_api_request_duration_seconds", map[string]string{"method": "PUT",
		"route": "/v1/nodes/:ident/states/power", "status": "202"}, 2)
	check("ferric_api_request_duration_seconds", map[string]string{"method": "GET",
		"route": "/v1/nodes/:ident", "status": "404"}, 1)
	atLeast("ferric_api_request_duration_seconds", map[string]string{"method": "GET",
		"route": "/v1/nodes/:ident", "status": "200"}, 3)
	uuidRE := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`)
	for _, m := range fams["ferric_api_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if uuidRE.MatchString(l.GetValue()) {
				t.Errorf("request label %s=%q holds an identifier", l.GetName(), l.GetValue())
			}
		}
	}

	// Driver calls, and the failure of b's.
	atLeast("ferric_driver_call_duration_seconds", map[string]string{"driver": "fake-hardware",
		"call": "power.set_power_state"}, 2)
	check("ferric_driver_call_errors_total", map[string]string{"driver": "fake-hardware",
		"call": "power.set_power_state", "reason": "failed"}, 1)

	// The power-sync pass.
	check("ferric_power_sync_pass_duration_seconds", map[string]string{}, 1)
	check("ferric_power_sync_nodes_checked", map[string]string{}, 2)
	check("ferric_driver_call_errors_total", map[string]string{"driver": "fake-hardware",
		"call": "power.get_power_state", "reason": "failed"}, 1) // b's read in the pass

	// Nodes per provision state: what the store holds.
	counts, err := s.st.CountNodesByProvisionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[node.Available] != 2 {
		t.Errorf("store counts %v, want 2 available", counts)
	}
	for _, st := range node.States() {
		check("ferric_nodes", map[string]string{"provision_state": string(st)}, float64(counts[st]))
	}

	// The Temporal SDK's own metrics, through the same registry.
	atLeast("temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"}, 6)
	atLeast("temporal_workflow_completed_total", map[string]string{"workflow_type": contract.ManageName}, 2)
	atLeast("temporal_activity_execution_latency_seconds", map[string]string{}, 1)

	// The metrics listener serves the same registry.
	other := scrape(t, "http://"+metricsAddr+"/metrics")
	for _, name := range []string{"ferric_operations_finished_total", "ferric_nodes", "temporal_request_total", "go_goroutines"} {
		if _, ok := other[name]; !ok {
			t.Errorf("-metrics-address has no %s", name)
		}
	}
	if got, _ := sample(other, "ferric_operations_started_total", map[string]string{"verb": "manage"}); got != 2 {
		t.Errorf("-metrics-address: manage started %v, want 2", got)
	}
}
