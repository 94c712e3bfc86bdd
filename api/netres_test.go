package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// Behaviour of port groups, ports in them, VIFs and volume objects beyond
// the golden exchanges: the node lock, Ironic's conductor rules, the flat
// network interface's VIF placement, and what ferric answers where Ironic
// 21.4 fails with a 500 on PostgreSQL.

// call sends a request at the latest microversion.
func (e *testEnv) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	resp, b := e.do(t, method, path, body, latest)
	return resp.StatusCode, b
}

// expect fails t unless the request answers status (and, when msg is not
// empty, an error message containing it).
func (e *testEnv) expect(t *testing.T, method, path, body string, status int, msg string) string {
	t.Helper()
	got, b := e.call(t, method, path, body)
	if got != status || msg != "" && !strings.Contains(b, msg) {
		t.Fatalf("%s %s %s = %d %s, want %d %q", method, path, body, got, b, status, msg)
	}
	return b
}

func (e *testEnv) group(ident string) store.Portgroup {
	e.t.Helper()
	return must(e.st.Portgroup(context.Background(), ident))(e.t)
}

func (e *testEnv) port(id string) store.Port {
	e.t.Helper()
	return must(e.st.Port(context.Background(), id))(e.t)
}

func (e *testEnv) putGroup(g store.Portgroup) store.Portgroup {
	e.t.Helper()
	if g.Mode == nil {
		g.Mode = strp(defaultPortgroupMode)
	}
	return must(e.st.CreatePortgroup(context.Background(), g))(e.t)
}

// netNode is the sample node with the flat network interface (VIFs
// recorded) unless noop.
func netNode(state node.ProvisionState, network string) func(*store.Node) {
	return func(n *store.Node) { n.ProvisionState, n.Interfaces.Network = state, network }
}

// mkPort is a port of the sample node.
func mkPort(id, mac string, pxe bool, group *string) store.Port {
	return store.Port{UUID: id, Address: mac, NodeUUID: sampleUUID, PXEEnabled: pxe, PortgroupUUID: group}
}

func portUUIDn(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func TestPortgroupRules(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, netNode(node.Manageable, "noop"))
	other := otherNode()
	e.put(other)
	g := e.putGroup(store.Portgroup{UUID: pg0UUID, Name: strp("bond0"), NodeUUID: sampleUUID,
		StandalonePortsSupported: true})
	empty := e.putGroup(store.Portgroup{UUID: pgMinUUID, NodeUUID: sampleUUID, StandalonePortsSupported: true})
	e.putPort(mkPort(portUUID, "52:54:00:00:00:01", true, &g.UUID))

	// Ironic 21.4 on PostgreSQL answers 500 to every port group delete and
	// to a move of a port group; ferric answers what its code intends.
	e.expect(t, "DELETE", "/v1/portgroups/bond0", "", http.StatusBadRequest,
		"Cannot complete the requested action because portgroup "+pg0UUID+" contains ports.")
	e.group(pg0UUID)
	e.expect(t, "PATCH", "/v1/portgroups/bond0", `[{"op":"replace","path":"/node_uuid","value":"`+otherUUID+`"}]`,
		http.StatusBadRequest, "because there are ports associated with this portgroup")
	if got := e.group(pg0UUID); got.NodeUUID != sampleUUID || got.UpdatedAt != nil {
		t.Errorf("refused move wrote %+v", got)
	}
	// A port joins only a group of its own node (Ironic creates it with a
	// 500 and lets a PATCH do it).
	e.expect(t, "POST", "/v1/ports", `{"address":"52:54:00:00:00:09","node_uuid":"`+otherUUID+`","portgroup_uuid":"`+pg0UUID+`"}`,
		http.StatusBadRequest, "Port can not be added to a portgroup belonging to a different node.")
	other2 := e.putPort(store.Port{UUID: port2UUID, Address: "52:54:00:00:00:02", NodeUUID: otherUUID, PXEEnabled: true})
	e.expect(t, "PATCH", "/v1/ports/"+other2.UUID, `[{"op":"add","path":"/portgroup_uuid","value":"`+pg0UUID+`"}]`,
		http.StatusBadRequest, "belonging to a different node")
	e.expect(t, "PATCH", "/v1/ports/"+portUUID, `[{"op":"replace","path":"/node_uuid","value":"`+otherUUID+`"}]`,
		http.StatusBadRequest, "belonging to a different node")
	// Physical networks: all members of a group share one.
	e.expect(t, "PATCH", "/v1/ports/"+portUUID, `[{"op":"add","path":"/physical_network","value":"physnet1"}]`,
		http.StatusOK, "")
	e.expect(t, "POST", "/v1/ports", `{"address":"52:54:00:00:00:03","node_uuid":"`+sampleUUID+`","portgroup_uuid":"`+pg0UUID+`","physical_network":"physnet2"}`,
		http.StatusConflict, "Port with physical network physnet2 cannot become a member of port group "+pg0UUID+
			" which has ports in physical network physnet1.")
	e.expect(t, "POST", "/v1/ports", `{"address":"52:54:00:00:00:03","node_uuid":"`+sampleUUID+`","physical_network":""}`,
		http.StatusBadRequest, "A non-empty value is required when setting physical_network")

	// An empty group moves to a node in a connectivity state, or in
	// maintenance; not to a deployed one.
	e.expect(t, "PATCH", "/v1/portgroups/"+empty.UUID, `[{"op":"replace","path":"/node_uuid","value":"`+otherUUID+`"}]`,
		http.StatusOK, "")
	e.moveTo(sampleUUID, node.Active, "")
	e.expect(t, "PATCH", "/v1/portgroups/"+empty.UUID, `[{"op":"replace","path":"/node_uuid","value":"`+sampleUUID+`"}]`,
		http.StatusConflict, "can not be associated to node "+sampleUUID+" unless the node is in a enroll, inspecting, inspect wait, manageable state or in maintenance mode.")
	e.expect(t, "PUT", "/v1/nodes/"+sampleUUID+"/maintenance", "", http.StatusAccepted, "")
	e.expect(t, "PATCH", "/v1/portgroups/"+empty.UUID, `[{"op":"replace","path":"/node_uuid","value":"`+sampleUUID+`"}]`,
		http.StatusOK, "")
	e.expect(t, "DELETE", "/v1/portgroups/"+empty.UUID, "", http.StatusNoContent, "")
	e.expect(t, "DELETE", "/v1/portgroups/"+empty.UUID, "", http.StatusNotFound, "Portgroup "+empty.UUID+" could not be found.")
	// Emptied, a group goes.
	e.expect(t, "DELETE", "/v1/ports/"+portUUID, "", http.StatusNoContent, "")
	e.expect(t, "DELETE", "/v1/portgroups/bond0", "", http.StatusNoContent, "")
}

