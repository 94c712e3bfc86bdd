package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFleetBenchSeparateProcesses is the fleet benchmark (the shared
// bench_ironic_api.py workload) against ferric as production runs it (a
// Temporal server process on PostgreSQL, two "ferric api" processes behind
// a round-robin proxy, two "ferric worker" processes), then against
// "ferric dev", one after the other in the same run. It is a benchmark,
// not a test: it runs only when FERRIC_FLEET_BENCH names the script, and
// logs both summaries side by side (BENCHMARKS.md, "Separate processes").
//
//	FERRIC_FLEET_BENCH=../../../shared/peers/ironic/bench_ironic_api.py \
//	FERRIC_BENCH_NODES=500 go test -run TestFleetBenchSeparateProcesses -v -timeout 30m ./cmd/ferric/
func TestFleetBenchSeparateProcesses(t *testing.T) {
	script := os.Getenv("FERRIC_FLEET_BENCH")
	if script == "" {
		t.Skip("a benchmark: FERRIC_FLEET_BENCH=path/to/bench_ironic_api.py runs it")
	}
	nodes := os.Getenv("FERRIC_BENCH_NODES")
	if nodes == "" {
		nodes = "500"
	}
	bin := ferricBinary(t)
	bench := func(t *testing.T, endpoint, label string) benchSummary {
		t.Helper()
		load := loadAvg()
		cmd := exec.Command("python3", script, "--endpoint", endpoint, "--nodes", nodes, "--concurrency", "16",
			"--label", label)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var s benchSummary
		if jerr := json.Unmarshal(out.Bytes(), &s); err != nil || jerr != nil || !s.OK {
			t.Fatalf("bench %s: %v %v\n%s\n%s", label, err, jerr, e2eTail(errOut.String(), 4000), e2eTail(out.String(), 4000))
		}
		s.Load = load + " -> " + loadAvg()
		t.Logf("%s: load %s, %d errors, max version %s\n%s", label, s.Load, len(s.Errors), s.MaxVersion, errOut.String())
		return s
	}
	var sep, dev benchSummary
	t.Run("separate", func(t *testing.T) {
		_, f := startSeparateStack(t, bin)
		sep = bench(t, roundRobin(t, f.urls), "2 api + 2 worker, separate Temporal on PostgreSQL")
	})
	t.Run("dev", func(t *testing.T) {
		addr := freeAddr(t)
		startProcess(t, "ferric dev", bin, "dev", "-data-dir", t.TempDir(), "-api-address", addr, "-log-level", "warn")
		deadline := time.Now().Add(2 * time.Minute)
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("ferric dev not ready: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		dev = bench(t, "http://"+addr, "ferric dev")
	})
	if sep.OK && dev.OK {
		var b strings.Builder
		fmt.Fprintf(&b, "| phase (wall s, %s nodes) | 2 api + 2 worker, separate Temporal | ferric dev | ratio |\n", nodes)
		b.WriteString("| --- | ---: | ---: | ---: |\n")
		for _, p := range []string{"create", "manage", "provide", "deploy", "power_off", "power_on", "undeploy", "delete"} {
			a, d := sep.Phases[p].Wall, dev.Phases[p].Wall
			fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2fx |\n", p, a, d, a/d)
		}
		t.Logf("load: separate %s; dev %s\n%s", sep.Load, dev.Load, b.String())
	}
}

// benchSummary is what bench_ironic_api.py prints at the end.
type benchSummary struct {
	OK         bool   `json:"ok"`
	MaxVersion string `json:"server_max_version"`
	Phases     map[string]struct {
		Wall float64 `json:"wall_s"`
	} `json:"phases"`
	Errors []string `json:"errors"`
	Load   string   `json:"-"`
}

// roundRobin serves a proxy on a free port that sends each request to the
// next of the /v1 endpoints in turn, as a load balancer in front of API
// replicas does; it returns the proxy's root URL.
func roundRobin(t *testing.T, endpoints []string) string {
	t.Helper()
	var targets []*url.URL
	for _, e := range endpoints {
		u, err := url.Parse(strings.TrimSuffix(e, "/v1"))
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, u)
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[next.Add(1)%uint64(len(targets))])
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}
	addr := freeAddr(t)
	srv := &http.Server{Addr: addr, Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	t.Cleanup(func() { _ = srv.Close() })
	for range 50 {
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}

// loadAvg is /proc/loadavg's three load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}
