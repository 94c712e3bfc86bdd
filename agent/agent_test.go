package agent

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferric-project/ferric/agent/wire"
)

const testNode = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"

// fakeAPI is ferric's API as the agent sees it: lookup and heartbeat.
type fakeAPI struct {
	t *testing.T

	mu            sync.Mutex
	macs          string           // addresses the lookup must receive
	notFound      int              // answer 404 to this many lookups first
	tokens        []string         // token issued by the n-th successful lookup ("" = not revealed)
	rejectToken   map[string]int   // answer 401 to a token after it was accepted this many times
	failFinal     int              // answer 503 to this many heartbeats that carry a final result
	commands      []wire.Command   // sent in every answer until they have a final result
	lookups       int              // all lookups
	issued        int              // successful lookups
	accepted      map[string]int   // heartbeats accepted per token
	heartbeats    []wire.Heartbeat // accepted heartbeats
	final         map[string]wire.CommandResult
	finalOrder    []string
	finalReported chan string // IDs, as their final result is acknowledged
	state         string      // provision_state in lookup answers ("" = deploying)
	// hbStates: the provision_state of the answers to the accepted
	// heartbeats, in order, the last repeated (none: an API that does not
	// send it).
	hbStates      []string
	inspections   []*http.Request
	inspectBodies [][]byte
	inspected     chan struct{} // one value per continue_inspection post
	// inspectStatus: the statuses of the first continue_inspection posts
	// (then 202), to inject failures.
	inspectStatus []int
}

func newFakeAPI(t *testing.T) *fakeAPI {
	return &fakeAPI{t: t, tokens: []string{"tok-1"}, rejectToken: map[string]int{}, accepted: map[string]int{},
		final: map[string]wire.CommandResult{}, finalReported: make(chan string, 16)}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/lookup":
		f.lookups++
		if got := r.URL.Query().Get("addresses"); f.macs != "" && got != f.macs {
			f.t.Errorf("lookup addresses = %q, want %q", got, f.macs)
		}
		if f.lookups <= f.notFound {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_message": "{\"faultstring\": \"Node not found\"}"}`))
			return
		}
		tok := ""
		if f.issued < len(f.tokens) {
			tok = f.tokens[f.issued]
		}
		f.issued++
		_ = json.NewEncoder(w).Encode(wire.LookupResponse{
			Node:   wire.LookupNode{UUID: testNode, ProvisionState: cmp.Or(f.state, "deploying")},
			Config: wire.LookupConfig{AgentToken: tok},
		})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/heartbeat/"+testNode:
		var hb wire.Heartbeat
		if err := json.NewDecoder(r.Body).Decode(&hb); err != nil {
			f.t.Errorf("heartbeat body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if hb.AgentToken == "" || r.Header.Get(wire.TokenHeader) != hb.AgentToken {
			f.t.Errorf("heartbeat token %q, header %q", hb.AgentToken, r.Header.Get(wire.TokenHeader))
		}
		valid := slices.Contains(f.tokens, hb.AgentToken)
		if n, ok := f.rejectToken[hb.AgentToken]; !valid || ok && f.accepted[hb.AgentToken] >= n {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hasFinal := slices.ContainsFunc(hb.Results, func(r wire.CommandResult) bool { return r.Status != wire.StatusRunning })
		if hasFinal && f.failFinal > 0 {
			f.failFinal--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		f.accepted[hb.AgentToken]++
		f.heartbeats = append(f.heartbeats, hb)
		for _, res := range hb.Results {
			if res.Status == wire.StatusRunning {
				continue
			}
			if _, dup := f.final[res.ID]; !dup {
				f.finalOrder = append(f.finalOrder, res.ID)
				f.finalReported <- res.ID
			}
			f.final[res.ID] = res
		}
		var resp wire.HeartbeatResponse
		if n := len(f.hbStates); n > 0 {
			resp.ProvisionState = f.hbStates[min(len(f.heartbeats), n)-1]
		}
		for _, c := range f.commands {
			if _, done := f.final[c.ID]; !done {
				resp.Commands = append(resp.Commands, c)
			}
		}
		_ = json.NewEncoder(w).Encode(resp)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/continue_inspection":
		b, _ := io.ReadAll(r.Body)
		f.inspections = append(f.inspections, r)
		f.inspectBodies = append(f.inspectBodies, b)
		if f.inspected != nil {
			defer func() { f.inspected <- struct{}{} }()
		}
		if len(f.inspectStatus) > 0 {
			code := f.inspectStatus[0]
			f.inspectStatus = f.inspectStatus[1:]
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"error_message": "{\"faultstring\": \"injected\"}"}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"node":{"uuid":"` + testNode + `"},"config":{"agent_token":"******"}}`))
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeAPI) snapshot() (heartbeats []wire.Heartbeat, final map[string]wire.CommandResult, lookups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.heartbeats), maps.Clone(f.final), f.lookups
}

