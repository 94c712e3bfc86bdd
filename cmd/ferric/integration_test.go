package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/cmd/ferric/devtemporal/devtemporaltest"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// stack is ferric's API (and optionally its worker) on a real socket, over an
// in-process Temporal server and a throwaway PostgreSQL schema.
type stack struct {
	endpoint  string
	client    *gophercloud.ServiceClient
	st        *store.Store
	temporal  testTemporal
	namespace string
	logPath   string // the stack's log (debug level)
}

// testTemporal is the in-process Temporal server a stack runs on:
// temporaltest's (in-memory SQLite), or the embedded dev server of ferric
// dev (devTemporal).
type testTemporal interface {
	GetDefaultClient() client.Client
	GetFrontendHostPort() string
}

// devTemporalServer is the embedded dev server with a client to it.
type devTemporalServer struct {
	addr string
	c    client.Client
}

func (d devTemporalServer) GetDefaultClient() client.Client { return d.c }
func (d devTemporalServer) GetFrontendHostPort() string     { return d.addr }

// Persistence backends of ferric dev's embedded Temporal server, as tests
// name them.
func devTemporalBackends() []string { return []string{persistenceSQLite, persistencePostgres} }

// devTemporal starts ferric dev's embedded Temporal server for a test on
// backend: SQLite files in a temporary folder, or PostgreSQL databases of
// the test's own on the test cluster (skipped without it, see storetest).
// It stops when the test ends.
func devTemporal(t *testing.T, backend string) testTemporal {
	t.Helper()
	const namespace = "default"
	var (
		srv  *devtemporal.Server
		addr string
	)
	switch backend {
	case persistencePostgres:
		srv, addr = devtemporaltest.Start(t, devtemporaltest.Postgres(t), namespace)
	case persistenceSQLite:
		addr = devtemporaltest.FreeAddr(t)
		var err error
		srv, err = devtemporal.Start(context.Background(), devtemporal.Config{
			DBFile: filepath.Join(t.TempDir(), "temporal.db"), Address: addr, Namespace: namespace, LogLevel: "error"})
		if err != nil {
			t.Fatalf("start the embedded temporal server on sqlite: %v", err)
		}
		t.Cleanup(func() {
			if err := srv.Stop(); err != nil {
				t.Errorf("stop the embedded temporal server: %v", err)
			}
		})
	default:
		t.Fatalf("unknown temporal backend %q", backend)
	}
	t.Logf("embedded temporal server on %s, %d history shards", backend, srv.HistoryShards())
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatalf("dial the embedded temporal server: %v", err)
	}
	t.Cleanup(c.Close)
	return devTemporalServer{addr: addr, c: c}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startStack runs serve() with role "all" (API and worker) or "api"; edits
// adjust the configuration first.
func startStack(t *testing.T, role string, edits ...func(*config)) *stack {
	t.Helper()
	return startStackOn(t, storetest.New(t), role, edits...)
}

// startStackOn is startStack over an existing store.
func startStackOn(t *testing.T, st *store.Store, role string, edits ...func(*config)) *stack {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t),
		temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(devtemporal.DynamicConfig())))
	return startStackWith(t, st, ts, ts.GetDefaultNamespace(), role, edits...)
}

// startStackOnDev is startStack over ferric dev's embedded Temporal server
// on backend (devTemporal).
func startStackOnDev(t *testing.T, backend, role string, edits ...func(*config)) *stack {
	t.Helper()
	st := storetest.New(t)
	return startStackWith(t, st, devTemporal(t, backend), "default", role, edits...)
}

