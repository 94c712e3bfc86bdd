package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ferric-project/ferric/store"
)

// The nodes and ports of the fields_* captures (issue 15, part "fields":
// child nodes 1.83, port names 1.88, OVN VTEP switches 1.90, the ".json"
// suffix 1.91, a port's node by name 1.94, disable_power_off 1.95).
const (
	fieldsParentUUID = "f1e1d000-0000-4000-8000-000000000001"
	fieldsChildUUID  = "f1e1d000-0000-4000-8000-000000000002"
	fieldsDPOUUID    = "f1e1d000-0000-4000-8000-000000000003"
	fieldsPort1UUID  = "f1e1d000-0000-4000-8000-0000000000a1"
)

// fieldsNode is a node as Ironic 29 enrolled the captures' nodes
// (fake-hardware, resource class fields-rc).
func fieldsNode(uuid, name, created string) store.Node {
	n := sampleNode()
	n.UUID, n.Name, n.CreatedAt, n.UpdatedAt = uuid, strp(name), ts(created), nil
	n.Properties, n.Extra, n.ResourceClass = json.RawMessage(`{}`), json.RawMessage(`{}`), strp("fields-rc")
	n.Interfaces.Storage = "noop"
	return n
}

func fieldsParent() store.Node {
	return fieldsNode(fieldsParentUUID, "fields-parent", "2026-12-03T18:35:53.5Z")
}

func fieldsChild(parent *string) store.Node {
	n := fieldsNode(fieldsChildUUID, "fields-child", "2026-12-03T18:35:54.098551Z")
	n.ParentNode = parent
	return n
}

// patchedChild is the child as Ironic's PATCH answers show it: its
// created_at in whole seconds.
func patchedChild(parent *string) func(*testEnv) {
	return seedFamily(func(n *store.Node) { n.ParentNode, n.CreatedAt = parent, ts("2026-12-03T18:35:54Z") })
}

// seedFamily seeds the parent and its child (changed by mut).
func seedFamily(mut func(*store.Node)) func(*testEnv) {
	return func(e *testEnv) {
		e.put(fieldsParent())
		c := fieldsChild(strp(fieldsParentUUID))
		if mut != nil {
			mut(&c)
		}
		e.put(c)
	}
}

func seedParent(e *testEnv) { e.put(fieldsParent()) }

func seedDPO(e *testEnv) {
	n := fieldsNode(fieldsDPOUUID, "fields-dpo", "2026-12-03T18:36:33.005115Z")
	n.ResourceClass, n.DisablePowerOff = nil, true
	e.put(n)
}

// fieldsPort is a port of the captures, on the parent node.
func fieldsPort(n int, name *string, created string) store.Port {
	p := samplePort()
	p.UUID = fmt.Sprintf("f1e1d000-0000-4000-8000-0000000000a%d", n)
	p.Address = fmt.Sprintf("52:54:00:f1:00:%02d", n)
	p.NodeUUID, p.Name, p.CreatedAt = fieldsParentUUID, name, ts(created)
	return p
}

// seedPorts seeds the parent node and ports.
func seedPorts(ports ...store.Port) func(*testEnv) {
	return func(e *testEnv) {
		e.put(fieldsParent())
		for _, p := range ports {
			e.putPort(p)
		}
	}
}

func fieldsPort1() store.Port {
	return fieldsPort(1, strp("fields-port1"), "2026-12-03T18:36:55.144949Z")
}

// port4 names an OVN VTEP switch (whole seconds: as PATCH answers show it).
func port4(name *string, llc string) store.Port {
	p := fieldsPort(4, name, "2026-12-03T18:49:03Z")
	p.LocalLinkConnection = json.RawMessage(llc)
	return p
}

// wantPort4 checks port 4's stored name and local_link_connection.
func wantPort4(name *string, llc string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		p, err := e.st.Port(context.Background(), "f1e1d000-0000-4000-8000-0000000000a4")
		if err != nil {
			t.Fatal(err)
		}
		if !equalPtr(p.Name, name) || !sameJSON(p.LocalLinkConnection, json.RawMessage(llc)) {
			t.Errorf("port 4: name %s, local_link_connection %s; want %s, %s", pyPtr(p.Name), p.LocalLinkConnection,
				pyPtr(name), llc)
		}
	}
}

// wantParent checks the child's stored parent_node.
func wantParent(want *string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		n, err := e.st.Node(context.Background(), fieldsChildUUID)
		if err != nil {
			t.Fatal(err)
		}
		if !equalPtr(n.ParentNode, want) {
			t.Errorf("parent_node = %v, want %v", pyPtr(n.ParentNode), pyPtr(want))
		}
	}
}

