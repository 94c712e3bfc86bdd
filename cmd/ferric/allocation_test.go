package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/allocations"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// seedAvailable stores count fake-hardware nodes that allocations may hold:
// available, powered off, of resource class rc, named <prefix>-<i>.
func seedAvailable(t *testing.T, s *stack, prefix, rc string, count int) []string {
	t.Helper()
	var ids []string
	for i := range count {
		name := fmt.Sprintf("%s-%d", prefix, i)
		n, err := s.st.CreateNode(context.Background(), store.Node{Name: &name, Driver: "fake-hardware",
			ResourceClass: &rc, ProvisionState: node.Available, PowerState: node.PowerOff,
			Interfaces: store.Interfaces{Power: "fake", Management: "fake", Deploy: "fake", Vendor: "fake", Boot: "fake",
				Bios: "fake", Console: "fake", Inspect: "fake", Network: "noop", RAID: "fake", Rescue: "fake",
				Storage: "fake", Firmware: "fake"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
	}
	return ids
}

// waitAllocations waits until none of ids is allocating and returns them.
func waitAllocations(t *testing.T, s *stack, ids []string, timeout time.Duration) []*allocations.Allocation {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		out := make([]*allocations.Allocation, 0, len(ids))
		pending := 0
		for _, id := range ids {
			a, err := allocations.Get(ctx, s.client, id).Extract()
			if err != nil {
				t.Fatalf("get allocation %s: %v", id, err)
			}
			if a.State == "allocating" {
				pending++
			}
			out = append(out, a)
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations still allocating after %s", pending, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConcurrentAllocations: 50 allocations created at once over 40
// suitable nodes, through the API on a real socket, workflows on a real
// Temporal server, reservations in a real PostgreSQL: exactly 40 become
// active, each on its own node, and 10 fail with Ironic's last_error.
func TestConcurrentAllocations(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	const nodeCount, allocCount = 40, 50
	seedAvailable(t, s, "pool", "gold", nodeCount)
	seedAvailable(t, s, "other", "silver", 5) // never chosen

	start := time.Now()
	ids := make([]string, allocCount)
	var wg sync.WaitGroup
	for i := range allocCount {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := allocations.Create(ctx, s.client, allocations.CreateOpts{ResourceClass: "gold",
				Name: fmt.Sprintf("job-%d", i)}).Extract()
			if err != nil {
				t.Errorf("create allocation %d: %v", i, err)
				return
			}
			ids[i] = a.UUID
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	created := time.Since(start)
	got := waitAllocations(t, s, ids, 2*time.Minute)
	t.Logf("%d allocations created in %s, all settled in %s", allocCount, created, time.Since(start))

	held := map[string]string{}
	active, failed := 0, 0
	for _, a := range got {
		switch a.State {
		case "active":
			active++
			if other, dup := held[a.NodeUUID]; dup {
				t.Errorf("node %s held by allocations %s and %s", a.NodeUUID, other, a.UUID)
			}
			held[a.NodeUUID] = a.UUID
		case "error":
			failed++
			want := "Failed to process allocation " + a.UUID + ": no available nodes match the resource class gold."
			if a.LastError != want || a.NodeUUID != "" {
				t.Errorf("failed allocation %s: last_error %q, node %q; want %q", a.UUID, a.LastError, a.NodeUUID, want)
			}
		default:
			t.Errorf("allocation %s is %q", a.UUID, a.State)
		}
	}
	if active != nodeCount || failed != allocCount-nodeCount {
		t.Errorf("%d active, %d failed; want %d and %d", active, failed, nodeCount, allocCount-nodeCount)
	}
	// Each held node shows its allocation, as its instance.
	for nodeUUID, allocUUID := range held {
		n, err := nodes.Get(ctx, s.client, nodeUUID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if n.AllocationUUID != allocUUID || n.InstanceUUID != allocUUID || n.ResourceClass != "gold" {
			t.Errorf("node %s: allocation %q, instance %q, class %q; want allocation %s", nodeUUID, n.AllocationUUID,
				n.InstanceUUID, n.ResourceClass, allocUUID)
		}
	}
	// The store agrees: 40 nodes hold an instance, each a distinct one.
	list, err := s.st.ListNodes(ctx, store.ListNodes{})
	if err != nil {
		t.Fatal(err)
	}
	instances := map[string]bool{}
	for _, n := range list {
		if n.InstanceUUID != nil {
			if instances[*n.InstanceUUID] {
				t.Errorf("instance %s on two nodes", *n.InstanceUUID)
			}
			instances[*n.InstanceUUID] = true
		}
	}
	if len(instances) != nodeCount {
		t.Errorf("%d nodes hold an instance, want %d", len(instances), nodeCount)
	}
	var activeID, errorID string
	for _, a := range got {
		if a.State == "active" && activeID == "" {
			activeID = a.UUID
		}
		if a.State == "error" && errorID == "" {
			errorID = a.UUID
		}
	}
	s.settleWorkflow(t, "allocation/"+activeID, "allocate-node-r1")
	s.settleWorkflow(t, "allocation/"+errorID, "allocate-node-failed-r1")
}

// TestAllocationLifecycle drives an allocation through gophercloud: it
// holds a node, the node is deployed and undeployed (which releases it), a
// second allocation is deleted by hand, and the API refuses what Ironic
// refuses.
func TestAllocationLifecycle(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	ids := seedAvailable(t, s, "lc", "gold", 2)
	gpu, err := s.st.Node(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	gpu.Traits = []string{"CUSTOM_GPU"}
	if _, err := s.st.UpdateNode(ctx, gpu); err != nil {
		t.Fatal(err)
	}
	a, err := allocations.Create(ctx, s.client, allocations.CreateOpts{ResourceClass: "gold", Name: "web-1",
		Traits: []string{"CUSTOM_GPU"}, Extra: map[string]string{"owner": "team-a"}}).Extract()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if a.State != "allocating" || a.Name != "web-1" {
		t.Errorf("created %+v, want allocating web-1", a)
	}
	a = waitAllocations(t, s, []string{a.UUID}, 30*time.Second)[0]
	if a.State != "active" || a.NodeUUID != ids[0] {
		t.Fatalf("allocation %s on %q (%s), want active on %s", a.State, a.NodeUUID, a.LastError, ids[0])
	}
	pages, err := allocations.List(s.client, allocations.ListOpts{Node: "lc-0"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := allocations.ExtractAllocations(pages); len(list) != 1 || list[0].UUID != a.UUID {
		t.Errorf("allocations of lc-0 = %+v", list)
	}
	if got, err := allocations.Get(ctx, s.client, "web-1").Extract(); err != nil || got.UUID != a.UUID {
		t.Errorf("get by name = %+v, %v", got, err)
	}

	// Deploy the held node, then undeploy it: the allocation goes with the
	// instance, as in Ironic.
	if _, err := nodes.Update(ctx, s.client, ids[0], nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://example.invalid/img.raw"},
	}).Extract(); err != nil {
		t.Fatalf("patch instance_info: %v", err)
	}
	s.provision(t, ids[0], nodes.TargetActive, nodes.Active)
	err = allocations.Delete(ctx, s.client, a.UUID).ExtractErr()
	if statusOf(err) != http.StatusConflict || !strings.Contains(err.Error(), "because the node is active") {
		t.Errorf("delete the allocation of an active node: %v, want 409", err)
	}
	s.provision(t, ids[0], nodes.TargetDeleted, nodes.Available)
	if _, err := allocations.Get(ctx, s.client, a.UUID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Errorf("allocation after undeploy: %v, want 404", err)
	}
	n, err := nodes.Get(ctx, s.client, ids[0]).Extract()
	if err != nil || n.AllocationUUID != "" || n.InstanceUUID != "" {
		t.Errorf("undeployed node: allocation %q, instance %q, %v", n.AllocationUUID, n.InstanceUUID, err)
	}

	// A second allocation, deleted by hand, releases its node.
	b, err := allocations.Create(ctx, s.client, allocations.CreateOpts{ResourceClass: "gold",
		CandidateNodes: []string{"lc-1"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	b = waitAllocations(t, s, []string{b.UUID}, 30*time.Second)[0]
	if b.State != "active" || b.NodeUUID != ids[1] {
		t.Fatalf("second allocation %s on %q (%s)", b.State, b.NodeUUID, b.LastError)
	}
	if err := allocations.Delete(ctx, s.client, b.UUID).ExtractErr(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if n, _ := nodes.Get(ctx, s.client, ids[1]).Extract(); n.InstanceUUID != "" || n.AllocationUUID != "" {
		t.Errorf("released node: instance %q, allocation %q", n.InstanceUUID, n.AllocationUUID)
	}
	// Unknown candidates and a missing resource class are refused.
	_, err = allocations.Create(ctx, s.client, allocations.CreateOpts{ResourceClass: "gold",
		CandidateNodes: []string{"nope"}}).Extract()
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "Nodes cannot be found: nope") {
		t.Errorf("unknown candidate: %v, want 400", err)
	}
}