func TestNetworkWritesRespectTheNodeLock(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, netNode(node.Available, "flat"))
	ctx := context.Background()
	g := e.putGroup(store.Portgroup{UUID: pg0UUID, NodeUUID: sampleUUID, StandalonePortsSupported: true})
	e.putPort(mkPort(portUUID, "52:54:00:00:00:01", true, &g.UUID))
	vc := must(e.st.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: sampleUUID, Type: "iqn", ConnectorID: "iqn.x"}))(t)
	vt := must(e.st.CreateVolumeTarget(ctx, store.VolumeTarget{NodeUUID: sampleUUID, VolumeType: "iscsi", VolumeID: "v"}))(t)
	writes := []struct{ method, path, body string }{
		{"POST", "/v1/ports", `{"address":"52:54:00:00:00:02","node_uuid":"` + sampleUUID + `"}`},
		{"PATCH", "/v1/ports/" + portUUID, `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"DELETE", "/v1/ports/" + portUUID, ""},
		{"PATCH", "/v1/portgroups/" + pg0UUID, `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"DELETE", "/v1/portgroups/" + pg0UUID, ""},
		{"POST", "/v1/nodes/" + sampleUUID + "/vifs", `{"id":"vif-1"}`},
		{"DELETE", "/v1/nodes/" + sampleUUID + "/vifs/vif-1", ""},
		{"PATCH", "/v1/volume/connectors/" + vc.UUID, `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"DELETE", "/v1/volume/connectors/" + vc.UUID, ""},
		{"PATCH", "/v1/volume/targets/" + vt.UUID, `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"DELETE", "/v1/volume/targets/" + vt.UUID, ""},
	}
	locked := "Node " + sampleUUID + " is locked by host localhost, please retry after the current operation is completed."
	snapshot := func() string {
		p, _ := e.st.ListPorts(ctx, store.ListPorts{})
		gs, _ := e.st.ListPortgroups(ctx, store.ListPortgroups{})
		vcs, _ := e.st.ListVolumeConnectors(ctx, store.ListVolume{})
		vts, _ := e.st.ListVolumeTargets(ctx, store.ListVolume{})
		b, _ := json.Marshal([]any{p, gs, vcs, vts})
		return string(b)
	}
	// An operation holds the node: deploying (the conductor's reservation in
	// Ironic), or a power change under way.
	for _, hold := range []func(){
		func() { e.moveTo(sampleUUID, node.Deploying, node.Active) },
		func() {
			e.moveTo(sampleUUID, node.Active, "")
			must(e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, Target: ptrTo(node.PowerOff)}))(t)
		},
	} {
		hold()
		before := snapshot()
		for _, w := range writes {
			e.expect(t, w.method, w.path, w.body, http.StatusConflict, locked)
		}
		if after := snapshot(); after != before {
			t.Fatalf("refused writes changed the store:\nbefore %s\nafter  %s", before, after)
		}
		// Reads and creates Ironic runs without the lock still work.
		e.expect(t, "GET", "/v1/nodes/"+sampleUUID+"/vifs", "", http.StatusOK, "")
		e.expect(t, "POST", "/v1/portgroups", `{"node_uuid":"`+sampleUUID+`"}`, http.StatusCreated, "")
	}
	// In a wait state Ironic's conductor holds no reservation: its state
	// rules decide.
	must(e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, PowerState: ptrTo(node.PowerOff), Target: ptrTo(node.PowerNone)}))(t)
	e.moveTo(sampleUUID, node.DeployWait, node.Active)
	e.expect(t, "PATCH", "/v1/ports/"+portUUID, `[{"op":"replace","path":"/pxe_enabled","value":false}]`, http.StatusConflict,
		"can not have any connectivity attributes")
	e.expect(t, "PATCH", "/v1/ports/"+portUUID, `[{"op":"add","path":"/extra/a","value":"b"}]`, http.StatusOK, "")
	e.expect(t, "POST", "/v1/nodes/"+sampleUUID+"/vifs", `{"id":"vif-1"}`, http.StatusNoContent, "")
}

