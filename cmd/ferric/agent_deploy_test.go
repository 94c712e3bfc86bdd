package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"

	"github.com/ferric-project/ferric/agent"
	"github.com/ferric-project/ferric/agent/wire"
)

// TestAgentDeployInProcess runs the direct deploy end to end without a VM:
// the real API, worker, Temporal and Postgres, and the real ferric-agent
// code in-process writing to a file as its disk. It walks lookup (token),
// heartbeat (agent-ready, commands, progress), write_image with checksum,
// the token dying when the boot config is cleaned up, and a rebuild whose
// checksum does not match (deploy failed, never active).
func TestAgentDeployInProcess(t *testing.T) {
	t.Parallel()
	s := startStack(t, "all", func(c *config) { c.agentHeartbeat = time.Second })
	ctx := context.Background()

	image := make([]byte, 3<<20)
	_, _ = rand.Read(image)
	// An image with an empty MBR partition table, as a whole-disk image has
	// one: the config drive adds its partition to it.
	clear(image[446:510])
	image[510], image[511] = 0x55, 0xAA
	sum := sha256.Sum256(image)
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "disk.raw", time.Time{}, bytes.NewReader(image))
	}))
	t.Cleanup(img.Close)

	no := false
	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "direct-0", Driver: "fake-hardware",
		DeployInterface: "direct", BootInterface: "pxe", AutomatedClean: &no}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	const mac = "52:54:00:aa:00:01"
	if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: mac}).Extract(); err != nil {
		t.Fatalf("create port: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	disk := runAgent(t, s, mac)

	// Manual cleaning through the agent: erase_devices_metadata zeroes the
	// disk's first and last MiB, erase_devices every byte.
	stale := bytes.Repeat([]byte("STALE!"), 1000)
	for _, off := range []int64{0, 64 << 20, 128<<20 - int64(len(stale))} {
		e2eWriteAt(t, disk, stale, off)
	}
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetClean,
		CleanSteps: []nodes.CleanStep{{Interface: nodes.InterfaceDeploy, Step: "erase_devices_metadata"}}}).ExtractErr(); err != nil {
		t.Fatalf("clean: %v", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == string(nodes.Manageable) && n.TargetProvisionState == ""
	})
	s.settleAs(t, n.UUID, "clean-node-agent")
	raw, _ := os.ReadFile(disk)
	if bytes.Contains(raw[:1<<20], []byte("STALE!")) || bytes.Contains(raw[len(raw)-(1<<20):], []byte("STALE!")) ||
		!bytes.Contains(raw[64<<20:65<<20], []byte("STALE!")) {
		t.Error("erase_devices_metadata did not erase exactly the first and last MiB")
	}
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetClean,
		CleanSteps: []nodes.CleanStep{{Interface: nodes.InterfaceDeploy, Step: "erase_devices"}}}).ExtractErr(); err != nil {
		t.Fatalf("clean: %v", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == string(nodes.Manageable) && n.TargetProvisionState == ""
	})
	if raw, _ := os.ReadFile(disk); bytes.Contains(raw, []byte("STALE!")) {
		t.Error("erase_devices left data on the disk")
	}
	s.settle(t, n.UUID)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: img.URL + "/disk.raw"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_algo", Value: "sha256"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_os_hash_value", Value: hex.EncodeToString(sum[:])},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_disk_format", Value: "raw"},
	}).Extract(); err != nil {
		t.Fatalf("patch instance_info: %v", err)
	}

	// Deploy with a config drive: it goes to a partition after the image,
	// and its secret into no workflow history.
	const secret = "in-process-admin-pass-31c8"
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetActive,
		ConfigDrive: nodes.ConfigDrive{MetaData: map[string]any{"admin_pass": secret},
			UserData: "#cloud-config\nfinal_message: ferric e2e config drive\n"}}).ExtractErr(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == string(nodes.Active) && n.TargetProvisionState == ""
	})
	s.settleAs(t, n.UUID, "deploy-node-agent-steps")
	got, err := nodes.Get(ctx, s.client, n.UUID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got.PowerState != "power on" || got.LastError != "" || len(got.DeployStep) != 0 {
		t.Errorf("after deploy: power %q, last_error %q, deploy_step %v", got.PowerState, got.LastError, got.DeployStep)
	}
	if err := e2eImageOnDisk(disk, image); err != nil {
		t.Fatal(err)
	}
	e2eCheckConfigDrive(t, disk, int64(len(image)), n.UUID, secret, `"name":"direct-0"`)
	e2eNoSecretInHistory(t, s, secret)
	if _, ok, _ := s.st.BootConfigByMAC(ctx, mac); ok {
		t.Error("the node still boots the ramdisk after deploy")
	}

	// Rebuild with a checksum that does not match: the agent looks the node
	// up again (its old token died), writes, and the node fails.
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/instance_info/image_os_hash_value", Value: strings.Repeat("0", 64)},
	}).Extract(); err != nil {
		t.Fatalf("patch instance_info: %v", err)
	}
	s.provisionAs(t, n.UUID, nodes.TargetRebuild, nodes.DeployFail, "deploy-node-agent-failed")
	got, _ = nodes.Get(ctx, s.client, n.UUID).Extract()
	if !strings.Contains(got.LastError, "image checksum mismatch") || got.PowerState != "power off" {
		t.Errorf("after bad rebuild: last_error %q, power %q", got.LastError, got.PowerState)
	}
	if _, ok, _ := s.st.BootConfigByMAC(ctx, mac); ok {
		t.Error("the node still boots the ramdisk after a failed deploy")
	}
}

// runAgent runs the real ferric-agent code in-process for the node with mac,
// with a file as its only disk, until the test ends; it returns the disk's
// path.
func runAgent(t *testing.T, s *stack, mac string, edits ...func(*agent.Config)) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "vda")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 128<<20); err != nil { // sparse: room for the image and a config drive
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := agent.Config{
		APIURL: strings.TrimSuffix(s.endpoint, "/v1"), Version: "test", MACs: []string{mac},
		ProgressInterval: 100 * time.Millisecond, LookupRetryMin: 50 * time.Millisecond, LookupRetryMax: 200 * time.Millisecond,
		ListDisks: func() ([]wire.Disk, error) { return []wire.Disk{{Name: disk, Size: 128 << 20}}, nil },
		Log:       slog.New(slog.DiscardHandler),
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	ag, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return disk
}
