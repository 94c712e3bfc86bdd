package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/ferric-project/ferric/api"
)

// otlpReceiver is an OTLP/gRPC trace collector: it keeps the spans it is
// sent.
type otlpReceiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

// Export takes a batch of spans, as a collector does.
func (r *otlpReceiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// named returns the received spans whose names start with prefix.
func (r *otlpReceiver) named(prefix string) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// TestTracesFromRequestToDriverCall: with -otlp-endpoint, a power request
// makes one trace, sent over OTLP/gRPC, from the API's server span through
// the workflow and its activity to the driver call; the trace continues
// the traceparent the client sent.
func TestTracesFromRequestToDriverCall(t *testing.T) {
	rcv := &otlpReceiver{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(gs, rcv)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)

	s := startStack(t, "all", func(c *config) {
		c.otlpEndpoint = "http://" + l.Addr().String()
		c.traceBatch = 50 * time.Millisecond
	})
	ctx := context.Background()
	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "traced", Driver: "fake-hardware"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// The client's own trace: the request continues it.
	const parent = "0af7651916cd43dd8448eb211c80319c"
	c := *s.client
	c.MoreHeaders = map[string]string{"traceparent": "00-" + parent + "-b7ad6b7169203331-01"}
	if err := nodes.ChangePowerState(ctx, &c, n.UUID, nodes.PowerStateOpts{Target: nodes.PowerOn}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.PowerState == "power on" && n.TargetPowerState == "" })

	var driver *tracepb.Span
	deadline := time.Now().Add(20 * time.Second)
	for driver == nil && time.Now().Before(deadline) {
		for _, sp := range rcv.named("driver power.set_power_state") {
			if hex.EncodeToString(sp.TraceId) == parent {
				driver = sp
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if driver == nil {
		t.Fatalf("no driver call span in the request's trace; spans: %v", spanNames(rcv))
	}
	inTrace := func(prefix string) *tracepb.Span {
		t.Helper()
		for _, sp := range rcv.named(prefix) {
			if hex.EncodeToString(sp.TraceId) == parent {
				return sp
			}
		}
		t.Errorf("no %q span in the trace; spans: %v", prefix, spanNames(rcv))
		return nil
	}
	server := inTrace("PUT /v1/nodes/")
	run := inTrace("RunWorkflow:")
	inTrace("StartWorkflow:")
	act := inTrace("RunActivity:")
	if server != nil && (server.Kind != tracepb.Span_SPAN_KIND_SERVER || hex.EncodeToString(server.ParentSpanId) != "b7ad6b7169203331") {
		t.Errorf("server span %q kind %v parent %x", server.Name, server.Kind, server.ParentSpanId)
	}
	if run == nil || act == nil {
		return
	}
	// The driver call is a child of an activity's span.
	parentOf := map[string]bool{}
	for _, sp := range rcv.named("RunActivity:") {
		parentOf[hex.EncodeToString(sp.SpanId)] = true
	}
	if !parentOf[hex.EncodeToString(driver.ParentSpanId)] {
		t.Errorf("driver span's parent %x is no activity span", driver.ParentSpanId)
	}
	attrs := map[string]string{}
	for _, kv := range driver.Attributes {
		attrs[kv.Key] = kv.Value.GetStringValue()
	}
	if attrs["ferric.driver"] != "fake-hardware" {
		t.Errorf("driver span attributes %v", attrs)
	}
}

func spanNames(r *otlpReceiver) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		out = append(out, s.Name)
	}
	return out
}

// TestLogLinesCarryRequestAndTrace: a line logged with a request's
// context names its Openstack-Request-Id and its trace and span.
func TestLogLinesCarryRequestAndTrace(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := newLogger(config{role: "api", logFormat: "json", logLevel: "info"}, &buf).With("component", "api")
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	ctx = api.ContextWithRequestID(ctx, "req-1")
	log.InfoContext(ctx, "hello", "node", "n1")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("log:\n%s", buf.String())
	}
	if first["request_id"] != "req-1" || first["trace_id"] != tid.String() || first["span_id"] != sid.String() ||
		first["component"] != "api" || first["node"] != "n1" {
		t.Errorf("line with a context: %v", first)
	}
	if _, ok := second["request_id"]; ok {
		t.Errorf("line without a context: %v", second)
	}
}

// TestTracingEndpoint: off without an endpoint (no interceptor, a no-op
// provider); an endpoint that is not an http(s) URL is refused at start.
func TestTracingEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := newLogger(config{logLevel: "error"}, io.Discard)
	off, err := newTracing(ctx, config{}, log)
	if err != nil || off.temporal != nil || off.clientInterceptors() != nil || off.shutdown(ctx) != nil {
		t.Errorf("tracing off: %+v, %v", off, err)
	}
	for _, bad := range []string{"collector:4317", "ftp://collector:4317", "http://", "http://%zz"} {
		if _, err := newTracing(ctx, config{otlpEndpoint: bad}, log); err == nil ||
			!strings.Contains(err.Error(), "-otlp-endpoint") {
			t.Errorf("-otlp-endpoint %q: %v, want refused", bad, err)
		}
	}
}

// TestTracingErrorsLogged: OpenTelemetry's failures (an export to a
// collector that is down) reach the process's logger, not Go's log package.
// Not parallel: the handler is process-wide.
func TestTracingErrorsLogged(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	log := newLogger(config{logLevel: "warn", logFormat: "json"}, &buf)
	tr, err := newTracing(ctx, config{otlpEndpoint: "http://127.0.0.1:1", role: "test"}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_ = tr.shutdown(sctx)
	}()
	otel.Handle(errors.New("export failed: connection refused"))
	if out := buf.String(); !strings.Contains(out, `"msg":"tracing: spans not exported"`) ||
		!strings.Contains(out, "connection refused") {
		t.Errorf("log %q, want the OpenTelemetry error as a JSON line", out)
	}
}
