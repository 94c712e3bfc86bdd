package api

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// Golden exchanges of port groups, VIFs and volume connectors and targets,
// captured from Ironic 21.4 (testdata/ironic-wire/pg_*, port_*_pg*,
// vif_*, volume_*, vc_*, vt_*; the capture script sets up two nodes,
// sample-node and other-node, five port groups, ports in them, and volume
// objects, and moves the nodes through manageable, power off and active).
// Each case seeds the state the capture saw.

// Identifiers of the captures.
const (
	otherUUID  = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123" // other-node
	pg0UUID    = "2a4e9c0e-5b1c-4f6b-8f0e-6a1d7c3b9e01" // pg-0 on sample-node
	pgMinUUID  = "3daffe43-3e4b-4bc0-a23b-14b7ff3f8465" // unnamed, on sample-node
	pgMin2UUID = "976767c9-f4fa-419f-896a-a450c4620a9e" // unnamed, on other-node, no standalone ports
	pgUNUUID   = "b13cc23e-c6b6-4f6a-b7b0-71da6dfcfd75" // named with a UUID, on sample-node
	pg1UUID    = "5d1f7a3c-9e2b-4c8d-a6f4-0b3e8d2c7a12" // pg-1 on other-node
	pg2UUID    = "7c2e4a6b-1d3f-4e5a-9b8c-0d2f4a6c8e23" // pg-2 (late), else a UUID nothing has
	port2UUID  = "c7b3e1f0-4a2d-4e6b-9c8f-1d5a0e3b7f21" // a port of pg-1
	vc1UUID    = "4b8e2d6a-1c3f-4a5e-8b7d-9f0c2e4a6b31"
	vcGenUUID  = "80315598-a45f-47ce-9c03-b44db9b9d8d8"
	vcBadUUID  = "f3298f66-6a26-4016-91ba-8b8701ecc124"
	vt1UUID    = "6e0a4c2b-8d1f-4e3a-b5c7-2f9d1e3a5c41"
	vtGenUUID  = "d6fadd11-7c92-44d5-b40d-4584b86f5da7"
	vtNegUUID  = "f68c7972-aa67-4614-8f34-5408346305e0"
)

// netSeed is the state a capture saw; seedNet stores it.
type netSeed struct {
	a, b       store.Node
	groups     []store.Portgroup
	ports      []store.Port
	connectors []store.VolumeConnector
	targets    []store.VolumeTarget
}

// Objects as the captures created them.

func otherNode() store.Node {
	n := sampleNode()
	n.UUID, n.Name = otherUUID, strp("other-node")
	n.CreatedAt = ts("2026-12-03T10:21:02.48Z")
	return n
}

func pgObj(id, node string, name, addr *string, at string) store.Portgroup {
	return store.Portgroup{UUID: id, NodeUUID: node, Name: name, Address: addr, Mode: strp(defaultPortgroupMode),
		Properties: json.RawMessage(`{}`), StandalonePortsSupported: true, Extra: json.RawMessage(`{}`),
		InternalInfo: json.RawMessage(`{}`), CreatedAt: ts(at)}
}

func pg0() store.Portgroup {
	g := pgObj(pg0UUID, sampleUUID, strp("pg-0"), strp("52:54:00:aa:bb:cc"), "2026-12-03T10:21:02.575230Z")
	g.Mode, g.Properties, g.Extra = strp("802.3ad"), json.RawMessage(`{"miimon": "100"}`), json.RawMessage(`{"a": "b"}`)
	return g
}

// pg0Patched is pg-0 after the enroll-state patches of the capture.
func pg0Patched() store.Portgroup {
	g := pg0()
	g.CreatedAt = ts("2026-12-03T10:21:02Z") // Ironic's conductor answers whole seconds
	g.UpdatedAt = tsp("2026-12-03T10:21:10Z")
	g.Mode, g.Address = nil, strp("52:54:00:aa:bb:ce")
	g.Extra = json.RawMessage(`{"a": "b", "x": "y"}`)
	g.Properties = json.RawMessage(`{"miimon": "100", "bond_xmit_hash_policy": "layer3+4"}`)
	return g
}

