package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"

	"github.com/ferric-project/ferric/agent"
	"github.com/ferric-project/ferric/agent/inspect"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// fixtureCollector makes the in-process agent inspect one of agent/inspect's
// fixture machines (a server with several NICs and NVMe disks) with the real
// collector.
func fixtureCollector(t *testing.T, machine string) func(*agent.Config) {
	t.Helper()
	root := filepath.Join("..", "..", "agent", "inspect", "testdata", machine)
	var addrs map[string][]string
	b, err := os.ReadFile(filepath.Join(root, "addrs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &addrs); err != nil {
		t.Fatal(err)
	}
	cfg := inspect.Config{SysfsRoot: filepath.Join(root, "sys"), ProcRoot: filepath.Join(root, "proc"),
		DevRoot: filepath.Join(root, "dev"), RunRoot: filepath.Join(root, "run"), Version: "test",
		Addresses: func(name string) ([]netip.Addr, error) {
			var out []netip.Addr
			for _, a := range addrs[name] {
				out = append(out, netip.MustParseAddr(a))
			}
			return out, nil
		}}
	return func(c *agent.Config) {
		c.Collect = func(ctx context.Context) (inventory.Document, error) { return inspect.Collect(ctx, cfg) }
	}
}

// TestInspectSurvivesWorkerCrash inspects a node in band through the real
// API, worker process, Temporal, PostgreSQL and the real agent code
// (in-process, inspecting a fixture server): the worker is killed (SIGKILL)
// while the node waits in inspect wait; a fresh worker finishes the
// inspection. Properties are filled, a port is created for the NIC the
// machine booted from, and gophercloud's typed client reads the inventory.
func TestInspectSurvivesWorkerCrash(t *testing.T) {
	bin := ferricBinary(t)
	s := startStack(t, "api", func(c *config) { c.agentHeartbeat = time.Second })
	ctx := context.Background()
	schema := s.st.Pool().Config().ConnConfig.RuntimeParams["search_path"]
	dbURL := storetestURLWithSchema(t, schema)
	w1 := startWorker(t, bin, s, dbURL)

	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "inspect-crash", Driver: "fake-hardware",
		InspectInterface: "agent", BootInterface: "pxe"}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	const mac = "52:54:00:aa:00:77" // the port the ramdisk looks the node up by
	if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: mac}).Extract(); err != nil {
		t.Fatalf("create port: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	s.waitFor(t, n.UUID, time.Minute, func(n *nodes.Node) bool { return n.ProvisionState == "inspect wait" })
	kill(t, w1)
	startWorker(t, bin, s, dbURL)
	runAgent(t, s, mac, fixtureCollector(t, "server"))

	got := s.waitFor(t, n.UUID, 2*time.Minute, func(n *nodes.Node) bool {
		return n.ProvisionState == "manageable" || n.ProvisionState == "inspect failed"
	})
	if got.ProvisionState != "manageable" || got.LastError != "" || got.InspectionFinishedAt == nil {
		t.Fatalf("after the crash the node is %q (last_error %q), want manageable", got.ProvisionState, got.LastError)
	}
	if got.Properties["cpus"] != float64(16) || got.Properties["cpu_arch"] != "x86_64" ||
		got.Properties["capabilities"] != "boot_mode:uefi" {
		t.Errorf("properties %v", got.Properties)
	}
	ps, err := ports.List(s.client, ports.ListOpts{NodeUUID: n.UUID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := ports.ExtractPorts(ps)
	var macs []string
	for _, p := range list {
		macs = append(macs, p.Address)
	}
	if len(macs) != 2 || !slices.Contains(macs, mac) {
		t.Errorf("ports %v: want the lookup port and the PXE NIC's", macs)
	}

	// gophercloud's typed client reads what ferric serves.
	c := *s.client
	c.Microversion = "1.81"
	inv, err := nodes.GetInventory(ctx, &c, n.UUID).Extract()
	if err != nil {
		t.Fatalf("gophercloud GetInventory: %v", err)
	}
	if inv.Inventory.CPU.Count != 16 || len(inv.Inventory.Interfaces) == 0 || len(inv.Inventory.Disks) == 0 {
		t.Errorf("typed inventory %+v", inv.Inventory.CPU)
	}
	pd, err := inv.PluginData.AsStandardData()
	if err != nil || len(pd.AllInterfaces) == 0 {
		t.Errorf("typed plugin data: %+v, %v", pd, err)
	}
	nvme := 0
	for _, d := range inv.Inventory.Disks {
		if strings.HasPrefix(d.Name, "/dev/nvme") {
			nvme++
		}
	}
	if nvme != 2 {
		t.Errorf("%d NVMe disks in the inventory, want the fixture's 2", nvme)
	}
}

// TestInspectWaitAbortAndCallbackTimeout drives in-band inspection through
// the REST API with no agent ever calling back: an abort in inspect wait
// ends in inspect failed, and so does the worker's callback timeout
// (-agent-callback-timeout), each with Ironic's last_error; the node can be
// managed again afterwards.
func TestInspectWaitAbortAndCallbackTimeout(t *testing.T) {
	s := startStack(t, "all", func(c *config) { c.callbackWait = 3 * time.Second })
	ctx := context.Background()
	mk := func(name string) string {
		n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: name, Driver: "fake-hardware",
			InspectInterface: "agent", BootInterface: "pxe"}).Extract()
		if err != nil {
			t.Fatalf("create node: %v", err)
		}
		s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
		if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
			nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
			t.Fatalf("inspect: %v", err)
		}
		return n.UUID
	}
	aborted, timedOut := mk("inspect-abort"), mk("inspect-timeout")

	s.waitFor(t, aborted, time.Minute, func(n *nodes.Node) bool { return n.ProvisionState == "inspect wait" })
	if err := nodes.ChangeProvisionState(ctx, s.client, aborted,
		nodes.ProvisionStateOpts{Target: nodes.TargetAbort}).ExtractErr(); err != nil {
		t.Fatalf("abort: %v", err)
	}
	for id, want := range map[string]string{aborted: "aborted", timedOut: "timeout reached"} {
		got := s.waitFor(t, id, time.Minute, func(n *nodes.Node) bool {
			return n.ProvisionState == "inspect failed" && n.TargetProvisionState == ""
		})
		if !strings.Contains(got.LastError, want) || got.InspectionFinishedAt != nil {
			t.Errorf("node %s: last_error %q, inspection_finished_at %v; want %q and no finish time",
				got.Name, got.LastError, got.InspectionFinishedAt, want)
		}
		if got.PowerState != "power off" {
			t.Errorf("node %s left %q, want powered off after leaving the ramdisk", got.Name, got.PowerState)
		}
		s.settle(t, id)
		s.provision(t, id, nodes.TargetManage, nodes.Manageable)
	}
	c := *s.client
	c.Microversion = "1.81"
	if _, err := nodes.GetInventory(ctx, &c, timedOut).Extract(); statusOf(err) != 404 {
		t.Errorf("inventory after a failed inspection: %v, want 404", err)
	}
}
