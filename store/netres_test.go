package store_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestPortgroups(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n1, n2 := mustNode(t, s, "n1"), mustNode(t, s, "n2")
	g, err := s.CreatePortgroup(ctx, store.Portgroup{Name: ptr("bond0"), NodeUUID: n1.UUID,
		Address: ptr("52:54:00:AA:BB:CC"), Mode: ptr("802.3ad"), StandalonePortsSupported: true})
	if err != nil {
		t.Fatal(err)
	}
	if *g.Address != "52:54:00:aa:bb:cc" || g.NodeUUID != n1.UUID || string(g.Properties) != "{}" || g.UUID == "" {
		t.Errorf("CreatePortgroup = %+v", g)
	}
	for _, tt := range []struct {
		name string
		g    store.Portgroup
		want error
	}{
		{"duplicate name", store.Portgroup{Name: ptr("bond0"), NodeUUID: n2.UUID}, store.ErrExists},
		{"duplicate address", store.Portgroup{Address: ptr("52:54:00:aa:bb:cc"), NodeUUID: n2.UUID}, store.ErrExists},
		{"duplicate uuid", store.Portgroup{UUID: g.UUID, NodeUUID: n2.UUID}, store.ErrExists},
		{"unknown node", store.Portgroup{NodeUUID: uuid.NewString()}, store.ErrNotFound},
	} {
		if _, err := s.CreatePortgroup(ctx, tt.g); !errors.Is(err, tt.want) {
			t.Errorf("create %s: %v, want %v", tt.name, err, tt.want)
		}
	}
	for _, ident := range []string{g.UUID, "bond0"} {
		if got, err := s.Portgroup(ctx, ident); err != nil || got.ID != g.ID {
			t.Errorf("Portgroup(%s) = %+v, %v", ident, got, err)
		}
	}
	g2 := must(s.CreatePortgroup(ctx, store.Portgroup{NodeUUID: n2.UUID}))(t)

	// Ports join a group of their own node only, and keep it.
	p := must(s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:01", NodeUUID: n1.UUID, PortgroupUUID: &g.UUID}))(t)
	if p.PortgroupUUID == nil || *p.PortgroupUUID != g.UUID {
		t.Errorf("port's group = %v", p.PortgroupUUID)
	}
	if _, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:02", NodeUUID: n1.UUID, PortgroupUUID: &g2.UUID}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("port in another node's group: %v, want ErrNotFound", err)
	}
	if _, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:02", NodeUUID: n1.UUID, PortgroupUUID: ptr(uuid.NewString())}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("port in an unknown group: %v, want ErrNotFound", err)
	}
	if members := must(s.ListPorts(ctx, store.ListPorts{PortgroupUUID: g.UUID}))(t); len(members) != 1 {
		t.Errorf("members = %d, want 1", len(members))
	}
	// A group with members neither goes nor moves.
	if err := s.DeletePortgroup(ctx, g.UUID); !errors.Is(err, store.ErrInUse) {
		t.Errorf("delete a group with members: %v, want ErrInUse", err)
	}
	moved := g
	moved.NodeUUID = n2.UUID
	if _, err := s.UpdatePortgroup(ctx, moved); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("move a group with members: %v, want ErrNotFound (foreign key)", err)
	}
	upd := g
	upd.Mode, upd.Address = nil, ptr("52:54:00:AA:BB:CD")
	if got, err := s.UpdatePortgroup(ctx, upd); err != nil || got.Mode != nil || *got.Address != "52:54:00:aa:bb:cd" || got.UpdatedAt == nil {
		t.Errorf("UpdatePortgroup = %+v, %v", got, err)
	}
	if l := must(s.ListPortgroups(ctx, store.ListPortgroups{Address: "52:54:00:AA:BB:CD"}))(t); len(l) != 1 {
		t.Errorf("by address: %d", len(l))
	}
	if l := must(s.ListPortgroups(ctx, store.ListPortgroups{NodeUUID: n2.UUID}))(t); len(l) != 1 || l[0].UUID != g2.UUID {
		t.Errorf("by node: %+v", l)
	}
	p.PortgroupUUID = nil
	must(s.UpdatePort(ctx, p))(t)
	if err := s.DeletePortgroup(ctx, g.UUID); err != nil {
		t.Fatal(err)
	}
	// The node takes its groups and their members.
	must(s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:03", NodeUUID: n2.UUID, PortgroupUUID: &g2.UUID}))(t)
	if err := s.DeleteNode(ctx, n2.UUID); err != nil {
		t.Fatalf("delete a node with a group and members: %v", err)
	}
	if _, err := s.Portgroup(ctx, g2.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("group after its node's delete: %v", err)
	}
}

