package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
)

// TestTemporalHandlerMixedLabelSets records one name under different tag
// sets (as the SDK does) and checks that the registry gathers and serves
// them.
func TestTemporalHandlerMixedLabelSets(t *testing.T) {
	t.Parallel()
	m := New()
	h := m.TemporalHandler()
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"operation": "Poll", "task-queue": "q"}).Counter("temporal_request").Inc(3)
	h.WithTags(map[string]string{"workflow_type": "w"}).Timer("temporal_workflow_endtoend_latency").Record(1500 * time.Millisecond)
	h.WithTags(map[string]string{"poller_type": "activity"}).Gauge("temporal_num_pollers").Update(4)
	h.Counter("temporal_request").Inc(-1) // ignored: counters only grow

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"temporal_request_total 2\n",
		`temporal_request_total{operation="StartWorkflowExecution"} 1`,
		`temporal_request_total{operation="Poll",task_queue="q"} 3`,
		`temporal_workflow_endtoend_latency_seconds_sum{workflow_type="w"} 1.5`,
		`temporal_workflow_endtoend_latency_seconds_count{workflow_type="w"} 1`,
		`temporal_num_pollers{poller_type="activity"} 4`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q:\n%s", want, body)
		}
	}
}

func TestDriverCallReasons(t *testing.T) {
	t.Parallel()
	m := New()
	for _, err := range []error{nil, fmt.Errorf("x: %w", drivers.ErrAuth), drivers.ErrUnreachable,
		context.DeadlineExceeded, errors.New("boom")} {
		m.ObserveDriverCall("ipmi", "power.get_power_state", time.Millisecond, err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`ferric_driver_call_duration_seconds_count{call="power.get_power_state",driver="ipmi"} 5`,
		`ferric_driver_call_errors_total{call="power.get_power_state",driver="ipmi",reason="auth"} 1`,
		`ferric_driver_call_errors_total{call="power.get_power_state",driver="ipmi",reason="unreachable"} 1`,
		`ferric_driver_call_errors_total{call="power.get_power_state",driver="ipmi",reason="timeout"} 1`,
		`ferric_driver_call_errors_total{call="power.get_power_state",driver="ipmi",reason="other"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

type counts struct {
	m   map[node.ProvisionState]int64
	err error
}

func (c counts) CountNodesByProvisionState(context.Context) (map[node.ProvisionState]int64, error) {
	return c.m, c.err
}

// TestNodeCountsDatabaseDown checks that the node gauge is left out, not the
// scrape failed, when the count fails.
func TestNodeCountsDatabaseDown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		src  counts
		want []string
		not  string
	}{
		{counts{m: map[node.ProvisionState]int64{node.Active: 3}}, []string{`ferric_nodes{provision_state="active"} 3`,
			`ferric_nodes{provision_state="enroll"} 0`}, ""},
		{counts{err: errors.New("database unavailable")}, []string{"go_goroutines"}, "ferric_nodes{"},
	} {
		m := New()
		m.CollectNodes(c.src, time.Second)
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		if rec.Code != 200 {
			t.Errorf("status %d", rec.Code)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("exposition lacks %q", w)
			}
		}
		if c.not != "" && strings.Contains(body, c.not) {
			t.Errorf("exposition has %q", c.not)
		}
	}
}

func TestObserveImageWrite(t *testing.T) {
	t.Parallel()
	m := New()
	m.ObserveImageWrite(64<<20, 2*time.Second) // 32 MiB/s
	m.ObserveImageWrite(1<<30, 0)              // no rate without a duration
	got, err := testutil.GatherAndCount(m.Gatherer(), "ferric_deploy_image_write_bytes_per_second")
	if err != nil || got != 1 {
		t.Fatalf("rate series %d (%v)", got, err)
	}
	if v := testutil.ToFloat64(m.imageBytes); v != float64(64<<20+1<<30) {
		t.Errorf("bytes total %v", v)
	}
	mfs, _ := m.Gatherer().Gather()
	for _, mf := range mfs {
		if mf.GetName() == "ferric_deploy_image_write_bytes_per_second" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 1 || h.GetSampleSum() != float64(32<<20) {
				t.Errorf("rate histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}
}
