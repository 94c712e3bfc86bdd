package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestAgentDeploySurvivesWorkerCrashes kills the worker process (SIGKILL)
// twice during a direct deploy: once while the node waits in wait call-back,
// once while the agent writes the image. Fresh workers pick the workflow up;
// the node reaches active, the image was downloaded and written exactly once,
// and the disk holds it. It runs on each persistence backend of ferric dev's
// embedded Temporal server.
func TestAgentDeploySurvivesWorkerCrashes(t *testing.T) {
	bin := ferricBinary(t)
	for _, backend := range devTemporalBackends() {
		t.Run(backend, func(t *testing.T) { testAgentDeploySurvivesWorkerCrashes(t, bin, backend) })
	}
}

func testAgentDeploySurvivesWorkerCrashes(t *testing.T, bin, backend string) {
	s := startStackOnDev(t, backend, "api", func(c *config) { c.agentHeartbeat = time.Second })
	ctx := context.Background()
	schema := s.st.Pool().Config().ConnConfig.RuntimeParams["search_path"]
	dbURL := storetestURLWithSchema(t, schema)

	// A 24 MiB image served slowly (1 MiB every 150 ms), so that the write
	// takes a few seconds; downloads are counted.
	image := make([]byte, 24<<20)
	_, _ = rand.Read(image)
	sum := sha256.Sum256(image)
	var downloads, served atomic.Int64
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		w.Header().Set("Content-Length", "25165824")
		for off := 0; off < len(image); off += 1 << 20 {
			if _, err := w.Write(image[off : off+1<<20]); err != nil {
				return
			}
			served.Add(1 << 20)
			time.Sleep(150 * time.Millisecond)
		}
	}))
	t.Cleanup(img.Close)

	w1 := startWorker(t, bin, s, dbURL)
	no := false
	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "direct-crash", Driver: "fake-hardware",
		DeployInterface: "direct", BootInterface: "pxe", AutomatedClean: &no}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	const mac = "52:54:00:aa:00:99"
	if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: mac}).Extract(); err != nil {
		t.Fatalf("create port: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: img.URL + "/disk.raw"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_algo", Value: "sha256"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_value", Value: hex.EncodeToString(sum[:])},
	}).Extract(); err != nil {
		t.Fatalf("patch instance_info: %v", err)
	}
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatalf("deploy: %v", err)
	}

	// Crash 1: the node waits for its agent, which has not booted yet.
	s.waitFor(t, n.UUID, time.Minute, func(n *nodes.Node) bool { return n.ProvisionState == "wait call-back" })
	kill(t, w1)
	w2 := startWorker(t, bin, s, dbURL)

	disk := runAgent(t, s, mac)

	// Crash 2: the agent is writing the image.
	deadline := time.Now().Add(2 * time.Minute)
	for served.Load() < 4<<20 {
		if time.Now().After(deadline) {
			werr := s.temporal.GetDefaultClient().GetWorkflow(ctx, "node/"+n.UUID, "").Get(ctx, nil)
			t.Fatalf("the agent never started writing the image (deploy workflow: %v)", werr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kill(t, w2)
	startWorker(t, bin, s, dbURL)

	got := s.waitFor(t, n.UUID, 3*time.Minute, func(n *nodes.Node) bool {
		return n.ProvisionState == "active" || n.ProvisionState == "deploy failed"
	})
	if got.ProvisionState != "active" {
		werr := s.temporal.GetDefaultClient().GetWorkflow(ctx, "node/"+n.UUID, "").Get(ctx, nil)
		t.Logf("deploy workflow result: %v", werr)
		t.Fatalf("after two worker crashes the node is %q (last_error %q), want active", got.ProvisionState, got.LastError)
	}
	if d := downloads.Load(); d != 1 {
		t.Errorf("the image was downloaded %d times, want exactly once", d)
	}
	written, err := os.ReadFile(disk)
	if err != nil || len(written) < len(image) || !bytes.Equal(written[:len(image)], image) {
		t.Errorf("disk holds %d bytes (err %v), want the %d-byte image first", len(written), err, len(image))
	}
	events, err := s.st.NodeEvents(ctx, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	toActive := 0
	for _, e := range events {
		if strings.HasSuffix(e.Event, "-> active") {
			toActive++
		}
	}
	if toActive != 1 {
		t.Errorf("history records %d moves to active, want 1", toActive)
	}
}

// storetestURLWithSchema is the test database URL with search_path set to
// the test's schema, for a worker in another process.
func storetestURLWithSchema(t *testing.T, schema string) string {
	t.Helper()
	u := storetest.URL(t)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "search_path=" + schema
}

// storeURL is the test database URL of st's schema.
func storeURL(t *testing.T, st *store.Store) string {
	t.Helper()
	return storetestURLWithSchema(t, st.Pool().Config().ConnConfig.RuntimeParams["search_path"])
}

// kill sends SIGKILL to w and waits until it has exited (safe off the
// test's goroutine).
func kill(t *testing.T, w *workerProc) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil && w.alive() {
		t.Errorf("kill pid %d: %v", w.cmd.Process.Pid, err)
		return
	}
	<-w.exited
	t.Logf("process %d killed", w.cmd.Process.Pid)
}