// startStackWith is startStack over an existing store and Temporal server.
func startStackWith(t *testing.T, st *store.Store, ts testTemporal, namespace, role string, edits ...func(*config)) *stack {
	t.Helper()
	addr := freeAddr(t)
	cfg := config{role: role, temporalAddr: ts.GetFrontendHostPort(), namespace: namespace,
		taskQueue: "ferric-test", apiAddr: addr, conductor: "ferric-test", fakeDrivers: true, eagerStart: true,
		pollInterval: 10 * time.Millisecond}
	for _, edit := range edits {
		edit(&cfg)
	}
	// The stack logs to a file; a failing test prints its end.
	logPath := filepath.Join(t.TempDir(), "ferric.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, st) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
		logFile.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(logPath)
			t.Logf("ferric log (end):\n%s", e2eTail(string(raw), 20000))
		}
	})
	endpoint := "http://" + cfg.apiAddr + "/v1"
	probe := http.DefaultClient
	if cfg.auth.tlsCertFile != "" { // readiness only: the tests verify the certificate themselves
		endpoint = "https://" + cfg.apiAddr + "/v1"
		probe = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := probe.Get(endpoint)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("api did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	c.Microversion = "1.78"
	return &stack{endpoint: endpoint, client: c, st: st, temporal: ts, namespace: cfg.namespace, logPath: logPath}
}

func (s *stack) waitFor(t *testing.T, id string, timeout time.Duration, ok func(*nodes.Node) bool) *nodes.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		n, err := nodes.Get(ctx, s.client, id).Extract()
		if err != nil {
			t.Fatalf("get node: %v", err)
		}
		if ok(n) {
			return n
		}
		if ctx.Err() != nil {
			t.Fatalf("timeout waiting for node %s; it is %q (target %q, power %q, last_error %q)",
				id, n.ProvisionState, n.TargetProvisionState, n.PowerState, n.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *stack) provision(t *testing.T, id string, target nodes.TargetProvisionState, want nodes.ProvisionState) {
	t.Helper()
	s.provisionAs(t, id, target, want, "")
}

// provisionAs is provision recording the history under file name (without
// .json; "" = the workflow type's name).
func (s *stack) provisionAs(t *testing.T, id string, target nodes.TargetProvisionState, want nodes.ProvisionState, name string) {
	t.Helper()
	ctx := context.Background()
	if err := nodes.ChangeProvisionState(ctx, s.client, id, nodes.ProvisionStateOpts{Target: target}).ExtractErr(); err != nil {
		t.Fatalf("provision %s: %v", target, err)
	}
	s.waitFor(t, id, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == string(want) && n.TargetProvisionState == ""
	})
	s.settleAs(t, id, name)
}

// settle waits for the node's last workflow run to close (it persists its
// final state a moment before it completes), and records its history for
// the replay tests when FERRIC_RECORD_HISTORIES names a folder.
func (s *stack) settle(t *testing.T, id string) {
	t.Helper()
	s.settleAs(t, id, "")
}

// settleAs is settle recording the history as name.json ("" = the
// workflow type's name).
func (s *stack) settleAs(t *testing.T, id, name string) {
	t.Helper()
	s.settleWorkflow(t, "node/"+id, name)
}

// settleWorkflow waits for the last run of workflow wfID to close, checks
// that it recorded no version marker, and records its history as name.json
// ("" = the workflow type's name) when FERRIC_RECORD_HISTORIES names a
// folder.
func (s *stack) settleWorkflow(t *testing.T, wfID, name string) {
	t.Helper()
	ctx := context.Background()
	c := s.temporal.GetDefaultClient()
	run := c.GetWorkflow(ctx, wfID, "")
	_ = run.Get(ctx, nil) // failures are asserted through the node's state
	var h historypb.History
	it := c.GetWorkflowHistory(ctx, wfID, run.GetRunID(), false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("read history: %v", err)
		}
		h.Events = append(h.Events, ev)
	}
	// Operations are started at a revision: no run records a version
	// marker or upserts search attributes (each a history event and a
	// visibility write).
	for _, ev := range h.Events {
		if ev.GetEventType() == enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES ||
			ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version" {
			t.Errorf("run of %s recorded %v (event %d): operations started at a revision need no version markers",
				wfID, ev.GetEventType(), ev.GetEventId())
		}
	}
	dir := os.Getenv("FERRIC_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	desc, err := c.DescribeWorkflowExecution(ctx, wfID, run.GetRunID())
	if err != nil {
		t.Fatalf("describe workflow: %v", err)
	}
	raw, err := protojson.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		name = desc.GetWorkflowExecutionInfo().GetType().GetName()
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) power(t *testing.T, id string, target nodes.TargetPowerState, want string) {
	t.Helper()
	if err := nodes.ChangePowerState(context.Background(), s.client, id,
		nodes.PowerStateOpts{Target: target}).ExtractErr(); err != nil {
		t.Fatalf("power %s: %v", target, err)
	}
	s.waitFor(t, id, 30*time.Second, func(n *nodes.Node) bool {
		return n.PowerState == want && n.TargetPowerState == ""
	})
	s.settle(t, id)
}

