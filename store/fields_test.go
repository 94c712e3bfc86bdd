package store_test

import (
	"errors"
	"testing"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestChildNodes: parent_node and disable_power_off are stored; node
// lists leave children out unless IncludeChildren or ParentNode asks.
func TestChildNodes(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	parent, err := s.CreateNode(ctx, store.Node{Driver: "fake-hardware"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := s.CreateNode(ctx, store.Node{Driver: "fake-hardware", ParentNode: &parent.UUID, DisablePowerOff: true})
	if err != nil {
		t.Fatal(err)
	}
	if child.ParentNode == nil || *child.ParentNode != parent.UUID || !child.DisablePowerOff {
		t.Fatalf("stored child = parent %v, disable_power_off %v", child.ParentNode, child.DisablePowerOff)
	}
	uuids := func(q store.ListNodes) []string {
		nodes, err := s.ListNodes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range nodes {
			out = append(out, n.UUID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		q    store.ListNodes
		want []string
	}{
		{"children left out", store.ListNodes{}, []string{parent.UUID}},
		{"children of parent", store.ListNodes{ParentNode: parent.UUID}, []string{child.UUID}},
		{"by name matches nothing", store.ListNodes{ParentNode: "x"}, nil},
		{"all, parent ignored", store.ListNodes{IncludeChildren: true, ParentNode: "x"}, []string{parent.UUID, child.UUID}},
	} {
		got := uuids(tt.q)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
	}
	child.ParentNode, child.DisablePowerOff = nil, false
	if child, err = s.UpdateNode(ctx, child); err != nil || child.ParentNode != nil || child.DisablePowerOff {
		t.Fatalf("update = %+v, %v", child, err)
	}
}

// TestPortNames: port names are unique and found by PortByName.
func TestPortNames(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n, err := s.CreateNode(ctx, store.Node{Driver: "fake-hardware"})
	if err != nil {
		t.Fatal(err)
	}
	name := "eth0"
	p, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:01", NodeUUID: n.UUID, Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.PortByName(ctx, name); err != nil || got.UUID != p.UUID {
		t.Errorf("PortByName = %v, %v", got.UUID, err)
	}
	if _, err := s.PortByName(ctx, "eth1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PortByName(eth1) error = %v, want ErrNotFound", err)
	}
	_, err = s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:02", NodeUUID: n.UUID, Name: &name})
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate name: error = %v, want ErrExists", err)
	}
	for _, mac := range []string{"52:54:00:00:00:03", "52:54:00:00:00:04"} { // unnamed ports do not clash
		if _, err := s.CreatePort(ctx, store.Port{Address: mac, NodeUUID: n.UUID}); err != nil {
			t.Fatal(err)
		}
	}
}