func TestVolume(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n1, n2 := mustNode(t, s, "n1"), mustNode(t, s, "n2")
	c := must(s.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: n1.UUID, Type: "iqn", ConnectorID: "iqn.a"}))(t)
	if _, err := s.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: n2.UUID, Type: "iqn", ConnectorID: "iqn.a"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate type and connector ID across nodes: %v", err)
	}
	must(s.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: n2.UUID, Type: "ip", ConnectorID: "iqn.a"}))(t)
	tg := must(s.CreateVolumeTarget(ctx, store.VolumeTarget{NodeUUID: n1.UUID, VolumeType: "iscsi", BootIndex: 0, VolumeID: "v1"}))(t)
	if _, err := s.CreateVolumeTarget(ctx, store.VolumeTarget{NodeUUID: n1.UUID, VolumeType: "iscsi", BootIndex: 0, VolumeID: "v2"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate boot index on a node: %v", err)
	}
	must(s.CreateVolumeTarget(ctx, store.VolumeTarget{NodeUUID: n2.UUID, VolumeType: "iscsi", BootIndex: 0, VolumeID: "v1"}))(t)
	if l := must(s.ListVolumeConnectors(ctx, store.ListVolume{NodeUUID: n2.UUID}))(t); len(l) != 1 || l[0].Type != "ip" {
		t.Errorf("connectors of n2 = %+v", l)
	}
	if l := must(s.ListVolumeTargets(ctx, store.ListVolume{SortKey: "volume_id", SortDesc: true, Limit: 1}))(t); len(l) != 1 {
		t.Errorf("targets page = %+v", l)
	}
	c.NodeUUID, c.Type = n2.UUID, "ip"
	if _, err := s.UpdateVolumeConnector(ctx, c); !errors.Is(err, store.ErrExists) {
		t.Errorf("update to a duplicate: %v", err)
	}
	tg.BootIndex = 5
	if got, err := s.UpdateVolumeTarget(ctx, tg); err != nil || got.BootIndex != 5 || got.UpdatedAt == nil {
		t.Errorf("UpdateVolumeTarget = %+v, %v", got, err)
	}
	if err := s.DeleteNode(ctx, n1.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VolumeTarget(ctx, tg.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("target after its node's delete: %v", err)
	}
	if l := must(s.ListVolumeConnectors(ctx, store.ListVolume{}))(t); len(l) != 1 {
		t.Errorf("connectors left = %d, want 1", len(l))
	}
}

// TestLockNodes checks that LockNodes holds a node against its workflow's
// state changes until the transaction ends, and refuses unknown nodes.
func TestLockNodes(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "n1", func(n *store.Node) { n.ProvisionState = node.Available })
	if err := s.InTx(ctx, func(q store.Queries) error {
		_, err := q.LockNodes(ctx, n.UUID, uuid.NewString())
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lock an unknown node: %v, want ErrNotFound", err)
	}
	locked := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := s.InTx(ctx, func(q store.Queries) error {
			nodes, err := q.LockNodes(ctx, n.UUID, n.UUID)
			if err != nil || nodes[n.UUID].ProvisionState != node.Available {
				t.Errorf("LockNodes = %+v, %v", nodes, err)
			}
			close(locked)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-locked
	moved := make(chan time.Time, 1)
	go func() {
		_, err := s.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Available},
			To: node.Deploying, Target: node.Active})
		if err != nil {
			t.Error(err)
		}
		moved <- time.Now()
	}()
	time.Sleep(100 * time.Millisecond)
	released := time.Now()
	close(release)
	wg.Wait()
	if at := <-moved; at.Before(released) {
		t.Errorf("the transition ran while the node was locked")
	}
}

// must(v, err)(t) is v, failing t on err.
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