func ptrTo[T any](v T) *T { return &v }

func TestVIFsFlat(t *testing.T) {
	t.Parallel()
	shared := newEnv(t)
	vifs := func(t *testing.T, e *testEnv) string {
		t.Helper()
		return e.expect(t, "GET", "/v1/nodes/"+sampleUUID+"/vifs", "", http.StatusOK, "")
	}
	vifPath := "/v1/nodes/" + sampleUUID + "/vifs"

	t.Run("placement", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(netNode(node.Available, "flat"))(e)
		g := e.putGroup(store.Portgroup{UUID: pg0UUID, NodeUUID: sampleUUID, StandalonePortsSupported: true})
		e.putPort(mkPort(portUUIDn(1), "52:54:00:00:00:01", false, nil))
		e.putPort(mkPort(portUUIDn(2), "52:54:00:00:00:02", true, nil))
		e.putPort(mkPort(portUUIDn(3), "52:54:00:00:00:03", true, &g.UUID))
		// A port group first, then a PXE-enabled port, then the others.
		for _, v := range []string{"vif-a", "vif-b", "vif-c"} {
			e.expect(t, "POST", vifPath, `{"id":"`+v+`"}`, http.StatusNoContent, "")
		}
		if got := tenantVIF(e.group(pg0UUID).InternalInfo); got != "vif-a" {
			t.Errorf("port group VIF = %q, want vif-a", got)
		}
		if got := tenantVIF(e.port(portUUIDn(2)).InternalInfo); got != "vif-b" {
			t.Errorf("PXE port VIF = %q, want vif-b", got)
		}
		if got := tenantVIF(e.port(portUUIDn(1)).InternalInfo); got != "vif-c" {
			t.Errorf("other port VIF = %q, want vif-c", got)
		}
		// Ironic's vif_list: ports, then port groups.
		if got := vifs(t, e); got != `{"vifs":[{"id":"vif-c"},{"id":"vif-b"},{"id":"vif-a"}]}` {
			t.Errorf("vifs = %s", got)
		}
		e.expect(t, "POST", vifPath, `{"id":"vif-d"}`, http.StatusBadRequest,
			"Unable to attach VIF vif-d, not enough free physical ports.")
		e.expect(t, "POST", vifPath, `{"id":"vif-a"}`, http.StatusConflict,
			"Unable to attach VIF because VIF vif-a is already attached to Ironic Portgroup "+pg0UUID)
		e.expect(t, "POST", vifPath, `{"id":"vif-b"}`, http.StatusConflict,
			"is already attached to Ironic Port "+portUUIDn(2))
		// Bound ports stay; detached, they go.
		e.expect(t, "DELETE", "/v1/ports/"+portUUIDn(2), "", http.StatusConflict,
			"Cannot delete the port "+portUUIDn(2)+" as it is bound to VIF vif-b for tenant use.")
		e.expect(t, "DELETE", vifPath+"/vif-b", "", http.StatusNoContent, "")
		e.expect(t, "DELETE", vifPath+"/vif-b", "", http.StatusBadRequest,
			"Unable to detach VIF vif-b from node "+sampleUUID+" because it is not attached to it.")
		if got := e.port(portUUIDn(2)).InternalInfo; string(got) != "{}" {
			t.Errorf("detached port internal_info = %s", got)
		}
		e.expect(t, "DELETE", "/v1/ports/"+portUUIDn(2), "", http.StatusNoContent, "")
		// A port named in the body (1.67) is used even if a group is free; a
		// member of a group is not offered on its own (Ironic's
		// _get_free_portgroups_and_ports).
		e.expect(t, "DELETE", vifPath+"/vif-a", "", http.StatusNoContent, "")
		e.expect(t, "DELETE", vifPath+"/vif-c", "", http.StatusNoContent, "")
		e.expect(t, "POST", vifPath, `{"id":"vif-e","port_uuid":"`+portUUIDn(1)+`"}`, http.StatusNoContent, "")
		if got := tenantVIF(e.port(portUUIDn(1)).InternalInfo); got != "vif-e" {
			t.Errorf("named port VIF = %q", got)
		}
		e.expect(t, "POST", vifPath, `{"id":"vif-f","port_uuid":"`+portUUIDn(3)+`"}`, http.StatusBadRequest,
			"not enough free physical ports")
		e.expect(t, "POST", vifPath, `{"id":"vif-f","port_uuid":"`+portUUIDn(9)+`"}`, http.StatusBadRequest,
			"not enough free physical ports")
		e.expect(t, "POST", vifPath, `{"id":"vif-f","portgroup_uuid":"`+pg0UUID+`"}`, http.StatusNoContent, "")
		if got := tenantVIF(e.group(pg0UUID).InternalInfo); got != "vif-f" {
			t.Errorf("named group VIF = %q", got)
		}
	})

	t.Run("bound member", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(netNode(node.Active, "flat"))(e)
		g := e.putGroup(store.Portgroup{UUID: pg0UUID, NodeUUID: sampleUUID, StandalonePortsSupported: true})
		p := mkPort(portUUIDn(1), "52:54:00:00:00:01", false, &g.UUID)
		p.InternalInfo = json.RawMessage(`{"tenant_vif_port_id": "other"}`)
		e.putPort(p)
		e.putPort(mkPort(portUUIDn(2), "52:54:00:00:00:02", true, &g.UUID))
		// A Smart NIC-looking port of another kind never qualifies.
		llc := mkPort(portUUIDn(3), "52:54:00:00:00:03", true, nil)
		llc.LocalLinkConnection = json.RawMessage(`{"port_id": "p1", "hostname": "h1"}`)
		e.putPort(llc)
		e.expect(t, "POST", vifPath, `{"id":"vif-a"}`, http.StatusNoContent, "")
		if got := tenantVIF(e.port(portUUIDn(2)).InternalInfo); got != "vif-a" {
			t.Errorf("free member VIF = %q, want vif-a", got)
		}
		if got := tenantVIF(e.port(portUUIDn(3)).InternalInfo); got != "" {
			t.Errorf("ineligible port got VIF %q", got)
		}
		// In maintenance a bound port may go.
		e.expect(t, "PUT", "/v1/nodes/"+sampleUUID+"/maintenance", "", http.StatusAccepted, "")
		e.expect(t, "DELETE", "/v1/ports/"+portUUIDn(1), "", http.StatusNoContent, "")
	})

	t.Run("standalone ports", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(netNode(node.Manageable, "flat"))(e)
		g := e.putGroup(store.Portgroup{UUID: pg0UUID, NodeUUID: sampleUUID, StandalonePortsSupported: true})
		e.putPort(mkPort(portUUIDn(1), "52:54:00:00:00:01", true, &g.UUID))
		e.expect(t, "PATCH", "/v1/portgroups/"+pg0UUID, `[{"op":"replace","path":"/standalone_ports_supported","value":false}]`,
			http.StatusConflict, "standalone_ports_supported can not be set to False, because the port group "+pg0UUID+
				" contains port with 'pxe_enabled' is set to True")
		e.expect(t, "PATCH", "/v1/ports/"+portUUIDn(1), `[{"op":"replace","path":"/pxe_enabled","value":false}]`, http.StatusOK, "")
		e.expect(t, "PATCH", "/v1/portgroups/"+pg0UUID, `[{"op":"replace","path":"/standalone_ports_supported","value":false}]`,
			http.StatusOK, "")
		e.expect(t, "PATCH", "/v1/ports/"+portUUIDn(1), `[{"op":"replace","path":"/pxe_enabled","value":true}]`, http.StatusConflict,
			"Port group "+pg0UUID+" doesn't support standalone ports. This port "+portUUIDn(1)+
				" cannot be  a member of that port group because of: 'pxe_enabled' was set to True")
	})

	t.Run("noop records nothing", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(netNode(node.Available, "noop"))(e)
		e.putPort(mkPort(portUUIDn(1), "52:54:00:00:00:01", true, nil))
		e.expect(t, "POST", vifPath, `{"id":"vif-a"}`, http.StatusNoContent, "")
		e.expect(t, "DELETE", vifPath+"/never-attached", "", http.StatusNoContent, "")
		if got := vifs(t, e); got != `{"vifs":[]}` {
			t.Errorf("noop vifs = %s", got)
		}
		if got := e.port(portUUIDn(1)); string(got.InternalInfo) != "{}" || got.UpdatedAt != nil {
			t.Errorf("noop attach wrote the port: %+v", got)
		}
	})
}