func params(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testAgent starts an agent against api and returns a stop function that
// cancels it and returns Run's error.
func testAgent(t *testing.T, api http.Handler, mod func(*Config)) (stop func() error, done <-chan error) {
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	cfg := Config{
		APIURL:            srv.URL,
		Version:           "test",
		MACs:              []string{"52:54:00:12:34:56", "52:54:00:12:34:57"},
		HeartbeatInterval: 200 * time.Millisecond,
		ProgressInterval:  50 * time.Millisecond,
		LookupRetryMin:    10 * time.Millisecond,
		LookupRetryMax:    40 * time.Millisecond,
		RequestTimeout:    5 * time.Second,
		ListDisks:         func() ([]wire.Disk, error) { return nil, nil },
		Log:               slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan error, 1)
	go func() { ch <- a.Run(ctx) }()
	t.Cleanup(cancel)
	return func() error { cancel(); return <-ch }, ch
}

func waitFor(t *testing.T, ch <-chan string, id string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("no final result for %s", id)
		}
	}
}

func TestAgentDeploysImage(t *testing.T) {
	t.Parallel()
	disk := testDisk(8<<20, 10)
	img := &imageServer{data: disk}
	slow := slowServer(disk, 1<<20, 40*time.Millisecond)
	imgURL := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		img.gets.Add(1)
		slow(w, r)
	}))
	dev := emptyDisk(t)

	api := newFakeAPI(t)
	api.macs = "52:54:00:12:34:56,52:54:00:12:34:57"
	api.notFound = 2
	api.failFinal = 1 // the first report of the result is lost: the agent must resend it
	api.commands = []wire.Command{{ID: "c1", Name: wire.CmdWriteImage, Params: params(t, wire.WriteImage{
		URL: imgURL, Checksum: "sha256:" + sha256hex(disk),
	})}}
	stop, _ := testAgent(t, api, func(c *Config) {
		c.ListDisks = func() ([]wire.Disk, error) { return []wire.Disk{{Name: dev, Size: 1 << 30}}, nil }
	})
	waitFor(t, api.finalReported, "c1")
	time.Sleep(300 * time.Millisecond) // a few more heartbeats: the command must not run again
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want context.Canceled", err)
	}

	hbs, final, lookups := api.snapshot()
	if lookups != 3 {
		t.Errorf("lookups = %d, want 3 (404, 404, 200)", lookups)
	}
	if len(hbs[0].Disks) != 1 || hbs[0].Disks[0].Name != dev {
		t.Errorf("first heartbeat disks = %+v, want %s", hbs[0].Disks, dev)
	}
	var running []int64
	for i, hb := range hbs {
		if hb.AgentToken != "tok-1" || hb.AgentVersion != "test" {
			t.Errorf("heartbeat %d: token %q version %q", i, hb.AgentToken, hb.AgentVersion)
		}
		if i > 0 && hb.Disks != nil {
			t.Errorf("heartbeat %d repeats the disks", i)
		}
		for _, r := range hb.Results {
			if r.Status == wire.StatusRunning {
				running = append(running, r.BytesWritten)
				if r.BytesTotal != 0 && r.BytesTotal != int64(len(disk)) || r.BytesWritten > 0 && r.BytesTotal == 0 {
					t.Errorf("running result total = %d, want %d", r.BytesTotal, len(disk))
				}
			}
		}
	}
	if len(running) < 3 || !slices.IsSorted(running) || running[len(running)-1] == running[0] {
		t.Errorf("running progress = %v, want several increasing reports", running)
	}
	res := final["c1"]
	if res.Status != wire.StatusSucceeded || res.BytesWritten != int64(len(disk)) {
		t.Fatalf("final result = %+v", res)
	}
	var wr wire.WriteImageResult
	if err := json.Unmarshal(res.Result, &wr); err != nil || wr.HashValue != sha256hex(disk) || wr.HashAlgo != "sha256" {
		t.Errorf("result = %s (%v)", res.Result, err)
	}
	if n := img.gets.Load(); n != 1 {
		t.Errorf("image downloaded %d times, want 1 (a command never runs twice)", n)
	}
	if got := readDisk(t, dev, len(disk)); !bytes.Equal(got, disk) {
		t.Error("disk content differs from the image")
	}
}