func statusOf(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}

func createNode(t *testing.T, s *stack, name string, driverInfo map[string]any) *nodes.Node {
	t.Helper()
	n, err := nodes.Create(context.Background(), s.client, nodes.CreateOpts{
		Name: name, Driver: "fake-hardware", DriverInfo: driverInfo,
		Properties: map[string]any{"cpus": 4, "memory_mb": 8192},
	}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	return n
}

// TestLifecycleWithGophercloud drives the whole node lifecycle through the
// client Metal3 uses, against the API on a real socket, workflows on a real
// Temporal server and state in a real PostgreSQL.
func TestLifecycleWithGophercloud(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()

	n := createNode(t, s, "node-0", map[string]any{"fake_power_delay": "1ms", "secret_password": "hunter2"})
	if n.ProvisionState != "enroll" {
		t.Fatalf("new node is %q, want enroll", n.ProvisionState)
	}
	if got := n.DriverInfo["secret_password"]; got != "******" {
		t.Errorf("driver_info password shown as %v, want ******", got)
	}
	p, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: "52:54:00:12:34:56"}).Extract()
	if err != nil {
		t.Fatalf("create port: %v", err)
	}
	if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID,
		Address: "52:54:00:12:34:56"}).Extract(); statusOf(err) != http.StatusConflict {
		t.Errorf("duplicate MAC: %v, want 409", err)
	}

	// A verb the state machine refuses is a 400, and nothing changes.
	err = nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr()
	if statusOf(err) != http.StatusBadRequest {
		t.Fatalf("deploy from enroll: %v, want 400", err)
	}

	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)

	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://example.invalid/img.raw"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_checksum", Value: "d41d8cd98f00b204e9800998ecf8427e"},
	}).Extract(); err != nil {
		t.Fatalf("patch instance_info: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetActive, nodes.Active)

	s.power(t, n.UUID, nodes.PowerOff, "power off")
	assertNoSecretInHistory(t, s, n.UUID, "hunter2")
	s.power(t, n.UUID, nodes.PowerOn, "power on")
	s.power(t, n.UUID, nodes.Rebooting, "power on")

	// Virtual media (1.89, 1.93): an image URL is user data; the read
	// that reports it answers with it but leaves it out of the history.
	v93 := *s.client
	v93.Microversion = "1.93"
	mediaURL := "http://user:vmedia-secret@example.invalid/boot.iso"
	if err := nodes.AttachVirtualMedia(ctx, &v93, n.UUID, nodes.AttachVirtualMediaOpts{DeviceType: "cdrom",
		ImageURL: mediaURL}).ExtractErr(); err != nil {
		t.Fatalf("attach virtual media: %v", err)
	}
	var media []map[string]any
	if err := nodes.GetVirtualMedia(ctx, &v93, n.UUID).ExtractInto(&media); err != nil ||
		!slices.ContainsFunc(media, func(m map[string]any) bool { return m["image"] == mediaURL }) {
		t.Fatalf("virtual media = %v, %v; want the attached image", media, err)
	}
	assertNoSecretInHistory(t, s, n.UUID, "vmedia-secret")

	if err := nodes.SetBootDevice(ctx, s.client, n.UUID, nodes.BootDeviceOpts{BootDevice: "pxe", Persistent: true}).ExtractErr(); err != nil {
		t.Fatalf("set boot device: %v", err)
	}
	bd, err := nodes.GetBootDevice(ctx, s.client, n.UUID).Extract()
	if err != nil || bd.BootDevice != "pxe" || !bd.Persistent {
		t.Errorf("boot device = %+v, %v; want pxe persistent", bd, err)
	}

	s.provision(t, n.UUID, nodes.TargetDeleted, nodes.Available)
	got, err := nodes.Get(ctx, s.client, n.UUID).Extract()
	if err != nil || len(got.InstanceInfo) != 0 {
		t.Errorf("instance_info after undeploy = %v, %v; want empty", got.InstanceInfo, err)
	}

	events, err := s.st.NodeEvents(ctx, n.UUID)
	if err != nil || len(events) < 8 {
		t.Errorf("history has %d events (%v), want every transition", len(events), err)
	}

	if err := nodes.Delete(ctx, s.client, n.UUID).ExtractErr(); err != nil {
		t.Fatalf("delete node: %v", err)
	}
	if _, err := ports.Get(ctx, s.client, p.UUID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Errorf("port after node delete: %v, want 404", err)
	}
	if _, err := nodes.Get(ctx, s.client, n.UUID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Errorf("node after delete: %v, want 404", err)
	}
}

// historyHolds reports whether s is in a history event (or a whole
// history): in its protobuf encoding, where payloads' data (the JSON of
// workflow inputs, results, activity arguments, memos) stands as it is,
// not base64-encoded as protojson shows it.
func historyHolds(t *testing.T, m proto.Message, s string) bool {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("encode history: %v", err)
	}
	return bytes.Contains(raw, []byte(s))
}