func TestVolumeRules(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState, n.PowerState = node.Manageable, node.PowerOff })
	other := otherNode()
	other.PowerState = node.PowerOn
	e.put(other)
	ctx := context.Background()
	vc := must(e.st.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: sampleUUID, Type: "iqn", ConnectorID: "a"}))(t)
	must(e.st.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: otherUUID, Type: "iqn", ConnectorID: "b"}))(t)
	e.expect(t, "PATCH", "/v1/volume/connectors/"+vc.UUID, `[{"op":"replace","path":"/connector_id","value":"b"}]`,
		http.StatusConflict, "A volume connector with type iqn and connector ID b already exists.")
	// The node the connector ends on must be powered off.
	e.expect(t, "PATCH", "/v1/volume/connectors/"+vc.UUID, `[{"op":"replace","path":"/node_uuid","value":"`+otherUUID+`"}]`,
		http.StatusBadRequest, "while it is in state")
	if got := must(e.st.VolumeConnector(ctx, vc.UUID))(t); got.NodeUUID != sampleUUID || got.UpdatedAt != nil {
		t.Errorf("refused move wrote %+v", got)
	}
	// boot_index is Ironic's 32-bit column; JSON integers in any spelling.
	body := func(index string) string {
		return `{"node_uuid":"` + sampleUUID + `","volume_type":"iscsi","volume_id":"v","boot_index":` + index + `}`
	}
	e.expect(t, "POST", "/v1/volume/targets", body("2147483648"), http.StatusBadRequest, "is not a 32-bit integer")
	b := e.expect(t, "POST", "/v1/volume/targets", body("1e1"), http.StatusCreated, "")
	if !strings.Contains(b, `"boot_index":10`) {
		t.Errorf("boot_index 1e1 stored as %s", b)
	}
	e.expect(t, "POST", "/v1/volume/targets", body("1.0e1"), http.StatusConflict,
		"A volume target with boot index '10' for the same node already exists.")
	e.expect(t, "POST", "/v1/volume/targets", body("true"), http.StatusBadRequest, "True is not of type 'integer'")
}