// TestGolden29Fields replays Ironic 29's answers about the fields of
// issue 15's part "fields".
func TestGolden29Fields(t *testing.T) {
	t.Parallel()
	parent := strp(fieldsParentUUID)
	child := strp(fieldsChildUUID)
	created := []string{"created_at"}
	// Members the captures show that are not this part's: Ironic 29's
	// conductor name, its lock holder mid-request, the fields of 1.86 and
	// 1.87.
	full := []string{"conductor", "reservation", "firmware_interface", "service_step"}
	patchedAt := []string{"updated_at"}
	runGolden29(t, []goldenCase{
		// 1.83: parent_node on create, by name, stored as the UUID.
		{file: "fields_node_create_parent.txt", ignore: full, now: created},
		{file: "fields_node_create_child.txt", ignore: full, seed: seedParent, now: created, check: wantParent(parent)},
		{file: "fields_node_create_child_82.txt", seed: seedParent},
		{file: "fields_node_create_child_badparent.txt", seed: seedParent},
		{file: "fields_node_create_child_long.txt"},
		{file: "fields_node_create_child_int.txt"},
		{file: "fields_node_get_parent_node.txt", seed: seedFamily(nil)},
		{file: "fields_node_get_parent_node_82.txt", seed: seedFamily(nil)},
		// GET /v1/nodes/{ident}/children.
		{file: "fields_node_children.txt", seed: seedFamily(nil)},
		{file: "fields_node_children_by_name.txt", seed: seedFamily(nil)},
		{file: "fields_node_children_404.txt"},
		{file: "fields_node_children_child.txt", seed: seedFamily(nil)},
		// Node lists leave children out unless asked for.
		{file: "fields_nodes_list_hides_children.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_hides_children_82.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_include_children.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_include_children_false.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_include_children_82.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_include_children_bad.txt"},
		{file: "fields_nodes_list_parent.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_parent_name.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_parent_82.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_parent_include.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_parent_limit.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_detail_parent.txt", seed: seedFamily(nil)},
		{file: "fields_nodes_list_get_child_82.txt", seed: seedFamily(nil)},
		// PATCH: a remove is not refused below 1.83 (Ironic checks the
		// values set only); a value set must name a node.
		{file: "fields_node_patch_parent_82.txt", ignore: full, seed: patchedChild(parent), now: patchedAt, check: wantParent(nil)},
		// Ironic 29.0 makes any patched node its own parent (a bug):
		// ferric removes the parent as asked.
		{file: "fields_node_patch_parent_remove.txt", seed: patchedChild(parent), now: patchedAt,
			ignore: append([]string{"parent_node"}, full...), check: wantParent(nil)},
		{file: "fields_node_patch_parent_set_name.txt", ignore: full, seed: patchedChild(child),
			now: patchedAt, check: wantParent(parent)},
		{file: "fields_node_patch_parent_self.txt", ignore: full, seed: patchedChild(parent), now: patchedAt, check: wantParent(child)},
		{file: "fields_node_patch_parent_null.txt", seed: seedFamily(nil), check: wantParent(parent)},
		{file: "fields_node_patch_parent_bad.txt", seed: seedFamily(nil), check: wantParent(parent)},
		{file: "fields_node_patch_parent_int.txt", seed: seedFamily(nil), check: wantParent(parent)},
		// 1.95: disable_power_off.
		{file: "fields_node_create_dpo.txt", ignore: full, now: created},
		{file: "fields_node_create_dpo_94.txt"},
		{file: "fields_node_create_dpo_94_false.txt"},
		{file: "fields_node_create_dpo_bad.txt"},
		{file: "fields_node_create_dpo_int.txt"},
		{file: "fields_node_get_dpo.txt", seed: seedDPO},
		{file: "fields_node_get_dpo_94.txt", seed: seedDPO},
		{file: "fields_node_get_dpo_full_94.txt", ignore: full, seed: seedDPO},
		{file: "fields_node_patch_dpo_94.txt", seed: seedDPO},
		{file: "fields_node_patch_dpo_bad.txt", seed: seedDPO},
		{file: "fields_node_power_off_dpo.txt", seed: seedDPO, check: noStart},
		{file: "fields_node_soft_power_off_dpo.txt", seed: seedDPO, check: noStart},
		{file: "fields_node_power_off_dpo_94.txt", seed: seedDPO, check: noStart},
		{file: "fields_node_reboot_dpo.txt", seed: seedDPO},
		// 1.88: port names, unique, and ports found by name.
		{file: "fields_port_create_name.txt", seed: seedPorts(), now: created},
		{file: "fields_port_create_name_87.txt", seed: seedPorts()},
		{file: "fields_port_create_name_dup.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_create_name_int.txt", seed: seedPorts()},
		{file: "fields_port_get_name.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_get_name_87.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_get_fields_name.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_get_fields_name_87.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_get_mac.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_get_bad_ident.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_get_name_404.txt", seed: seedPorts(fieldsPort1())},
		{file: "fields_port_patch_name.txt", seed: seedPorts(port4(nil, vtep2)), now: patchedAt,
			check: wantPort4(strp("fields-port4"), vtep2)},
		{file: "fields_port_patch_name_dup.txt", seed: seedPorts(fieldsPort1(), port4(strp("fields-port4"), vtep2)),
			check: wantPort4(strp("fields-port4"), vtep2)},
		{file: "fields_port_patch_name_87.txt", seed: seedPorts(port4(strp("fields-port4"), vtep2)), now: patchedAt,
			check: wantPort4(strp("fields-port9"), vtep2)},
		{file: "fields_ports_list_name.txt", seed: seedPorts(fieldsPort1(), fieldsPort(2, strp("fields-port2"), "2026-12-03T18:36:56Z"),
			fieldsPort(3, nil, "2026-12-03T18:36:56Z"), port4(strp("fields-port9"), vtep2))},
		{file: "fields_ports_list_name_87.txt", seed: seedPorts(fieldsPort1())},
		// 1.90: OVN VTEP switches in local_link_connection; shown empty
		// before, refused on create before (not by PATCH).
		{file: "fields_port_create_vtep.txt", seed: seedPorts(), now: created},
		{file: "fields_port_create_vtep_89.txt", seed: seedPorts()},
		{file: "fields_port_get_vtep.txt", seed: seedPorts(port4(nil, vtep1))},
		{file: "fields_port_get_vtep_89.txt", seed: seedPorts(port4(nil, vtep1))},
		{file: "fields_port_patch_vtep_89.txt", seed: seedPorts(port4(nil, vtep1)), now: patchedAt,
			check: wantPort4(nil, vtep2)},
		// 1.94: a new port's node by UUID or name (node_ident).
		{file: "fields_port_create_node_ident.txt", seed: seedPorts(fieldsPort1()), now: created},
		{file: "fields_port_create_node_ident_uuid.txt", seed: seedPorts(), now: created},
		{file: "fields_port_create_node_ident_93.txt", seed: seedPorts()},
		{file: "fields_port_create_node_ident_both.txt", seed: seedPorts()},
		{file: "fields_port_create_node_ident_none.txt", seed: seedPorts()},
		{file: "fields_port_create_node_ident_404.txt", seed: seedPorts()},
	})
}