// assertNoSecretInHistory reads the whole history of the node's last
// workflow run and fails if the secret appears anywhere in it.
func assertNoSecretInHistory(t *testing.T, s *stack, uuid, secret string) {
	t.Helper()
	c := s.temporal.GetDefaultClient()
	if err := c.GetWorkflow(context.Background(), "node/"+uuid, "").Get(context.Background(), nil); err != nil {
		t.Fatalf("power workflow: %v", err)
	}
	it := c.GetWorkflowHistory(context.Background(), "node/"+uuid, "", false, 0)
	events := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("read history: %v", err)
		}
		events++
		if historyHolds(t, ev, secret) {
			t.Fatalf("workflow history event %d (%s) contains the secret", ev.GetEventId(), ev.GetEventType())
		}
	}
	if events < 5 {
		t.Fatalf("history has %d events; the power workflow did not run?", events)
	}
}

// TestConcurrentOperationIsLocked: a second mutating operation on a node
// while one runs is refused with 409 (the workflow ID is the node lock).
func TestConcurrentOperationIsLocked(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	n := createNode(t, s, "slow", map[string]any{"fake_deploy_delay": "2s"})
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available) // clean also takes 2 s
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	err := nodes.ChangePowerState(ctx, s.client, n.UUID, nodes.PowerStateOpts{Target: nodes.PowerOff}).ExtractErr()
	if statusOf(err) != http.StatusConflict {
		t.Fatalf("power off during deploy: %v, want 409", err)
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Errorf("409 body does not say the node is locked: %v", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.ProvisionState == "active" })
}

