package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferric-project/ferric/node"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestInventory(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	n := mustNode(t, s, "inv-node")
	if _, err := s.NodeInventory(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before inspection: %v, want ErrNotFound", err)
	}
	// Byte for byte: key order, spacing and duplicate keys survive.
	doc := `{ "cpu" : {"count": 2, "count": 4}, "b":1,"a":2 }`
	if err := s.SetInventory(ctx, store.Inventory{NodeUUID: n.UUID, Inventory: []byte(doc),
		PluginData: []byte(`{"pci_devices":[]}`), Source: "agent"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.NodeInventory(ctx, n.UUID)
	if err != nil || string(got.Inventory) != doc || string(got.PluginData) != `{"pci_devices":[]}` || got.Source != "agent" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := s.SetInventory(ctx, store.Inventory{NodeUUID: n.UUID, Inventory: []byte(`{}`), PluginData: []byte(`{}`),
		Source: "fake"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NodeInventory(ctx, n.UUID); string(got.Inventory) != `{}` || got.Source != "fake" {
		t.Errorf("replaced: %+v", got)
	}
	if err := s.SetInventory(ctx, store.Inventory{NodeUUID: "0f7c5b4e-8b1e-4e2a-9d3c-1a2b3c4d5e6f",
		Inventory: []byte(`{}`), PluginData: []byte(`{}`)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing node: %v", err)
	}
}

// TestInspectionData: the data a ramdisk posts is kept only in inspect
// wait, once per inspection (data from an earlier inspection is replaced),
// byte for byte, until deleted; it is marked applied once.
func TestInspectionData(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	earlier := time.Now().Add(-time.Hour)
	n := mustNode(t, s, "insp-node", func(n *store.Node) {
		n.ProvisionState, n.InspectionStartedAt = node.InspectWait, &earlier
	})
	if _, err := s.InspectionData(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before a post: %v", err)
	}
	inv, pd := []byte(`{ "interfaces": [], "b":1 }`), []byte(`{"error":null}`)
	if err := s.SubmitInspectionData(ctx, n.UUID, inv, pd); err != nil {
		t.Fatal(err)
	}
	got, err := s.InspectionData(ctx, n.UUID)
	if err != nil || string(got.Inventory) != string(inv) || string(got.PluginData) != string(pd) || got.NodeUUID != n.UUID {
		t.Fatalf("kept %+v, %v", got, err)
	}
	if err := s.SubmitInspectionData(ctx, n.UUID, []byte(`{}`), []byte(`{}`)); !errors.Is(err, store.ErrExists) {
		t.Errorf("second post in the same inspection: %v, want ErrExists", err)
	}
	// Applied: marked once, the first time kept.
	if got.AppliedAt != nil {
		t.Errorf("applied at %v before it was", got.AppliedAt)
	}
	if err := s.MarkInspectionApplied(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	applied, err := s.InspectionData(ctx, n.UUID)
	if err != nil || applied.AppliedAt == nil || string(applied.Inventory) != string(inv) {
		t.Fatalf("after marking: %+v, %v", applied, err)
	}
	if err := s.MarkInspectionApplied(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.InspectionData(ctx, n.UUID); again.AppliedAt == nil || !again.AppliedAt.Equal(*applied.AppliedAt) {
		t.Errorf("marked again: %v, want %v kept", again.AppliedAt, applied.AppliedAt)
	}
	// A new inspection starts: what was left from the last one is replaced
	// (and not applied yet).
	now := time.Now().Add(time.Minute)
	n, _ = s.Node(ctx, n.UUID)
	n.InspectionStartedAt = &now
	if _, err := s.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.SubmitInspectionData(ctx, n.UUID, []byte(`{"new":1}`), []byte(`{}`)); err != nil {
		t.Errorf("post in a new inspection: %v", err)
	}
	if got, _ := s.InspectionData(ctx, n.UUID); string(got.Inventory) != `{"new":1}` || got.AppliedAt != nil {
		t.Errorf("kept %s, applied at %v", got.Inventory, got.AppliedAt)
	}
	if err := s.DeleteInspectionData(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InspectionData(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	other := mustNode(t, s, "manageable-node", func(n *store.Node) { n.ProvisionState = node.Manageable })
	if err := s.SubmitInspectionData(ctx, other.UUID, inv, pd); !errors.Is(err, store.ErrInvalidState) {
		t.Errorf("manageable node: %v, want ErrInvalidState", err)
	}
	if err := s.SubmitInspectionData(ctx, "0f7c5b4e-8b1e-4e2a-9d3c-1a2b3c4d5e6f", inv, pd); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing node: %v, want ErrNotFound", err)
	}
}