// The local_link_connection values of port 4 in the captures.
const (
	vtep1 = `{"port_id": "p1", "vtep-logical-switch": "ls1", "vtep-physical-switch": "ps1"}`
	vtep2 = `{"port_id": "p2", "vtep-logical-switch": "ls2", "vtep-physical-switch": "ps2"}`
)

// TestGolden29FieldsJSONSuffix: below 1.91 Ironic drops a ".json" suffix
// from the path; from 1.91 on it is part of the identifier.
func TestGolden29FieldsJSONSuffix(t *testing.T) {
	t.Parallel()
	runGolden29(t, []goldenCase{
		{file: "fields_json_node_82.txt", seed: seedParent},
		{file: "fields_json_node_90.txt", seed: seedParent},
		{file: "fields_json_node_91.txt", seed: seedParent},
		{file: "fields_json_node_uuid_90.txt", seed: seedParent},
		{file: "fields_json_node_uuid_91.txt", seed: seedParent},
		{file: "fields_json_nodes_90.txt", seed: seedParent},
		{file: "fields_json_nodes_91.txt", seed: seedParent},
		// Only the legacy header's version counts.
		{file: "fields_json_node_nover.txt", seed: seedParent},
		{file: "fields_json_node_generic_90.txt", seed: seedParent},
	})
}

// TestGolden29FieldsPatchList: PATCH's list of patchable node fields is
// Ironic 29's past 1.82 (it names firmware_interface, 1.86).
func TestGolden29FieldsPatchList(t *testing.T) {
	t.Parallel()
	runGolden29(t, []goldenCase{
		{file: "fields_node_patch_bad_field.txt", seed: seedFamily(nil)},
		{file: "fields_node_patch_bad_field_96.txt", seed: seedFamily(nil)},
	})
}