func pg1() store.Portgroup {
	return pgObj(pg1UUID, otherUUID, strp("pg-1"), strp("52:54:00:aa:bb:dd"), "2026-12-03T10:21:03.751102Z")
}

// fivePortgroups are the port groups of the list captures, in creation
// order.
func fivePortgroups() []store.Portgroup {
	min2 := pgObj(pgMin2UUID, otherUUID, nil, nil, "2026-12-03T10:21:02.733791Z")
	min2.StandalonePortsSupported = false
	return []store.Portgroup{
		pg0(),
		pgObj(pgMinUUID, sampleUUID, nil, nil, "2026-12-03T10:21:02.645904Z"),
		min2,
		pgObj(pgUNUUID, sampleUUID, strp(pg2UUID), nil, "2026-12-03T10:21:03.341741Z"),
		pg1(),
	}
}

func port1() store.Port {
	p := samplePort()
	p.CreatedAt = ts("2026-12-03T10:21:06.650536Z")
	p.PortgroupUUID = strp(pg0UUID)
	return p
}

func port2() store.Port {
	p := samplePort()
	p.UUID, p.Address, p.NodeUUID = port2UUID, "52:54:00:12:34:59", otherUUID
	p.CreatedAt = ts("2026-12-03T10:21:07Z")
	p.PortgroupUUID = strp(pg1UUID)
	return p
}

func vcObj(id, node, typ, cid, extra, at string) store.VolumeConnector {
	return store.VolumeConnector{UUID: id, NodeUUID: node, Type: typ, ConnectorID: cid,
		Extra: json.RawMessage(extra), CreatedAt: ts(at)}
}

func threeConnectors() []store.VolumeConnector {
	return []store.VolumeConnector{
		vcObj(vc1UUID, otherUUID, "iqn", "iqn.2010-10.org.openstack:test", `{"k": "v"}`, "2026-12-03T10:21:15.035462Z"),
		vcObj(vcGenUUID, sampleUUID, "wwnn", "2000000000000001", `{}`, "2026-12-03T10:21:15.285640Z"),
		vcObj(vcBadUUID, sampleUUID, "bogus", "10.0.0.1", `{}`, "2026-12-03T10:21:15.838844Z"),
	}
}

func vtObj(id, node, typ string, index int32, vol, props, extra, at string) store.VolumeTarget {
	return store.VolumeTarget{UUID: id, NodeUUID: node, VolumeType: typ, BootIndex: index, VolumeID: vol,
		Properties: json.RawMessage(props), Extra: json.RawMessage(extra), CreatedAt: ts(at)}
}

func threeTargets() []store.VolumeTarget {
	return []store.VolumeTarget{
		vtObj(vt1UUID, otherUUID, "iscsi", 0, "04452bed-5367-4202-8bf5-de4335ac56d2",
			`{"target_iqn": "iqn.2010-10.org.openstack:volume", "auth_password": "s3cret", "auth_username": "u"}`,
			`{"k": "v"}`, "2026-12-03T10:21:18.466025Z"),
		vtObj(vtGenUUID, sampleUUID, "fibre_channel", 1, "vol-2", `{}`, `{}`, "2026-12-03T10:21:18.548303Z"),
		vtObj(vtNegUUID, otherUUID, "iscsi", -1, "vol-3", `{}`, `{}`, "2026-12-03T10:21:18.931500Z"),
	}
}

// seedNet stores the two nodes, then what mut adds.
func seedNet(mut func(s *netSeed)) func(*testEnv) {
	return func(e *testEnv) {
		s := netSeed{a: sampleNode(), b: otherNode()}
		if mut != nil {
			mut(&s)
		}
		ctx := context.Background()
		e.put(s.a)
		e.put(s.b)
		for _, g := range s.groups {
			must(e.st.CreatePortgroup(ctx, g))(e.t)
		}
		for _, p := range s.ports {
			e.putPort(p)
		}
		for _, v := range s.connectors {
			must(e.st.CreateVolumeConnector(ctx, v))(e.t)
		}
		for _, v := range s.targets {
			must(e.st.CreateVolumeTarget(ctx, v))(e.t)
		}
	}
}

