package store_test

import (
	"context"
	"errors"
	"testing"

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