func TestAgentUnauthorized(t *testing.T) {
	t.Parallel()
	t.Run("exit", func(t *testing.T) {
		t.Parallel()
		api := newFakeAPI(t)
		api.rejectToken["tok-1"] = 2
		_, done := testAgent(t, api, func(c *Config) { c.ExitOnUnauthorized = true })
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Run() = %v, want ErrUnauthorized", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run() did not return after 401")
		}
		if hbs, _, _ := api.snapshot(); len(hbs) != 2 {
			t.Errorf("accepted heartbeats = %d, want 2", len(hbs))
		}
	})
	t.Run("look up again for a new token", func(t *testing.T) {
		t.Parallel()
		api := newFakeAPI(t)
		api.tokens = []string{"tok-1", "", "tok-2"} // the 2nd lookup does not reveal a token
		api.rejectToken["tok-1"] = 1
		api.commands = []wire.Command{{ID: "r1", Name: wire.CmdReportDisks}}
		stop, _ := testAgent(t, api, nil)
		waitFor(t, api.finalReported, "r1")
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run() = %v", err)
		}
		hbs, _, lookups := api.snapshot()
		if lookups != 3 {
			t.Errorf("lookups = %d, want 3", lookups)
		}
		if hbs[0].AgentToken != "tok-1" || hbs[len(hbs)-1].AgentToken != "tok-2" {
			t.Errorf("tokens: first %q, last %q", hbs[0].AgentToken, hbs[len(hbs)-1].AgentToken)
		}
	})
	t.Run("aborts the running command", func(t *testing.T) {
		t.Parallel()
		stalled := make(chan struct{})
		imgURL := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000000")
			_, _ = w.Write(make([]byte, 1<<20))
			w.(http.Flusher).Flush()
			close(stalled)
			<-r.Context().Done() // ends when the agent gives up the download
		}))
		api := newFakeAPI(t)
		api.rejectToken["tok-1"] = 3
		api.commands = []wire.Command{{ID: "w1", Name: wire.CmdWriteImage, Params: params(t, wire.WriteImage{URL: imgURL})}}
		dev := emptyDisk(t)
		_, done := testAgent(t, api, func(c *Config) {
			c.ExitOnUnauthorized = true
			c.ListDisks = func() ([]wire.Disk, error) { return []wire.Disk{{Name: dev}}, nil }
		})
		<-stalled
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Run() = %v, want ErrUnauthorized", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run() did not return after 401 while a command ran")
		}
	})
}

// fakePower records power actions and checks that the API already had the
// command's final result.
type fakePower struct {
	api   *fakeAPI
	mu    sync.Mutex
	calls []string
}