// Seeds of the port group captures.
var (
	seedGroups      = seedNet(func(s *netSeed) { s.groups = fivePortgroups() })
	seedGroupsPort1 = seedNet(func(s *netSeed) { s.groups, s.ports = fivePortgroups(), []store.Port{port1()} })
)

// activeWorld is the capture's state after sample-node was deployed: pg-0
// patched, port 1 in it, pg-2 on other-node (manageable, powered off).
func activeWorld(s *netSeed) {
	s.a.ProvisionState = node.Active
	s.b.ProvisionState, s.b.PowerState = node.Manageable, node.PowerOff
	g0 := pg0Patched()
	g0.Address = strp("52:54:00:aa:bb:ce")
	p := port1()
	p.CreatedAt = ts("2026-12-03T10:21:06Z")
	pg2 := pgObj(pg2UUID, otherUUID, strp("pg-2"), nil, "2026-12-03T10:21:28Z")
	s.groups = []store.Portgroup{g0, pg2}
	s.ports = []store.Port{p}
}

func TestGoldenNetworkAndVolume(t *testing.T) {
	t.Parallel()
	storedGroup := func(ident string) func(e *testEnv) store.Portgroup {
		return func(e *testEnv) store.Portgroup {
			return must(e.st.Portgroup(context.Background(), ident))(e.t)
		}
	}
	groupCount := func(want int) func(t *testing.T, e *testEnv) {
		return func(t *testing.T, e *testEnv) {
			if n := len(must(e.st.ListPortgroups(context.Background(), store.ListPortgroups{}))(t)); n != want {
				t.Errorf("port groups stored = %d, want %d", n, want)
			}
		}
	}
	portUnchanged := func(t *testing.T, e *testEnv) {
		p := must(e.st.Port(context.Background(), portUUID))(t)
		if p.UpdatedAt != nil {
			t.Errorf("port written by a refused request: %+v", p)
		}
	}
	tests := []goldenCase{
		// Port groups: create.
		{file: "pg_create_latest.txt", seed: seedNet(nil), now: []string{"created_at"}, check: groupCount(1)},
		{file: "pg_create_minimal.txt", seed: seedNet(func(s *netSeed) { s.groups = fivePortgroups()[:1] }),
			now: []string{"created_at"}},
		{file: "pg_create_minimal_123.txt", seed: seedNet(func(s *netSeed) { s.groups = fivePortgroups()[:2] }),
			now: []string{"created_at"}},
		{file: "pg_create_uuid_name.txt", seed: seedNet(func(s *netSeed) { s.groups = fivePortgroups()[:3] }),
			now: []string{"created_at"}},
		{file: "pg_create_122.txt", seed: seedNet(nil), check: groupCount(0)},
		{file: "pg_create_mode_125.txt", seed: seedNet(nil), check: groupCount(0)},
		{file: "pg_create_dup_name.txt", seed: seedGroups, check: groupCount(5)},
		{file: "pg_create_dup_mac.txt", seed: seedGroups, check: groupCount(5)},
		{file: "pg_create_dup_uuid.txt", seed: seedGroups},
		{file: "pg_create_bad_name.txt", seed: seedNet(nil)},
		{file: "pg_create_bad_mac.txt", seed: seedNet(nil)},
		{file: "pg_create_bad_node.txt", seed: seedNet(nil)},
		{file: "pg_create_bad_node_uuid.txt", seed: seedNet(nil)},
		{file: "pg_create_no_node.txt", seed: seedNet(nil)},
		{file: "pg_create_unknown_field.txt", seed: seedNet(nil)},
		{file: "pg_create_bad_standalone.txt", seed: seedNet(nil)},
		{file: "pg_create_bad_props.txt", seed: seedNet(nil)},
		// Port groups: read.
		{file: "pg_list_latest.txt", seed: seedGroups},
		{file: "pg_list_nover.txt", seed: seedGroups},
		{file: "pg_list_122.txt", seed: seedGroups},
		{file: "pg_list_123.txt", seed: seedGroups},
		{file: "pg_list_detail.txt", seed: seedGroups},
		{file: "pg_list_detail_q.txt", seed: seedGroups},
		{file: "pg_list_fields.txt", seed: seedGroups},
		{file: "pg_list_fields_125.txt", seed: seedGroups},
		{file: "pg_list_bad_field.txt", seed: seedGroups},
		{file: "pg_list_detail_fields.txt", seed: seedGroups},
		{file: "pg_list_node.txt", seed: seedGroups},
		{file: "pg_list_node_404.txt", seed: seedGroups},
		{file: "pg_list_address.txt", seed: seedGroups},
		{file: "pg_list_address_none.txt", seed: seedGroups},
		{file: "pg_list_bad_address.txt", seed: seedGroups},
		{file: "pg_list_limit1.txt", seed: seedGroups},
		{file: "pg_list_marker.txt", seed: seedGroups},
		{file: "pg_list_sort.txt", seed: seedGroups},
		{file: "pg_list_bad_sort.txt", seed: seedGroups},
		{file: "pg_list_bad_sort2.txt", seed: seedGroups},
		{file: "pg_detail_node.txt", seed: seedGroups},
		{file: "pg_get_by_name.txt", seed: seedGroups},
		{file: "pg_get_uuid.txt", seed: seedGroups},
		{file: "pg_get_125.txt", seed: seedGroups},
		{file: "pg_get_fields.txt", seed: seedGroups},
		{file: "pg_get_404.txt", seed: seedGroups},
		{file: "pg_get_404_name.txt", seed: seedGroups},
		{file: "pg_get_bad_ident.txt", seed: seedGroups},
		{file: "pg_get_122.txt", seed: seedGroups},
		{file: "node_portgroups_detail.txt", seed: seedGroups},
		{file: "node_portgroups_123.txt", seed: seedGroups},
		{file: "node_portgroups_one.txt", seed: seedGroups},
		{file: "node_portgroups_post.txt", seed: seedGroups, check: groupCount(5)},
		// Ports in port groups.
		{file: "port_create_pg.txt", seed: seedGroups, now: []string{"created_at"}, check: func(t *testing.T, e *testEnv) {
			if p := must(e.st.Port(context.Background(), portUUID))(t); p.PortgroupUUID == nil || *p.PortgroupUUID != pg0UUID {
				t.Errorf("stored port group = %v, want %s", p.PortgroupUUID, pg0UUID)
			}
		}},
		{file: "port_create_pg_missing.txt", seed: seedGroups},
		{file: "port_create_pg_bad.txt", seed: seedGroups},
		{file: "port_create_pg_123.txt", seed: seedGroups},
		{file: "pg_patch_standalone.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1()}
			s.groups[4].CreatedAt = ts("2026-12-03T10:21:03Z")
		}), now: []string{"updated_at"},
			check: func(t *testing.T, e *testEnv) {
				if storedGroup(pg1UUID)(e).StandalonePortsSupported {
					t.Error("standalone_ports_supported still true")
				}
			}},
		{file: "port_create_pg_nostandalone.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1()}
			s.groups[4].StandalonePortsSupported = false
		})},
		{file: "port_create_pg_nostandalone_default.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1()}
			s.groups[4].StandalonePortsSupported = false
		}), now: []string{"created_at"}},
		{file: "pg_patch_standalone_false_ports.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1(), port2()}
			s.groups[4].CreatedAt = ts("2026-12-03T10:21:03Z")
		}), now: []string{"updated_at"}},
		{file: "pg_ports_detail.txt", seed: seedGroupsPort1},
		{file: "pg_ports_123.txt", seed: seedGroupsPort1},
		{file: "pg_ports_one.txt", seed: seedGroupsPort1},
		{file: "ports_filter_pg.txt", seed: seedGroupsPort1},
		{file: "ports_filter_pg_detail.txt", seed: seedGroupsPort1},
		{file: "ports_filter_pg_node.txt", seed: seedGroupsPort1},
		{file: "ports_filter_pg_123.txt", seed: seedGroupsPort1},
		{file: "ports_filter_pg_404.txt", seed: seedGroupsPort1},
		{file: "port_get_pg.txt", seed: seedGroupsPort1},
		{file: "port_get_pg_123.txt", seed: seedGroupsPort1},
		// Port groups: PATCH on an enrolled node.
		{file: "pg_patch.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1()}
			s.groups[0].CreatedAt = ts("2026-12-03T10:21:02Z")
		}), now: []string{"updated_at"}},
		{file: "pg_patch_remove_mode.txt", seed: seedGroupsPort1},
		{file: "pg_patch_null_mode.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1()}
			g := pg0Patched()
			g.Mode, g.Address = strp("balance-rr"), strp("52:54:00:aa:bb:cc")
			s.groups[0] = g
		}), now: []string{"updated_at"}, check: func(t *testing.T, e *testEnv) {
			if m := storedGroup(pg0UUID)(e).Mode; m != nil {
				t.Errorf("mode = %q, want null", *m)
			}
		}},
		{file: "pg_patch_bad_name.txt", seed: seedGroupsPort1},
		{file: "pg_patch_uuid.txt", seed: seedGroupsPort1},
		{file: "pg_patch_mode_125.txt", seed: seedGroupsPort1},
		{file: "pg_patch_node_missing.txt", seed: seedGroupsPort1},
		{file: "pg_patch_address.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1()}
			g := pg0Patched()
			g.Address = strp("52:54:00:aa:bb:cc")
			s.groups[0] = g
		}), now: []string{"updated_at"}},
		{file: "pg_patch_dup_address.txt", seed: seedGroupsPort1},
		{file: "pg_patch_dup_name.txt", seed: seedGroupsPort1},
		{file: "pg_patch_remove_address.txt", seed: seedNet(func(s *netSeed) {
			s.groups, s.ports = fivePortgroups(), []store.Port{port1(), port2()}
			s.groups[4].CreatedAt = ts("2026-12-03T10:21:03Z")
			s.groups[4].StandalonePortsSupported = false
		}), now: []string{"updated_at"}},
		{file: "pg_patch_122.txt", seed: seedGroupsPort1},
		{file: "pg_delete_122.txt", seed: seedGroupsPort1, check: groupCount(5)},
		{file: "port_patch_pg_remove.txt", seed: seedNet(func(s *netSeed) {
			p := port1()
			p.CreatedAt = ts("2026-12-03T10:21:06Z")
			s.groups, s.ports = fivePortgroups(), []store.Port{p}
		}), now: []string{"updated_at"}},
		{file: "port_patch_pg_add.txt", seed: seedNet(func(s *netSeed) {
			p := port1()
			p.CreatedAt, p.PortgroupUUID = ts("2026-12-03T10:21:06Z"), nil
			s.groups, s.ports = fivePortgroups(), []store.Port{p}
		}), now: []string{"updated_at"}},
		{file: "port_patch_pg_missing.txt", seed: seedGroupsPort1, check: portUnchanged},
		// The rules of a deployed node (sample-node active).
		{file: "port_patch_address_active.txt", seed: seedNet(activeWorld), check: portUnchanged},
		{file: "port_patch_pxe_active.txt", seed: seedNet(activeWorld), check: portUnchanged},
		{file: "port_patch_pg_active.txt", seed: seedNet(activeWorld), check: portUnchanged},
		{file: "port_patch_llc_active.txt", seed: seedNet(activeWorld), check: portUnchanged},
		{file: "port_patch_extra_active.txt", seed: seedNet(activeWorld), now: []string{"updated_at"}},
		{file: "pg_patch_extra_active.txt", seed: seedNet(activeWorld), now: []string{"updated_at"}},
		{file: "pg_patch_address_active.txt", seed: seedNet(func(s *netSeed) {
			activeWorld(s)
			s.groups[0].Extra = json.RawMessage(`{"a": "b", "x": "y", "foo": "bar"}`)
		}), now: []string{"updated_at"}},
		{file: "pg_patch_standalone_active.txt", seed: seedNet(func(s *netSeed) {
			activeWorld(s)
			s.groups[0].Extra = json.RawMessage(`{"a": "b", "x": "y", "foo": "bar"}`)
			s.groups[0].Address = strp("52:54:00:aa:bb:cf")
		}), now: []string{"updated_at"}},
		{file: "pg_patch_node_active.txt", seed: seedNet(activeWorld), check: func(t *testing.T, e *testEnv) {
			if g := storedGroup(pg2UUID)(e); g.NodeUUID != otherUUID {
				t.Errorf("pg-2 moved to %s", g.NodeUUID)
			}
		}},
		{file: "pg_create_active.txt", seed: seedNet(activeWorld), now: []string{"created_at"}},
		{file: "port_create_active.txt", seed: seedNet(activeWorld), now: []string{"created_at"}},
		{file: "vif_attach_active.txt", seed: seedNet(activeWorld)},
		{file: "port_patch_pxe_maint.txt", seed: seedNet(func(s *netSeed) {
			activeWorld(s)
			s.a.Maintenance = true
			s.ports[0].Extra = json.RawMessage(`{"foo": "bar"}`)
		}), now: []string{"updated_at"}},
		{file: "port_delete_active.txt", seed: seedNet(activeWorld), check: func(t *testing.T, e *testEnv) {
			if _, err := e.st.Port(context.Background(), portUUID); err == nil {
				t.Error("port still stored")
			}
		}},
		// VIFs (noop network interface: nothing recorded).
		{file: "vif_list.txt", seed: seedGroups},
		{file: "vif_list_127.txt", seed: seedGroups},
		{file: "vif_attach.txt", seed: seedGroups},
		{file: "vif_list_after.txt", seed: seedGroups},
		{file: "vif_attach_name.txt", seed: seedGroups},
		{file: "vif_attach_127.txt", seed: seedGroups},
		{file: "vif_attach_both.txt", seed: seedGroups},
		{file: "vif_attach_both_166.txt", seed: seedGroups},
		{file: "vif_attach_no_id.txt", seed: seedGroups},
		{file: "vif_attach_bad_id.txt", seed: seedGroups},
		{file: "vif_attach_int_id.txt", seed: seedGroups},
		{file: "vif_attach_array.txt", seed: seedGroups},
		{file: "vif_attach_node_404.txt", seed: seedGroups},
		{file: "vif_detach.txt", seed: seedGroups},
		{file: "vif_detach_bad.txt", seed: seedGroups},
		{file: "vif_detach_127.txt", seed: seedGroups},
		{file: "vif_list_node_404.txt", seed: seedGroups},
		// Volume.
		{file: "volume_root.txt"},
		{file: "volume_root_131.txt"},
		{file: "node_volume.txt", seed: seedNet(nil)},
		{file: "node_volume_131.txt", seed: seedNet(nil)},
		{file: "vc_create.txt", seed: seedNet(nil), now: []string{"created_at"}},
		{file: "vc_create_gen.txt", seed: seedNet(func(s *netSeed) { s.connectors = threeConnectors()[:1] }),
			now: []string{"created_at"}},
		{file: "vc_create_bad_type.txt", seed: seedNet(func(s *netSeed) { s.connectors = threeConnectors()[:2] }),
			now: []string{"created_at"}},
		{file: "vc_create_dup.txt", seed: seedNet(func(s *netSeed) { s.connectors = threeConnectors()[:2] })},
		{file: "vc_create_dup_uuid.txt", seed: seedNet(func(s *netSeed) { s.connectors = threeConnectors()[:2] })},
		{file: "vc_create_bad_node.txt", seed: seedNet(nil)},
		{file: "vc_create_bad_node_uuid.txt", seed: seedNet(nil)},
		{file: "vc_create_missing.txt", seed: seedNet(nil)},
		{file: "vc_create_unknown_field.txt", seed: seedNet(nil)},
		{file: "vc_create_131.txt", seed: seedNet(nil)},
		{file: "vc_create_node_path.txt", seed: seedNet(nil)},
	}
	withConnectors := seedNet(func(s *netSeed) { s.connectors = threeConnectors() })
	for _, f := range []string{"vc_list", "vc_list_detail", "vc_list_detail_path", "vc_list_fields", "vc_list_bad_field",
		"vc_list_detail_fields", "vc_list_detail_false", "vc_list_node", "vc_list_node_404", "vc_list_limit1",
		"vc_list_sort", "vc_list_bad_sort", "vc_list_bad_sort2", "vc_list_131", "vc_get", "vc_get_fields", "vc_get_404",
		"vc_get_name", "node_vc", "node_vc_one", "node_vc_404", "vc_patch_power_none", "vc_delete_power_none",
		"vc_patch_bad_node", "vc_patch_uuid", "vc_patch_remove_type"} {
		tests = append(tests, goldenCase{file: f + ".txt", seed: withConnectors})
	}
	withTargets := seedNet(func(s *netSeed) { s.connectors, s.targets = threeConnectors(), threeTargets() })
	tests = append(tests,
		goldenCase{file: "vt_create.txt", seed: withConnectors, now: []string{"created_at"}},
		goldenCase{file: "vt_create_gen.txt", seed: seedNet(func(s *netSeed) {
			s.connectors, s.targets = threeConnectors(), threeTargets()[:1]
		}), now: []string{"created_at"}},
		goldenCase{file: "vt_create_neg_index.txt", seed: seedNet(func(s *netSeed) {
			s.connectors, s.targets = threeConnectors(), threeTargets()[:2]
		}), now: []string{"created_at"}},
	)
	for _, f := range []string{"vt_create_dup_index", "vt_create_dup_uuid", "vt_create_bad_index", "vt_create_float_index",
		"vt_create_missing", "vt_create_bad_node", "vt_create_bad_props", "vt_create_131", "vt_list", "vt_list_detail",
		"vt_list_fields", "vt_list_node", "vt_list_limit1", "vt_list_bad_sort", "vt_list_sort", "vt_get", "vt_get_fields",
		"vt_get_404", "node_vt", "node_vt_detail", "vt_patch_power_none", "vt_delete_power_none", "vt_patch_bad_index"} {
		tests = append(tests, goldenCase{file: f + ".txt", seed: withTargets})
	}
	// other-node manageable and powered off; sample-node enrolled (power
	// unknown), later active (power still unknown with fake-hardware).
	powerOff := func(active bool) func(*testEnv) {
		return seedNet(func(s *netSeed) {
			s.connectors, s.targets = threeConnectors(), threeTargets()
			s.b.ProvisionState, s.b.PowerState = node.Manageable, node.PowerOff
			if active {
				s.a.ProvisionState = node.Active
			}
			s.connectors[0].CreatedAt = ts("2026-12-03T10:21:15Z")
			s.targets[0].CreatedAt = ts("2026-12-03T10:21:18Z")
		})
	}
	tests = append(tests,
		goldenCase{file: "vc_patch.txt", seed: powerOff(false), now: []string{"updated_at"}},
		goldenCase{file: "vc_patch_dup.txt", seed: powerOff(false)},
		goldenCase{file: "vc_patch_node.txt", seed: powerOff(false)},
		goldenCase{file: "vc_patch_node_missing.txt", seed: powerOff(false)},
		goldenCase{file: "vt_patch.txt", seed: powerOff(false), now: []string{"updated_at"}},
		goldenCase{file: "vt_patch_dup_index2.txt", seed: powerOff(false)},
		goldenCase{file: "vc_delete.txt", seed: powerOff(false), check: func(t *testing.T, e *testEnv) {
			if _, err := e.st.VolumeConnector(context.Background(), vc1UUID); err == nil {
				t.Error("connector still stored")
			}
		}},
		goldenCase{file: "vc_delete_again.txt", seed: seedNet(nil)},
		goldenCase{file: "vt_delete.txt", seed: powerOff(false)},
		goldenCase{file: "vc_patch_power_on.txt", seed: powerOff(true)},
		goldenCase{file: "vc_delete_power_on.txt", seed: powerOff(true), check: func(t *testing.T, e *testEnv) {
			if _, err := e.st.VolumeConnector(context.Background(), vcGenUUID); err != nil {
				t.Errorf("connector deleted despite the refusal: %v", err)
			}
		}},
	)

	runGoldens(t, tests)
}
