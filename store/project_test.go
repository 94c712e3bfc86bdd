package store_test

import (
	"slices"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestListByProject checks the project filter a project-scoped caller's lists
// use: nodes the project owns or leases, and their ports.
func TestListByProject(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	owned := mustNode(t, s, "owned", func(n *store.Node) { n.Owner = ptr("p1") })
	leased := mustNode(t, s, "leased", func(n *store.Node) { n.Owner, n.Lessee = ptr("p2"), ptr("p1") })
	other := mustNode(t, s, "other", func(n *store.Node) { n.Owner, n.Lessee = ptr("p2"), ptr("p3") })
	mustNode(t, s, "nobody")
	for i, n := range []store.Node{owned, leased, other} {
		if _, err := s.CreatePort(ctx, store.Port{NodeUUID: n.UUID, Address: "52:54:00:00:00:0" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(ns []store.Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, *n.Name)
		}
		return out
	}
	for _, tt := range []struct {
		project string
		want    []string
	}{
		{"p1", []string{"owned", "leased"}},
		{"p2", []string{"leased", "other"}},
		{"p3", []string{"other"}},
		{"p4", nil},
	} {
		got, err := s.ListNodes(ctx, store.ListNodes{Project: tt.project})
		if err != nil || !slices.Equal(names(got), tt.want) {
			t.Errorf("ListNodes(project %s) = %v, %v; want %v", tt.project, names(got), err, tt.want)
		}
		ports, err := s.ListPorts(ctx, store.ListPorts{Project: tt.project})
		if err != nil || len(ports) != len(tt.want) {
			t.Errorf("ListPorts(project %s) = %d ports, %v; want %d", tt.project, len(ports), err, len(tt.want))
		}
	}
	// Combined with another filter, both apply.
	got, err := s.ListNodes(ctx, store.ListNodes{Project: "p1", Owner: "p1"})
	if err != nil || !slices.Equal(names(got), []string{"owned"}) {
		t.Errorf("ListNodes(project p1, owner p1) = %v, %v", names(got), err)
	}
}

// TestEventsWhoDidWhat checks that transitions, power records and added
// events keep the user and project they were made for.
func TestEventsWhoDidWhat(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "who")
	if _, err := s.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Enroll},
		To: node.Verifying, Target: node.Manageable, User: "u1", Project: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, Target: ptr(node.PowerOn), Event: "power on",
		User: "u2", Project: "p2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, store.Event{NodeUUID: n.UUID, EventType: "maintenance", Event: "m",
		User: ptr("u3"), Project: ptr("p3")}); err != nil {
		t.Fatal(err)
	}
	// The system's own transitions name nobody.
	if _, err := s.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Verifying},
		To: node.Manageable}); err != nil {
		t.Fatal(err)
	}
	events, err := s.NodeEvents(ctx, n.UUID)
	if err != nil || len(events) != 4 {
		t.Fatalf("NodeEvents = %+v, %v", events, err)
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	want := [][2]string{{"u1", "p1"}, {"u2", "p2"}, {"u3", "p3"}, {"<nil>", "<nil>"}}
	for i, e := range events {
		if got := [2]string{str(e.User), str(e.Project)}; got != want[i] {
			t.Errorf("event %d (%s) user/project = %v, want %v", i, e.Event, got, want[i])
		}
	}
}