func (p *fakePower) record(name string) error {
	_, final, _ := p.api.snapshot()
	if final["p1"].Status != wire.StatusSucceeded {
		p.api.t.Errorf("%s ran before the API acknowledged its result", name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, name)
	return nil
}

func (p *fakePower) PowerOff(context.Context) error { return p.record("off") }
func (p *fakePower) Reboot(context.Context) error   { return p.record("reboot") }

func TestAgentCommandsInOrder(t *testing.T) {
	t.Parallel()
	dev := filepath.Join(t.TempDir(), "disk")
	const size = 5<<20 + 512
	if err := os.WriteFile(dev, bytes.Repeat([]byte{0xab}, size), 0o600); err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI(t)
	api.commands = []wire.Command{
		{ID: "e1", Name: wire.CmdEraseMetadata, Params: params(t, wire.EraseMetadata{Device: dev})},
		{ID: "d1", Name: wire.CmdReportDisks},
		{ID: "x1", Name: "format_c"},
		{ID: "p1", Name: wire.CmdPowerOff},
	}
	power := &fakePower{api: api}
	stop, _ := testAgent(t, api, func(c *Config) {
		c.Power = power
		c.ListDisks = func() ([]wire.Disk, error) { return []wire.Disk{{Name: dev, Size: size}}, nil }
	})
	waitFor(t, api.finalReported, "p1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		power.mu.Lock()
		n := len(power.calls)
		power.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v", err)
	}
	if !slices.Equal(power.calls, []string{"off"}) {
		t.Errorf("power calls = %v, want [off]", power.calls)
	}
	api.mu.Lock()
	order := slices.Clone(api.finalOrder)
	api.mu.Unlock()
	if !slices.Equal(order, []string{"e1", "d1", "x1", "p1"}) {
		t.Errorf("results in order %v", order)
	}
	hbs, final, _ := api.snapshot()
	for id, want := range map[string]string{"e1": wire.StatusSucceeded, "d1": wire.StatusSucceeded, "x1": wire.StatusFailed, "p1": wire.StatusSucceeded} {
		if final[id].Status != want {
			t.Errorf("%s: %+v, want %s", id, final[id], want)
		}
	}
	if !strings.Contains(final["x1"].Error, "unknown command") {
		t.Errorf("unknown command error = %q", final["x1"].Error)
	}
	var disks []wire.Disk
	if err := json.Unmarshal(final["d1"].Result, &disks); err != nil || len(disks) != 1 {
		t.Errorf("report_disks result = %s", final["d1"].Result)
	}
	sawDisksAgain := false
	for _, hb := range hbs[1:] {
		sawDisksAgain = sawDisksAgain || len(hb.Disks) > 0
	}
	if !sawDisksAgain {
		t.Error("disks not sent again after report_disks")
	}
	b, _ := os.ReadFile(dev)
	if len(b) != size {
		t.Fatalf("disk size changed to %d", len(b))
	}
	zero := make([]byte, 1<<20)
	if !bytes.Equal(b[:1<<20], zero) || !bytes.Equal(b[size-1<<20:], zero) {
		t.Error("head or tail of the disk not zeroed")
	}
	if !bytes.Equal(b[1<<20:size-1<<20], bytes.Repeat([]byte{0xab}, size-2<<20)) {
		t.Error("erase touched the middle of the disk")
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(path, content string) {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("class/net/lo/address", "00:00:00:00:00:00\n")
	write("class/net/eth0/address", "52:54:00:AB:CD:EF\n")
	write("class/net/eth1/address", "52:54:00:12:34:56\n")
	write("class/net/sit0/address", "00:00:00:00\n")
	write("block/vda/size", "2097152\n")
	write("block/vda/serial", "ferric-disk-1\n")
	write("block/sda/size", "41943040\n")
	write("block/sda/device/model", "QEMU HARDDISK   \n")
	write("block/sda/device/serial", "QM00001\n")
	write("block/loop0/size", "1000\n")
	write("block/sr0/size", "1000\n")
	write("block/ram0/size", "1000\n")
	write("block/vdb/size", "0\n") // empty drive

	macs, err := MACAddresses(root)
	if err != nil || !slices.Equal(macs, []string{"52:54:00:12:34:56", "52:54:00:ab:cd:ef"}) {
		t.Errorf("MACAddresses() = %v, %v", macs, err)
	}
	disks, err := Disks(root, "/dev")
	want := []wire.Disk{
		{Name: "/dev/sda", Size: 41943040 * 512, Model: "QEMU HARDDISK", Serial: "QM00001"},
		{Name: "/dev/vda", Size: 1 << 30, Serial: "ferric-disk-1"},
	}
	if err != nil || !slices.Equal(disks, want) {
		t.Errorf("Disks() = %+v, %v; want %+v", disks, err, want)
	}
}

func TestParseChecksum(t *testing.T) {
	t.Parallel()
	md5hex := strings.Repeat("ab", 16)
	cases := []struct {
		in   wire.WriteImage
		algo string
		want bool // a value to verify
		err  error
	}{
		{wire.WriteImage{}, "sha256", false, nil},
		{wire.WriteImage{Checksum: md5hex}, "md5", true, nil},
		{wire.WriteImage{Checksum: strings.ToUpper(md5hex)}, "md5", true, nil},
		{wire.WriteImage{Checksum: "sha256:" + strings.Repeat("0", 64)}, "sha256", true, nil},
		{wire.WriteImage{Checksum: "SHA512:" + strings.Repeat("0", 128)}, "sha512", true, nil},
		{wire.WriteImage{Checksum: strings.Repeat("0", 128)}, "sha512", true, nil},
		{wire.WriteImage{HashAlgo: "sha512", HashValue: strings.Repeat("1", 128), Checksum: md5hex}, "sha512", true, nil},
		{wire.WriteImage{Checksum: "xyz"}, "", false, ErrBadChecksum},
		{wire.WriteImage{Checksum: "sha256:" + md5hex}, "", false, ErrBadChecksum},
		{wire.WriteImage{HashAlgo: "crc32", HashValue: "00"}, "", false, ErrBadChecksum},
		{wire.WriteImage{Checksum: "md5:" + strings.Repeat("zz", 16)}, "", false, ErrBadChecksum},
	}
	for _, tc := range cases {
		got, err := parseChecksum(tc.in)
		if !errors.Is(err, tc.err) || got.algo != tc.algo || (got.want != nil) != tc.want {
			t.Errorf("parseChecksum(%+v) = %+v, %v; want %s, verify %v, %v", tc.in, got, err, tc.algo, tc.want, tc.err)
		}
	}
}
