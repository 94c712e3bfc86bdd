package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// availableNode makes a node an allocation may hold: available, powered,
// of resource class rc.
func availableNode(t testing.TB, s *store.Store, name, rc string, edit ...func(*store.Node)) store.Node {
	t.Helper()
	return mustNode(t, s, name, append([]func(*store.Node){func(n *store.Node) {
		n.ProvisionState, n.PowerState, n.ResourceClass = node.Available, node.PowerOff, ptr(rc)
	}}, edit...)...)
}

func mustAllocation(t testing.TB, s *store.Store, a store.Allocation) store.Allocation {
	t.Helper()
	out, err := s.CreateAllocation(context.Background(), a)
	if err != nil {
		t.Fatalf("CreateAllocation: %v", err)
	}
	return out
}

func TestReserveNode(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	gpu := availableNode(t, s, "gpu", "gold", func(n *store.Node) { n.Traits = []string{"CUSTOM_GPU", "CUSTOM_X"} })
	availableNode(t, s, "plain", "gold")
	availableNode(t, s, "other-rc", "silver")
	availableNode(t, s, "unpowered", "gold", func(n *store.Node) { n.PowerState = node.PowerNone })
	availableNode(t, s, "maint", "gold", func(n *store.Node) { n.Maintenance = true })
	mustNode(t, s, "manageable", func(n *store.Node) { n.ProvisionState, n.ResourceClass = node.Manageable, ptr("gold") })

	a := mustAllocation(t, s, store.Allocation{ResourceClass: ptr("gold"), Traits: []string{"CUSTOM_GPU"}})
	if a.State != node.AllocationAllocating || a.NodeUUID != nil {
		t.Fatalf("created allocation = %+v, want allocating without node", a)
	}
	r, err := s.ReserveNode(ctx, a.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allocation.State != node.AllocationActive || r.Allocation.NodeUUID == nil || *r.Allocation.NodeUUID != gpu.UUID {
		t.Fatalf("reservation = %+v, want active on %s", r.Allocation, gpu.UUID)
	}
	n, _ := s.Node(ctx, gpu.UUID)
	if n.InstanceUUID == nil || *n.InstanceUUID != a.UUID || n.AllocationUUID == nil || *n.AllocationUUID != a.UUID ||
		string(n.InstanceInfo) != `{"traits": ["CUSTOM_GPU"]}` || n.Version != gpu.Version+1 {
		t.Errorf("held node: instance %v, allocation %v, instance_info %s, version %d", n.InstanceUUID,
			n.AllocationUUID, n.InstanceInfo, n.Version)
	}
	// A retried call sees its committed reservation.
	if again, err := s.ReserveNode(ctx, a.UUID); err != nil || *again.Allocation.NodeUUID != gpu.UUID {
		t.Errorf("retry = %+v, %v", again, err)
	}

	// Nothing left with the traits: counts say why.
	b := mustAllocation(t, s, store.Allocation{ResourceClass: ptr("gold"), Traits: []string{"CUSTOM_GPU"}})
	r, err = s.ReserveNode(ctx, b.UUID)
	if err != nil || r.Allocation.State != node.AllocationAllocating || r.Matching != 1 || r.WithTraits != 0 {
		t.Errorf("no match = %+v, %v; want allocating, 1 matching (plain), 0 with traits", r, err)
	}
	if f, err := s.FailAllocation(ctx, b.UUID, "no"); err != nil || f.State != node.AllocationError || *f.LastError != "no" {
		t.Errorf("FailAllocation = %+v, %v", f, err)
	}
	// Candidates restrict; a named node is preferred.
	c := mustAllocation(t, s, store.Allocation{Name: ptr("plain"), ResourceClass: ptr("gold")})
	r, _ = s.ReserveNode(ctx, c.UUID)
	if p, _ := s.Node(ctx, "plain"); r.Allocation.NodeUUID == nil || *r.Allocation.NodeUUID != p.UUID {
		t.Errorf("named allocation held %v, want node plain", r.Allocation.NodeUUID)
	}
	// A deleted allocation is gone.
	d := mustAllocation(t, s, store.Allocation{ResourceClass: ptr("gold")})
	if err := s.DeleteAllocation(ctx, d.UUID, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := s.ReserveNode(ctx, d.UUID); err != nil || !r.Gone {
		t.Errorf("deleted allocation: %+v, %v; want gone", r, err)
	}

	// Undeploy (a transition clearing instance_uuid) releases it.
	empty := ""
	if _, err := s.Transition(ctx, store.TransitionRequest{UUID: gpu.UUID, From: []node.ProvisionState{node.Available},
		To: node.Cleaning, InstanceUUID: &empty}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocation(ctx, a.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("allocation after its node's instance was cleared: %v, want ErrNotFound", err)
	}
	// So does an update removing instance_uuid.
	p, _ := s.Node(ctx, "plain")
	p.InstanceUUID = nil
	if u, err := s.UpdateNode(ctx, p); err != nil || u.AllocationUUID != nil {
		t.Fatalf("UpdateNode = %v, %v", u.AllocationUUID, err)
	}
	if _, err := s.Allocation(ctx, c.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("allocation after instance_uuid removed: %v, want ErrNotFound", err)
	}
}

func TestDeleteAllocationChecksNode(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	n := availableNode(t, s, "n", "gold")
	a := mustAllocation(t, s, store.Allocation{Name: ptr("a"), ResourceClass: ptr("gold")})
	if _, err := s.ReserveNode(ctx, a.UUID); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	if err := s.DeleteAllocation(ctx, "a", func(got *store.Node, al *store.Allocation) error {
		if got.UUID != n.UUID || al.UUID != a.UUID {
			t.Errorf("check saw %s/%s", got.UUID, al.UUID)
		}
		return refuse
	}); !errors.Is(err, refuse) {
		t.Fatalf("refused delete = %v", err)
	}
	if got, _ := s.Node(ctx, n.UUID); got.InstanceUUID == nil {
		t.Fatal("refused delete released the node")
	}
	if err := s.DeleteAllocation(ctx, "a", func(*store.Node, *store.Allocation) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Node(ctx, n.UUID)
	if got.InstanceUUID != nil || got.AllocationUUID != nil {
		t.Errorf("released node: instance %v, allocation %v", got.InstanceUUID, got.AllocationUUID)
	}
	if err := s.DeleteAllocation(ctx, "a", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	// Deleting a node deletes its allocation.
	b := mustAllocation(t, s, store.Allocation{ResourceClass: ptr("gold")})
	if _, err := s.ReserveNode(ctx, b.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocation(ctx, b.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("allocation of a deleted node: %v", err)
	}
}

func TestBackfillAllocation(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	inst := "CCCCCCCC-CCCC-4CCC-8CCC-CCCCCCCCCCCC"
	n := mustNode(t, s, "deployed", func(n *store.Node) {
		n.ProvisionState, n.InstanceUUID, n.ResourceClass = node.Active, ptr(inst), ptr("gold")
	})
	ok := func(*store.Node, *store.Allocation) error { return nil }
	msg := func(err error) string { return err.Error() }
	a, err := s.BackfillAllocation(ctx, store.Allocation{UUID: inst, ResourceClass: ptr("gold")}, n.UUID, ok, msg)
	if err != nil || a.State != node.AllocationActive || a.NodeUUID == nil || *a.NodeUUID != n.UUID {
		t.Fatalf("backfill = %+v, %v", a, err)
	}
	if got, _ := s.Node(ctx, n.UUID); got.AllocationUUID == nil || *got.AllocationUUID != a.UUID {
		t.Errorf("node allocation_uuid = %v, want %s", got.AllocationUUID, a.UUID)
	}
	// A refused backfill keeps the allocation, failed.
	m := mustNode(t, s, "m", func(n *store.Node) { n.ProvisionState = node.Manageable })
	bad := errors.New("not active")
	if _, err := s.BackfillAllocation(ctx, store.Allocation{Name: ptr("bf")}, m.UUID,
		func(*store.Node, *store.Allocation) error { return bad }, msg); !errors.Is(err, bad) {
		t.Fatalf("refused backfill = %v", err)
	}
	if f, err := s.Allocation(ctx, "bf"); err != nil || f.State != node.AllocationError || *f.LastError != "not active" {
		t.Errorf("failed backfill stored as %+v, %v", f, err)
	}
	// A node held by another instance is refused.
	if _, err := s.BackfillAllocation(ctx, store.Allocation{}, n.UUID, ok, msg); !errors.Is(err, store.ErrConflict) {
		t.Errorf("backfill of a held node = %v, want ErrConflict", err)
	}
	if _, err := s.CreateAllocation(ctx, store.Allocation{Name: ptr("bf")}); !errors.Is(err, store.ErrDuplicateName) {
		t.Errorf("duplicate name = %v, want ErrDuplicateName", err)
	}
}

// TestReserveNodeConcurrently: many allocations reserving at once over
// fewer nodes never hold a node twice.
func TestReserveNodeConcurrently(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	const nodes, allocs = 20, 30
	for i := range nodes {
		availableNode(t, s, fmt.Sprintf("n%d", i), "gold")
	}
	var ids []string
	for range allocs {
		ids = append(ids, mustAllocation(t, s, store.Allocation{ResourceClass: ptr("gold")}).UUID)
	}
	var wg sync.WaitGroup
	results := make([]store.Reservation, allocs)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.ReserveNode(ctx, id)
			for err == nil && r.Allocation.State == node.AllocationAllocating && r.WithTraits > 0 {
				r, err = s.ReserveNode(ctx, id) // every suitable node was busy: again
			}
			if err != nil {
				t.Errorf("ReserveNode: %v", err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	held := map[string]bool{}
	for _, r := range results {
		if r.Allocation.State != node.AllocationActive {
			continue
		}
		if held[*r.Allocation.NodeUUID] {
			t.Errorf("node %s held twice", *r.Allocation.NodeUUID)
		}
		held[*r.Allocation.NodeUUID] = true
	}
	if len(held) != nodes {
		t.Errorf("%d nodes held, want %d", len(held), nodes)
	}
}