// TestMicroversionNegotiation: an unsupported microversion is a 406.
func TestMicroversionNegotiation(t *testing.T) {
	s := startStack(t, "api")
	for _, tt := range []struct {
		header string
		want   int
	}{{"", 200}, {"latest", 200}, {"1.1", 200}, {"1.999", 406}, {"banana", 406}, {"2.0", 406}} {
		req, _ := http.NewRequest("GET", s.endpoint+"/nodes", nil)
		if tt.header != "" {
			req.Header.Set("X-OpenStack-Ironic-API-Version", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("version %q: status %d, want %d (%s)", tt.header, resp.StatusCode, tt.want, body)
		}
		// Ironic omits the version headers only for a malformed version.
		if resp.Header.Get("X-OpenStack-Ironic-API-Maximum-Version") == "" && tt.header != "banana" {
			t.Errorf("version %q: no maximum version header", tt.header)
		}
		if tt.want == 406 && !strings.Contains(string(body), "error_message") {
			t.Errorf("version %q: 406 body is not Ironic-shaped: %s", tt.header, body)
		}
	}
}

// ferricBinary returns the ferric binary built by make (FERRIC_BIN) or builds
// one for this test.
func ferricBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("FERRIC_BIN"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "ferric")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build ferric: %v", err)
	}
	return out
}

// workerProc is a process of the test's own (a "ferric worker", "ferric
// api", a Temporal server), so that it can be killed with SIGKILL; it
// keeps what the process printed.
type workerProc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out strings.Builder
	// exited is closed once the process has exited (startProcess waits
	// for it; nothing else calls cmd.Wait).
	exited chan struct{}
}

// alive reports whether the process is still running.
func (w *workerProc) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

func (w *workerProc) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// startWorker runs "ferric worker" (fake drivers) on s's Temporal server
// and the database dbURL as a separate process, so that it can be killed.
func startWorker(t *testing.T, bin string, s *stack, dbURL string) *workerProc {
	t.Helper()
	return startProcess(t, "worker", bin, workerArgs(s, dbURL)...)
}

// workerArgs are the arguments of a "ferric worker" with fake drivers on
// s's Temporal server and the database dbURL, then extra.
func workerArgs(s *stack, dbURL string, extra ...string) []string {
	return append([]string{"worker", "-database-url", dbURL, "-temporal-address", s.temporal.GetFrontendHostPort(),
		"-namespace", s.namespace, "-task-queue", "ferric-test", "-fake-drivers", "-log-format", "text"}, extra...)
}

// TestWorkerCrashMidDeploy kills the worker process (SIGKILL) while a deploy
// with a slow fake driver is in flight; a fresh worker finishes it. It runs
// on each persistence backend of ferric dev's embedded Temporal server.
func TestWorkerCrashMidDeploy(t *testing.T) {
	bin := ferricBinary(t)
	for _, backend := range devTemporalBackends() {
		t.Run(backend, func(t *testing.T) { testWorkerCrashMidDeploy(t, bin, backend) })
	}
}

func testWorkerCrashMidDeploy(t *testing.T, bin, backend string) {
	s := startStackOnDev(t, backend, "api")
	dbURL := storeURL(t, s.st)

	w1 := startWorker(t, bin, s, dbURL)
	n := createNode(t, s, "crashy", map[string]any{"fake_deploy_delay": "6s"})
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)
	if err := nodes.ChangeProvisionState(context.Background(), s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.ProvisionState == "deploying" })
	time.Sleep(time.Second) // the deploy step is now running inside worker 1
	kill(t, w1)
	t.Logf("worker 1 killed mid-deploy")

	startWorker(t, bin, s, dbURL)
	got := s.waitFor(t, n.UUID, 90*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == "active" || n.ProvisionState == "deploy failed"
	})
	if got.ProvisionState != "active" || got.TargetProvisionState != "" {
		t.Fatalf("after the crash the node is %q (target %q, last_error %q), want active",
			got.ProvisionState, got.TargetProvisionState, got.LastError)
	}
	events, err := s.st.NodeEvents(context.Background(), n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	toActive := 0
	for _, e := range events {
		trail = append(trail, e.Event)
		if strings.HasSuffix(e.Event, "-> active") {
			toActive++
		}
	}
	t.Logf("history: %s", strings.Join(trail, " | "))
	if toActive != 1 {
		t.Errorf("history records %d moves to active, want exactly 1: %v", toActive, trail)
	}
}
