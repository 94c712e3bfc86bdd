package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/store"
)

// TestBenchAuthGET measures the single-node GET rate of the API on a real
// socket (PostgreSQL behind it) with each authentication strategy, one after
// the other in the same run, with wrk (-t2 -c16). It runs only with
// FERRIC_BENCH_AUTH=1 (BENCHMARKS.md).
func TestBenchAuthGET(t *testing.T) {
	if os.Getenv("FERRIC_BENCH_AUTH") == "" {
		t.Skip("set FERRIC_BENCH_AUTH=1 to run the authentication benchmark")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install wrk)")
	}
	duration := os.Getenv("FERRIC_BENCH_DURATION")
	if duration == "" {
		duration = "10s"
	}
	ks := keystone.Get(t)
	fx, err := ks.NewFixture(t.Context(), "bench-")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("bench-password"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	userFile := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(userFile, []byte("bench:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "keystone-password")
	if err := os.WriteFile(pwFile, []byte(fx.Service.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	reader := fx.Accounts["system-reader"]
	token, err := reader.Token(t.Context(), ks)
	if err != nil {
		t.Fatal(err)
	}
	rps := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p50 := regexp.MustCompile(`\s50%\s+([0-9.]+\w+)`)
	p99 := regexp.MustCompile(`\s99%\s+([0-9.]+\w+)`)
	var report string
	type strategy struct {
		name   string
		edit   func(*config)
		header string
	}
	strategies := []strategy{
		{"noauth", func(c *config) { c.auth.strategy = auth.StrategyNoAuth }, ""},
		{"http_basic", func(c *config) { c.auth.strategy, c.auth.basicUserFile = auth.StrategyHTTPBasic, userFile },
			"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bench:bench-password"))},
		{"keystone", func(c *config) {
			c.auth.strategy, c.auth.keystoneURL = auth.StrategyKeystone, ks.URL
			c.auth.keystoneUser, c.auth.keystonePasswordFile = fx.Service.Name, pwFile
			c.auth.keystoneCacheTime, c.auth.keystoneCacheSize = 5*time.Minute, 10000
		}, "X-Auth-Token: " + token},
	}
	// Two rounds, interleaved: the machine is shared, and a round shows how
	// much of a difference is noise.
	var runs []strategy
	for round := 1; round <= 2; round++ {
		for _, st := range strategies {
			st.name = fmt.Sprintf("%s (round %d)", st.name, round)
			runs = append(runs, st)
		}
	}
	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, "api", tc.edit)
			n, err := s.st.CreateNode(t.Context(), store.Node{Driver: "fake-hardware", Name: ptrTo("bench-0")})
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"-t2", "-c16", "-d" + duration, "--latency",
				"-H", "X-OpenStack-Ironic-API-Version: 1.78"}
			if tc.header != "" {
				args = append(args, "-H", tc.header)
			}
			url := s.endpoint + "/nodes/" + n.UUID
			// Warm up (the first request of a strategy fills its cache).
			if out, err := exec.Command(wrk, "-t1", "-c1", "-d1s", url, "-H", tc.header).CombinedOutput(); err != nil {
				t.Fatalf("wrk: %v\n%s", err, out)
			}
			out, err := exec.Command(wrk, append(args, url)...).CombinedOutput()
			if err != nil {
				t.Fatalf("wrk: %v\n%s", err, out)
			}
			t.Logf("%s\n%s", tc.name, out)
			if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); m != nil {
				t.Errorf("%s: %s failed requests", tc.name, m[1])
			}
			get := func(re *regexp.Regexp) string {
				if m := re.FindSubmatch(out); m != nil {
					return string(m[1])
				}
				return "?"
			}
			report += fmt.Sprintf("| %s | %s | %s | %s |\n", tc.name, get(rps), get(p50), get(p99))
		})
	}
	t.Logf("GET /v1/nodes/{uuid}, wrk -t2 -c16 -d%s:\n| strategy | req/s | p50 | p99 |\n| --- | ---: | ---: | ---: |\n%s",
		duration, report)
}

func ptrTo[T any](v T) *T { return &v }
