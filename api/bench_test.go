package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// benchEnv serves 500 deployed nodes shaped like the benchmark's
// (bench_ironic_api.py: fake interfaces, properties, instance_info) from
// memory: the benchmarks measure the API's own cost per request, not the
// database's.
func benchEnv(b *testing.B) (*testEnv, fasthttp.RequestHandler) {
	b.Helper()
	nodes := make([]store.Node, 500)
	for i := range nodes {
		n := sampleNode()
		n.ID = int64(i + 1)
		n.UUID = fmt.Sprintf("9f7ef9f4-7a46-40bc-9037-%012d", i)
		n.Name = strp(fmt.Sprintf("bench-1a2b-%d", i))
		n.Properties = json.RawMessage(`{"cpus": 8, "memory_mb": 16384, "local_gb": 100, "cpu_arch": "x86_64"}`)
		n.Extra = json.RawMessage(`{"bench": "1a2b"}`)
		n.InstanceInfo = json.RawMessage(`{"image_source": "http://127.0.0.1:1/img.raw", "image_checksum": "d41d8cd98f00b204e9800998ecf8427e"}`)
		n.DriverInternalInfo = json.RawMessage(`{"last_power_state_change": "2026-11-25T00:23:14.624511", "deploy_steps": null}`)
		n.ProvisionState, n.PowerState = node.Active, node.PowerOn
		n.ProvisionUpdatedAt = tsp("2026-11-25T00:23:16.828351Z")
		nodes[i] = n
	}
	wf := newFakeWorkflows()
	srv := &Server{Store: staticList{nodes: nodes}, Workflows: wf, Drivers: testRegistry()}
	e := &testEnv{t: b, srv: srv, wf: wf, app: srv.App()}
	return e, e.app.Handler()
}

// staticList answers ListNodes and Node from a fixed slice, as a database
// would after its query: one result set, no per-node work. The benchmarks
// call nothing else (the nil Store panics if they do).
type staticList struct {
	Store
	nodes []store.Node
}

func (s staticList) ListNodes(_ context.Context, q store.ListNodes) ([]store.Node, error) {
	if q.Limit > 0 && q.Limit < len(s.nodes) {
		return s.nodes[:q.Limit], nil
	}
	return s.nodes, nil
}

func (s staticList) Node(_ context.Context, ident string) (store.Node, error) {
	for i := range s.nodes {
		if s.nodes[i].UUID == ident || (s.nodes[i].Name != nil && *s.nodes[i].Name == ident) {
			return s.nodes[i], nil
		}
	}
	return store.Node{}, store.ErrNotFound
}

func benchGet(b *testing.B, path string) {
	e, _ := benchEnv(b)
	benchGetEnv(b, e, path)
}

// BenchmarkNodesDetail is GET /v1/nodes/detail over 500 nodes (served from
// memory, so this measures the API's own cost per request).
func BenchmarkNodesDetail(b *testing.B) { benchGet(b, "/v1/nodes/detail") }

// BenchmarkNodesList is GET /v1/nodes over 500 nodes.
func BenchmarkNodesList(b *testing.B) { benchGet(b, "/v1/nodes") }

// BenchmarkNodeGet is GET /v1/nodes/{uuid}.
func BenchmarkNodeGet(b *testing.B) { benchGet(b, "/v1/nodes/9f7ef9f4-7a46-40bc-9037-000000000042") }

// BenchmarkNodesDetailMasked is the detail list when every node has BMC
// credentials to mask.
func BenchmarkNodesDetailMasked(b *testing.B) {
	e, _ := benchEnv(b)
	nodes := e.srv.Store.(staticList).nodes
	for i := range nodes {
		nodes[i].DriverInfo = json.RawMessage(`{"ipmi_address": "10.0.0.9", "ipmi_username": "admin", "ipmi_password": "s3cret", "deploy_kernel": "http://k"}`)
	}
	benchGetEnv(b, e, "/v1/nodes/detail")
}

func benchGetEnv(b *testing.B, e *testEnv, path string) {
	h := e.app.Handler()
	var ctx fasthttp.RequestCtx
	run := func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.Header.SetHost("127.0.0.1:6385")
		ctx.Request.Header.Set(hdrVersion, "latest")
		h(&ctx)
	}
	run()
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.SetBytes(int64(len(ctx.Response.Body())))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}

// BenchmarkHTTP* serve the same 500 nodes over a loopback socket to
// concurrent keep-alive clients (the shape of bench_ironic_api.py's read
// phase, minus the database).
func benchHTTP(b *testing.B, path string) {
	e, _ := benchEnv(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = e.app.Listener(ln) }()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer func() {
		tr.CloseIdleConnections()
		_ = e.app.ShutdownWithTimeout(5 * time.Second)
		<-done
	}()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + ln.Addr().String() + path
	b.SetParallelism(8) // 16 clients on 2 cores, as the Python benchmark runs
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set(hdrVersion, "latest")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkHTTPNodesList(b *testing.B)   { benchHTTP(b, "/v1/nodes") }
func BenchmarkHTTPNodesDetail(b *testing.B) { benchHTTP(b, "/v1/nodes/detail") }
func BenchmarkHTTPNodeGet(b *testing.B) {
	benchHTTP(b, "/v1/nodes/9f7ef9f4-7a46-40bc-9037-000000000042")
}
