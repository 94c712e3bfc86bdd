package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"
)

// call sends a request to the stack's API at the latest microversion and
// returns the status and body.
func (s *stack) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.endpoint+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-OpenStack-Ironic-API-Version", "latest")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expect fails t unless the request answers status with a body containing
// msg.
func (s *stack) expect(t *testing.T, method, path, body string, status int, msg string) string {
	t.Helper()
	got, b := s.call(t, method, path, body)
	if got != status || !strings.Contains(b, msg) {
		t.Fatalf("%s %s %s = %d %s, want %d %q", method, path, body, got, b, status, msg)
	}
	return b
}

// TestNetworkAroundADeploy changes a node's port group, ports, VIFs and
// volume while a real deploy workflow runs on it (fake-hardware, deploy
// slowed to 2 s), then after it: NodeLocked while the workflow holds the
// node, Ironic's state rules once it is active; gophercloud's VIF calls
// see what the flat network interface recorded.
func TestNetworkAroundADeploy(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "net-0", Driver: "fake-hardware",
		NetworkInterface: "flat", DriverInfo: map[string]any{"fake_deploy_delay": "2s"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var pg struct{ UUID string }
	b := s.expect(t, "POST", "/portgroups", `{"node_uuid":"`+n.UUID+`","name":"bond0","mode":"802.3ad"}`, http.StatusCreated, "")
	if err := json.Unmarshal([]byte(b), &pg); err != nil {
		t.Fatal(err)
	}
	member := s.expect(t, "POST", "/ports", `{"node_uuid":"`+n.UUID+`","address":"52:54:00:00:00:01","portgroup_uuid":"`+pg.UUID+`"}`,
		http.StatusCreated, `"portgroup_uuid":"`+pg.UUID+`"`)
	var memberPort struct{ UUID string }
	_ = json.Unmarshal([]byte(member), &memberPort)
	single, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: "52:54:00:00:00:02"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	vc := s.expect(t, "POST", "/volume/connectors", `{"node_uuid":"`+n.UUID+`","type":"iqn","connector_id":"iqn.2010-10.org.openstack:net-0"}`,
		http.StatusCreated, "")
	var conn struct{ UUID string }
	_ = json.Unmarshal([]byte(vc), &conn)

	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	s.waitFor(t, n.UUID, 10*time.Second, func(n *nodes.Node) bool { return n.ProvisionState == "deploying" })
	locked := "is locked by host ferric-test"
	for _, w := range []struct{ method, path, body string }{
		{"DELETE", "/portgroups/bond0", ""},
		{"PATCH", "/portgroups/bond0", `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"PATCH", "/ports/" + single.UUID, `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"DELETE", "/ports/" + memberPort.UUID, ""},
		{"POST", "/ports", `{"node_uuid":"` + n.UUID + `","address":"52:54:00:00:00:03"}`},
		{"POST", "/nodes/" + n.UUID + "/vifs", `{"id":"vif-0"}`},
		{"DELETE", "/volume/connectors/" + conn.UUID, ""},
	} {
		s.expect(t, w.method, w.path, w.body, http.StatusConflict, locked)
	}
	if err := nodes.AttachVirtualInterface(ctx, s.client, n.UUID, nodes.VirtualInterfaceOpts{ID: "vif-1"}).ExtractErr(); statusOf(err) != http.StatusConflict {
		t.Errorf("gophercloud VIF attach while deploying: %v, want 409", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.ProvisionState == "active" })
	s.settle(t, n.UUID)

	// Deployed: Ironic's rules, no lock.
	s.expect(t, "DELETE", "/portgroups/bond0", "", http.StatusBadRequest, "contains ports.")
	s.expect(t, "PATCH", "/ports/"+memberPort.UUID, `[{"op":"remove","path":"/portgroup_uuid"}]`, http.StatusConflict,
		"can not have any connectivity attributes")
	s.expect(t, "PATCH", "/ports/"+single.UUID, `[{"op":"replace","path":"/address","value":"52:54:00:00:00:09"}]`,
		http.StatusConflict, "is active or has instance UUID assigned")
	if err := nodes.AttachVirtualInterface(ctx, s.client, n.UUID, nodes.VirtualInterfaceOpts{ID: "vif-1"}).ExtractErr(); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if err := nodes.AttachVirtualInterface(ctx, s.client, n.UUID, nodes.VirtualInterfaceOpts{ID: "vif-2"}).ExtractErr(); err != nil {
		t.Fatalf("attach: %v", err)
	}
	vifs, err := nodes.ListVirtualInterfaces(ctx, s.client, n.UUID).Extract()
	if err != nil || len(vifs) != 2 || vifs[0].ID != "vif-2" || vifs[1].ID != "vif-1" {
		t.Fatalf("vifs = %+v, %v; want vif-2 on the port, vif-1 on the port group", vifs, err)
	}
	s.expect(t, "GET", "/portgroups/bond0", "", http.StatusOK, `"tenant_vif_port_id": "vif-1"`)
	s.expect(t, "DELETE", "/ports/"+single.UUID, "", http.StatusConflict, "as it is bound to VIF vif-2 for tenant use.")
	s.power(t, n.UUID, nodes.PowerOn, "power on")
	s.expect(t, "DELETE", "/volume/connectors/"+conn.UUID, "", http.StatusBadRequest,
		`can not be performed on node \\\"`+n.UUID+`\\\" while it is in state \\\"power on\\\"`)
	if err := nodes.DetachVirtualInterface(ctx, s.client, n.UUID, "vif-2").ExtractErr(); err != nil {
		t.Fatalf("detach: %v", err)
	}
	s.expect(t, "DELETE", "/ports/"+single.UUID, "", http.StatusNoContent, "")
	s.expect(t, "DELETE", "/ports/"+memberPort.UUID, "", http.StatusNoContent, "")
	s.expect(t, "DELETE", "/portgroups/bond0", "", http.StatusNoContent, "")
}