func TestNodeDeleteTakesItsNetworkAndVolume(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, netNode(node.Manageable, "flat"))
	e.put(otherNode())
	ctx := context.Background()
	g := e.putGroup(store.Portgroup{NodeUUID: sampleUUID, StandalonePortsSupported: true})
	e.putPort(mkPort(portUUID, "52:54:00:00:00:01", true, &g.UUID))
	must(e.st.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: sampleUUID, Type: "iqn", ConnectorID: "a"}))(t)
	must(e.st.CreateVolumeTarget(ctx, store.VolumeTarget{NodeUUID: sampleUUID, VolumeType: "iscsi", VolumeID: "v"}))(t)
	kept := e.putGroup(store.Portgroup{NodeUUID: otherUUID, StandalonePortsSupported: true})
	e.expect(t, "POST", "/v1/nodes/"+sampleUUID+"/vifs", `{"id":"vif-a"}`, http.StatusNoContent, "")
	e.expect(t, "DELETE", "/v1/nodes/"+sampleUUID, "", http.StatusNoContent, "")
	for _, path := range []string{"/v1/portgroups", "/v1/ports", "/v1/volume/connectors", "/v1/volume/targets"} {
		b := e.expect(t, "GET", path, "", http.StatusOK, "")
		v, err := jsonwire.Decode([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range v.(*jsonwire.Object).Keys() {
			items := v.(*jsonwire.Object).Value(k).([]any)
			want := 0
			if path == "/v1/portgroups" {
				want = 1
			}
			if len(items) != want {
				t.Errorf("%s after the node's delete: %s", path, b)
			}
		}
	}
	e.group(kept.UUID)
}
