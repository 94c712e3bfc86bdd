package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
	"github.com/ferric-project/ferric/workflows/contract"
)

// The policy table: for every persona (role × scope) and endpoint family,
// the status Ironic's default policy gives (ironic/common/policy.py and the
// controllers' checks: a node the caller may not see is 404, a seen node
// without the right 403), compared with ferric's over HTTP. The personas'
// credentials come from staticAuth here and from a real Keystone in
// TestPolicyTableKeystone.

// personaOrder is the column order of policyTable's statuses.
var personaOrder = []string{"system-admin", "system-member", "system-reader",
	"owner-admin", "owner-member", "owner-reader",
	"lessee-admin", "lessee-member", "lessee-reader", "other-admin"}

// policyCase is one endpoint; want holds one status per persona.
type policyCase struct {
	family, method, path, body string
	want                       string
}

// policyTable is the expected table. {node}, {port} and {chassis} are
// replaced by a fresh node (owned by the owner project, leased to the lessee
// project, powered off), its port and a fresh chassis for every cell; {pg},
// {vc} and {vt} by the node's port group, volume connector and target,
// {attached} by a VIF attached to the port group, {vif} by a fresh VIF ID.
func policyTable() []policyCase {
	//                                   sys: adm mem rdr  owner: adm mem rdr  lessee: adm mem rdr  other
	return []policyCase{
		{"nodes", "GET", "/v1/nodes", "", "200 200 200 200 200 200 200 200 200 200"},
		{"nodes", "GET", "/v1/nodes/detail", "", "200 200 200 200 200 200 200 200 200 200"},
		{"nodes", "GET", "/v1/nodes/{node}", "", "200 200 200 200 200 200 200 200 200 404"},
		{"nodes", "POST", "/v1/nodes", `{"driver": "fake-hardware"}`, "201 403 403 201 403 403 201 403 403 201"},
		{"nodes", "PATCH", "/v1/nodes/{node}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 200 403 200 200 403 200 200 403 404"},
		{"nodes", "PATCH", "/v1/nodes/{node}", `[{"op": "add", "path": "/driver_info/x", "value": "y"}]`,
			"200 200 403 200 200 403 403 403 403 404"},
		{"nodes", "PATCH", "/v1/nodes/{node}", `[{"op": "add", "path": "/instance_info/x", "value": "y"}]`,
			"200 200 403 200 200 403 200 403 403 404"},
		{"nodes", "PATCH", "/v1/nodes/{node}", `[{"op": "replace", "path": "/owner", "value": "someone"}]`,
			"200 200 403 403 403 403 403 403 403 404"},
		{"nodes", "DELETE", "/v1/nodes/{node}", "", "204 403 403 204 403 403 403 403 403 404"},
		{"nodes", "GET", "/v1/nodes/{node}/validate", "", "200 200 403 200 200 403 200 403 403 404"},
		{"nodes", "GET", "/v1/nodes/{node}/traits", "", "200 200 200 200 200 200 200 200 200 404"},
		{"nodes", "PUT", "/v1/nodes/{node}/traits/CUSTOM_X", "", "204 204 403 204 403 403 403 403 403 404"},
		{"ports", "GET", "/v1/ports", "", "200 200 200 200 200 200 200 200 200 200"},
		{"ports", "GET", "/v1/ports/{port}", "", "200 200 200 200 200 200 200 200 200 404"},
		{"ports", "GET", "/v1/nodes/{node}/ports", "", "200 200 200 200 200 200 200 200 200 404"},
		{"ports", "POST", "/v1/ports", `{"address": "{mac}", "node_uuid": "{node}"}`,
			"201 403 403 201 403 403 403 403 403 403"},
		{"ports", "PATCH", "/v1/ports/{port}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 200 403 200 403 403 403 403 403 404"},
		{"ports", "DELETE", "/v1/ports/{port}", "", "204 403 403 204 403 403 403 403 403 404"},
		{"portgroups", "GET", "/v1/portgroups", "", "200 200 200 200 200 200 200 200 200 200"},
		{"portgroups", "GET", "/v1/portgroups/{pg}", "", "200 200 200 200 200 200 200 200 200 404"},
		{"portgroups", "GET", "/v1/portgroups/{pg}/ports", "", "200 200 200 200 200 200 200 200 200 404"},
		{"portgroups", "GET", "/v1/nodes/{node}/portgroups", "", "200 200 200 200 200 200 200 200 200 404"},
		{"portgroups", "POST", "/v1/portgroups", `{"address": "{mac}", "node_uuid": "{node}"}`,
			"201 403 403 201 403 403 403 403 403 403"},
		{"portgroups", "PATCH", "/v1/portgroups/{pg}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 200 403 200 403 403 403 403 403 404"},
		{"portgroups", "DELETE", "/v1/portgroups/{pg}", "", "204 403 403 204 403 403 403 403 403 404"},
		{"vifs", "GET", "/v1/nodes/{node}/vifs", "", "200 200 200 200 200 200 200 200 200 404"},
		{"vifs", "POST", "/v1/nodes/{node}/vifs", `{"id": "{vif}"}`, "204 204 403 204 204 403 204 403 403 404"},
		{"vifs", "DELETE", "/v1/nodes/{node}/vifs/{attached}", "", "204 204 403 204 204 403 204 403 403 404"},
		{"volume", "GET", "/v1/volume", "", "200 200 200 403 403 403 403 403 403 403"},
		{"volume", "GET", "/v1/nodes/{node}/volume", "", "200 200 200 403 403 403 403 403 403 403"},
		{"volume", "GET", "/v1/volume/connectors", "", "200 200 200 200 200 200 200 200 200 200"},
		{"volume", "GET", "/v1/volume/targets", "", "200 200 200 200 200 200 200 200 200 200"},
		{"volume", "GET", "/v1/nodes/{node}/volume/targets", "", "200 200 200 200 200 200 200 200 200 404"},
		{"volume", "GET", "/v1/volume/connectors/{vc}", "", "200 200 200 200 200 200 200 200 200 404"},
		{"volume", "GET", "/v1/volume/targets/{vt}", "", "200 200 200 200 200 200 200 200 200 404"},
		{"volume", "POST", "/v1/volume/connectors",
			`{"node_uuid": "{node}", "type": "iqn", "connector_id": "iqn.2024-01.org.example:{mac}"}`,
			"201 201 403 201 403 403 201 403 403 403"},
		{"volume", "POST", "/v1/volume/targets",
			`{"node_uuid": "{node}", "volume_type": "iscsi", "boot_index": 1, "volume_id": "{mac}"}`,
			"201 201 403 201 403 403 201 403 403 403"},
		{"volume", "PATCH", "/v1/volume/connectors/{vc}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 200 403 200 200 403 200 403 403 404"},
		{"volume", "PATCH", "/v1/volume/targets/{vt}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 200 403 200 200 403 200 403 403 404"},
		{"volume", "DELETE", "/v1/volume/connectors/{vc}", "", "204 204 403 204 403 403 204 403 403 404"},
		{"volume", "DELETE", "/v1/volume/targets/{vt}", "", "204 204 403 204 403 403 204 403 403 404"},
		{"chassis", "GET", "/v1/chassis", "", "200 200 200 403 403 403 403 403 403 403"},
		{"chassis", "GET", "/v1/chassis/{chassis}", "", "200 200 200 403 403 403 403 403 403 403"},
		{"chassis", "POST", "/v1/chassis", `{"description": "c"}`, "201 403 403 403 403 403 403 403 403 403"},
		{"chassis", "PATCH", "/v1/chassis/{chassis}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 200 403 403 403 403 403 403 403 403"},
		{"chassis", "DELETE", "/v1/chassis/{chassis}", "", "204 403 403 403 403 403 403 403 403 403"},
		{"states", "GET", "/v1/nodes/{node}/states", "", "200 200 200 200 200 200 200 200 200 404"},
		{"states", "PUT", "/v1/nodes/{node}/states/power", `{"target": "power on"}`,
			"202 202 403 202 202 403 202 202 403 404"},
		{"states", "PUT", "/v1/nodes/{node}/states/provision", `{"target": "manage"}`,
			"202 202 403 202 202 403 202 403 403 404"},
		{"states", "PUT", "/v1/nodes/{node}/maintenance", `{"reason": "r"}`,
			"202 202 403 202 202 403 202 403 403 404"},
		{"states", "GET", "/v1/nodes/{node}/management/boot_device", "", "200 200 403 200 403 403 403 403 403 404"},
		{"passthru", "GET", "/v1/nodes/{node}/vendor_passthru/methods", "", "200 403 403 403 403 403 403 403 403 404"},
		{"passthru", "POST", "/v1/nodes/{node}/vendor_passthru?method=first_method", `{}`,
			"202 403 403 403 403 403 403 403 403 404"},
		{"passthru", "GET", "/v1/drivers/fake-hardware/vendor_passthru/methods", "",
			"200 403 403 403 403 403 403 403 403 403"},
		{"history", "GET", "/v1/nodes/{node}/history", "", "200 200 200 200 200 200 403 403 403 404"},
		{"inventory", "GET", "/v1/nodes/{node}/inventory", "", "200 200 200 200 200 200 403 403 403 404"},
		{"drivers", "GET", "/v1/drivers", "", "200 200 200 403 403 403 403 403 403 403"},
		{"drivers", "GET", "/v1/conductors", "", "200 200 200 403 403 403 403 403 403 403"},
		{"drivers", "GET", "/v1/drivers/fake-hardware/raid/logical_disk_properties", "",
			"200 200 200 403 403 403 403 403 403 403"},
		{"templates", "GET", "/v1/deploy_templates", "", "200 200 200 403 403 403 403 403 403 403"},
		{"templates", "GET", "/v1/deploy_templates/{template}", "", "200 200 200 403 403 403 403 403 403 403"},
		{"templates", "POST", "/v1/deploy_templates", `{"name": "{trait}", "steps": [{"interface": "bios", ` +
			`"step": "apply_configuration", "args": {"settings": []}, "priority": 10}]}`,
			"201 403 403 403 403 403 403 403 403 403"},
		{"templates", "PATCH", "/v1/deploy_templates/{template}", `[{"op": "add", "path": "/extra/x", "value": "y"}]`,
			"200 403 403 403 403 403 403 403 403 403"},
		{"templates", "DELETE", "/v1/deploy_templates/{template}", "", "204 403 403 403 403 403 403 403 403 403"},
		{"bios", "GET", "/v1/nodes/{node}/bios", "", "200 200 200 200 200 200 200 200 200 404"},
		{"bios", "GET", "/v1/nodes/{node}/bios/ProcVirtualization", "", "200 200 200 200 200 200 200 200 200 404"},
		{"raid", "PUT", "/v1/nodes/{node}/states/raid", `{"logical_disks": [{"size_gb": 10, "raid_level": "1"}]}`,
			"204 204 403 204 204 403 403 403 403 404"},
	}
}

// Project IDs of the static personas.
const (
	staticOwner  = "0a1b2c3d4e5f4a5b8c9d0e1f2a3b4c5d"
	staticLessee = "1b2c3d4e5f6a4b5c9d0e1f2a3b4c5d6e"
	staticOther  = "2c3d4e5f6a7b4c5d8e0f1a2b3c4d5e6f"
)

// staticAuth authenticates X-Auth-Token values as fixed credentials, and
// answers like keystonemiddleware otherwise.
type staticAuth map[string]*auth.Credentials

func (a staticAuth) Authenticate(_ context.Context, r auth.Request) (*auth.Credentials, error) {
	if c, ok := a[r.AuthToken]; ok {
		return c, nil
	}
	return nil, &auth.Error{Kind: auth.ErrUnauthenticated, Message: "The request you have made requires authentication."}
}

func (a staticAuth) Reject(error) (int, []byte, string) {
	return http.StatusUnauthorized, []byte(`{"error": {"code": 401}}`), `Keystone uri="http://keystone/v3"`
}

// impliedRoles expands a role as Keystone's default implied roles do.
func impliedRoles(role string) []string {
	switch role {
	case "admin":
		return []string{"admin", "member", "reader"}
	case "member":
		return []string{"member", "reader"}
	}
	return []string{role}
}

// staticPersonas are policyTable's personas as credentials, by token (the
// persona's name).
func staticPersonas() staticAuth {
	a := staticAuth{}
	projects := map[string]string{"owner": staticOwner, "lessee": staticLessee, "other": staticOther}
	for _, p := range personaOrder {
		scope, role, _ := strings.Cut(p, "-")
		c := &auth.Credentials{Strategy: auth.StrategyKeystone, UserID: "user-" + p, Roles: impliedRoles(role)}
		if scope == "system" {
			c.System = "all"
		} else {
			c.ProjectID, c.ProjectName = projects[scope], "project-"+scope
		}
		a[p] = c
	}
	return a
}

// recordingWorkflows is a WorkflowClient whose runs end at once (with
// zero results), recording what was started.
type recordingWorkflows struct {
	mu     sync.Mutex
	starts []client.StartWorkflowOptions
	inputs []any
}

func (w *recordingWorkflows) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.starts = append(w.starts, o)
	if len(args) > 0 {
		w.inputs = append(w.inputs, args[0])
	}
	return doneRun{id: o.ID}, nil
}

func (w *recordingWorkflows) SignalWorkflow(context.Context, string, string, string, any) error {
	return nil
}

type doneRun struct {
	client.WorkflowRun
	id string
}

func (r doneRun) GetID() string                  { return r.id }
func (r doneRun) GetRunID() string               { return "run" }
func (r doneRun) Get(context.Context, any) error { return nil }

// authEnv is an API over a real store with an authenticator.
type authEnv struct {
	srv *Server
	st  *store.Store
	wf  *recordingWorkflows
	app interface {
		Test(*http.Request, ...int) (*http.Response, error)
	}
}

func newAuthEnv(t *testing.T, a Authenticator) *authEnv {
	t.Helper()
	st := storetest.New(t)
	r := drivers.NewRegistry()
	fake.New().Register(r)
	agent.Register(r, agent.Config{AutomatedClean: true})
	wf := &recordingWorkflows{}
	srv := &Server{Store: st, Workflows: wf, Drivers: r, Auth: a, BeginWait: time.Millisecond,
		AgentCommandWait: -1, SyncTimeout: 5 * time.Second, Agents: st}
	return &authEnv{srv: srv, st: st, wf: wf, app: srv.App()}
}

// do sends a request as token ("" = none).
func (e *authEnv) do(t *testing.T, token, method, path, body string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://127.0.0.1:6385"+path, rd)
	req.Header.Set("X-OpenStack-Ironic-API-Version", "1.81")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// fixtures are what a cell acts on.
type fixtures struct {
	node, port, chassis, mac, pg, vc, vt, attached string
	template, trait                                string
}

// seed creates a powered off fake-hardware node owned by owner and leased
// to lessee, with a port, a port group (with a VIF), a volume connector and
// target, an inventory, a BIOS setting and a history entry, a chassis and a
// deploy template.
func (e *authEnv) seed(t *testing.T, owner, lessee string) fixtures {
	t.Helper()
	ctx := context.Background()
	n, err := e.st.CreateNode(ctx, store.Node{Driver: fake.TypeName, Owner: &owner, Lessee: &lessee,
		PowerState: node.PowerOff,
		DriverInfo: json.RawMessage(`{"fake_password": "s3cret"}`), LastError: strp2("BMC at 10.0.0.7 refused"),
		Interfaces: store.Interfaces{Bios: "fake", Boot: "fake", Console: "fake", Deploy: "fake", Firmware: "fake",
			Inspect: "fake", Management: "fake", Network: "noop", Power: "fake", RAID: "fake", Rescue: "fake",
			Storage: "fake", Vendor: "fake"}})
	if err != nil {
		t.Fatal(err)
	}
	mac := randomMAC()
	vif := uuid.NewString()
	p, err := e.st.CreatePort(ctx, store.Port{NodeUUID: n.UUID, Address: mac})
	if err != nil {
		t.Fatal(err)
	}
	pgMAC := randomMAC()
	g, err := e.st.CreatePortgroup(ctx, store.Portgroup{NodeUUID: n.UUID, Address: &pgMAC,
		InternalInfo: json.RawMessage(`{"tenant_vif_port_id": "` + vif + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.st.CreateVolumeConnector(ctx, store.VolumeConnector{NodeUUID: n.UUID, Type: "iqn",
		ConnectorID: "iqn.2024-01.org.example:" + n.UUID})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := e.st.CreateVolumeTarget(ctx, store.VolumeTarget{NodeUUID: n.UUID, VolumeType: "iscsi",
		VolumeID: n.UUID, Properties: json.RawMessage(`{"target_portal": "10.0.0.9:3260", "auth_password": "chap"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetInventory(ctx, store.Inventory{NodeUUID: n.UUID, Inventory: []byte(`{"cpu": {"count": 2}}`),
		PluginData: []byte(`{}`), Source: "agent"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddEvent(ctx, store.Event{NodeUUID: n.UUID, EventType: "maintenance", Event: "seeded"}); err != nil {
		t.Fatal(err)
	}
	ch, err := e.st.CreateChassis(ctx, store.Chassis{Extra: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	v := "Enabled"
	if err := e.st.ApplyBIOSChange(ctx, n.UUID, drivers.BIOSChange{Settings: []drivers.BIOSSetting{
		{Name: "ProcVirtualization", Value: &v}}}); err != nil {
		t.Fatal(err)
	}
	tmpl, err := e.st.CreateDeployTemplate(ctx, store.DeployTemplate{Name: randomTrait(), Extra: json.RawMessage(`{}`),
		Steps: json.RawMessage(`[{"interface": "bios", "step": "apply_configuration", "args": {"settings": []}, "priority": 10}]`)})
	if err != nil {
		t.Fatal(err)
	}
	return fixtures{node: n.UUID, port: p.UUID, chassis: ch.UUID, mac: randomMAC(), pg: g.UUID, vc: vc.UUID,
		vt: vt.UUID, attached: vif, template: tmpl.UUID, trait: randomTrait()}
}

func strp2(s string) *string { return &s }

// randomTrait is a fresh custom trait name (a deploy template's name).
func randomTrait() string {
	return "CUSTOM_" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "_"))
}

func randomMAC() string {
	u := uuid.New()
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", u[0], u[1], u[2], u[3])
}

// runPolicyTable runs policyTable with tokens[persona] as each persona's
// token and the given project IDs, and reports every cell that differs.
func runPolicyTable(t *testing.T, e *authEnv, tokens map[string]string, owner, lessee string) {
	t.Helper()
	cells := 0
	for _, pc := range policyTable() {
		want := strings.Fields(pc.want)
		if len(want) != len(personaOrder) {
			t.Fatalf("%s %s: %d statuses for %d personas", pc.method, pc.path, len(want), len(personaOrder))
		}
		for i, persona := range personaOrder {
			f := e.seed(t, owner, lessee)
			r := strings.NewReplacer("{node}", f.node, "{port}", f.port, "{chassis}", f.chassis, "{mac}", f.mac,
				"{pg}", f.pg, "{vc}", f.vc, "{vt}", f.vt, "{attached}", f.attached, "{vif}", uuid.NewString(),
				"{template}", f.template, "{trait}", f.trait)
			got, body, _ := e.do(t, tokens[persona], pc.method, r.Replace(pc.path), r.Replace(pc.body))
			cells++
			if fmt.Sprint(got) != want[i] {
				t.Errorf("%-9s %-6s %-55s as %-13s: %d, Ironic's policy gives %s (%.200s)",
					pc.family, pc.method, pc.path, persona, got, want[i], body)
			}
		}
	}
	t.Logf("%d cells (%d endpoints × %d personas)", cells, len(policyTable()), len(personaOrder))
}

func TestPolicyTable(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, staticPersonas())
	tokens := map[string]string{}
	for _, p := range personaOrder {
		tokens[p] = p
	}
	runPolicyTable(t, e, tokens, staticOwner, staticLessee)
}

// TestPolicyListsAndRedaction checks what a project-scoped caller sees:
// lists keep the nodes (and ports) its project owns or leases, a lessee
// reads the fields Ironic redacts below filter_threshold, and asking for
// another project's nodes is refused.
func TestPolicyListsAndRedaction(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, staticPersonas())
	owned := e.seed(t, staticOwner, staticLessee)
	e.seed(t, staticOther, "")
	e.seed(t, "", "") // unowned
	count := func(persona, path, key string) int {
		t.Helper()
		code, body, _ := e.do(t, persona, "GET", path, "")
		if code != 200 {
			t.Fatalf("%s %s: %d %s", persona, path, code, body)
		}
		var doc map[string][]json.RawMessage
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		return len(doc[key])
	}
	for _, tt := range []struct {
		persona      string
		nodes, ports int
	}{
		{"system-reader", 3, 3}, {"owner-reader", 1, 1}, {"lessee-reader", 1, 1}, {"other-admin", 1, 1},
	} {
		if n := count(tt.persona, "/v1/nodes", "nodes"); n != tt.nodes {
			t.Errorf("%s lists %d nodes, want %d", tt.persona, n, tt.nodes)
		}
		// Every seeded node has one port, port group, volume connector and
		// volume target.
		for _, l := range []struct{ path, key string }{{"/v1/ports", "ports"}, {"/v1/portgroups", "portgroups"},
			{"/v1/portgroups/detail", "portgroups"}, {"/v1/volume/connectors", "connectors"},
			{"/v1/volume/targets?detail=true", "targets"}} {
			if n := count(tt.persona, l.path, l.key); n != tt.ports {
				t.Errorf("%s lists %d %s (%s), want %d", tt.persona, n, l.key, l.path, tt.ports)
			}
		}
	}
	// A node's port groups and volume objects, and a port group's ports.
	for _, l := range []struct{ path, key string }{{"/v1/nodes/" + owned.node + "/portgroups", "portgroups"},
		{"/v1/nodes/" + owned.node + "/volume/connectors", "connectors"},
		{"/v1/nodes/" + owned.node + "/volume/targets", "targets"}} {
		if n := count("lessee-reader", l.path, l.key); n != 1 {
			t.Errorf("lessee reader lists %d %s of its node", n, l.key)
		}
	}
	// Volume target properties: baremetal:volume:view_target_properties is
	// a system reader's or any admin's; others see Ironic's redaction.
	for _, tt := range []struct {
		persona string
		sees    bool
	}{{"system-reader", true}, {"owner-admin", true}, {"lessee-admin", true}, {"owner-member", false},
		{"lessee-reader", false}} {
		for _, path := range []string{"/v1/volume/targets/" + owned.vt, "/v1/volume/targets?detail=true",
			"/v1/nodes/" + owned.node + "/volume/targets?detail=true"} {
			code, body, _ := e.do(t, tt.persona, "GET", path, "")
			if code != 200 {
				t.Fatalf("%s GET %s: %d %s", tt.persona, path, code, body)
			}
			sees := strings.Contains(body, "10.0.0.9:3260")
			redacted := strings.Contains(body, `"redacted_contents": "** Value redacted: Requires permission `+
				`baremetal:volume:view_target_properties access. Permission denied. **"`)
			if sees != tt.sees || redacted == tt.sees {
				t.Errorf("%s GET %s: properties shown %v, redacted %v: %s", tt.persona, path, sees, redacted, body)
			}
		}
	}
	code, body, _ := e.do(t, "owner-member", "PATCH", "/v1/volume/targets/"+owned.vt,
		`[{"op": "add", "path": "/extra/x", "value": "y"}]`)
	if code != 200 || strings.Contains(body, "10.0.0.9:3260") || !strings.Contains(body, "redacted_contents") {
		t.Errorf("owner member's target update answers %d %s", code, body)
	}
	if code, _, _ := e.do(t, "owner-reader", "GET", "/v1/nodes?project="+staticOther, ""); code != 403 {
		t.Errorf("owner reader listing another project's nodes: %d, want 403", code)
	}
	if n := count("owner-reader", "/v1/nodes?project="+staticOwner, "nodes"); n != 1 {
		t.Errorf("owner reader listing its own project: %d nodes", n)
	}
	// A lessee sees the node with Ironic's redactions; the owner does not.
	_, body, _ = e.do(t, "lessee-reader", "GET", "/v1/nodes/"+owned.node, "")
	var n struct {
		LastError          string          `json:"last_error"`
		DriverInfo         json.RawMessage `json:"driver_info"`
		DriverInternalInfo json.RawMessage `json:"driver_internal_info"`
	}
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatal(err)
	}
	if n.LastError != redactedLastError || !strings.Contains(string(n.DriverInfo), "Redacted") ||
		!strings.Contains(string(n.DriverInternalInfo), "Redacted") {
		t.Errorf("lessee sees %s", body)
	}
	_, body, _ = e.do(t, "lessee-reader", "GET", "/v1/nodes/detail", "")
	if strings.Contains(body, "10.0.0.7") {
		t.Errorf("lessee's node list shows last_error: %s", body)
	}
	_, body, _ = e.do(t, "owner-reader", "GET", "/v1/nodes/"+owned.node, "")
	if !strings.Contains(body, "10.0.0.7") || strings.Contains(body, "s3cret") {
		t.Errorf("owner sees %s", body)
	}
}

// TestProjectAdminOwnNodes checks project-scoped node creation and deletion
// (API 1.80): a project admin's node belongs to its project, another owner
// is refused, and it may delete its own nodes only.
func TestProjectAdminOwnNodes(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, staticPersonas())
	code, body, _ := e.do(t, "owner-admin", "POST", "/v1/nodes", `{"driver": "fake-hardware", "name": "mine"}`)
	if code != 201 || !strings.Contains(body, `"owner":"`+staticOwner+`"`) {
		t.Fatalf("project admin creates a node: %d %s", code, body)
	}
	code, body, _ = e.do(t, "owner-admin", "POST", "/v1/nodes", `{"driver": "fake-hardware", "owner": "`+staticOther+`"}`)
	if code != 400 || !strings.Contains(body, "owner other than your own project") {
		t.Errorf("project admin creates a node for another project: %d %s", code, body)
	}
	code, body, _ = e.do(t, "system-admin", "POST", "/v1/nodes", `{"driver": "fake-hardware", "name": "system"}`)
	if code != 201 || !strings.Contains(body, `"owner":null`) {
		t.Errorf("system admin creates a node: %d %s", code, body)
	}
	if code, _, _ := e.do(t, "other-admin", "DELETE", "/v1/nodes/mine", ""); code != 404 {
		t.Errorf("another project's admin deletes the node: %d, want 404", code)
	}
	if code, _, _ := e.do(t, "owner-admin", "DELETE", "/v1/nodes/mine", ""); code != 204 {
		t.Errorf("project admin deletes its node: %d, want 204", code)
	}
	if code, _, _ := e.do(t, "owner-admin", "DELETE", "/v1/nodes/system", ""); code != 404 {
		t.Errorf("project admin deletes an unowned node: %d, want 404", code)
	}
}

// TestWhoDidWhat checks that a request's user and project reach the
// workflows it starts (input and memo) and the history entries the API
// writes.
func TestWhoDidWhat(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, staticPersonas())
	f := e.seed(t, staticOwner, staticLessee)
	if code, body, _ := e.do(t, "owner-member", "PUT", "/v1/nodes/"+f.node+"/states/provision", `{"target": "manage"}`); code != 202 {
		t.Fatalf("manage: %d %s", code, body)
	}
	if code, body, _ := e.do(t, "lessee-member", "PUT", "/v1/nodes/"+f.node+"/states/power", `{"target": "power on"}`); code != 202 {
		t.Fatalf("power: %d %s", code, body)
	}
	e.wf.mu.Lock()
	starts, inputs := e.wf.starts, e.wf.inputs
	e.wf.mu.Unlock()
	if len(starts) != 2 {
		t.Fatalf("%d workflows started", len(starts))
	}
	want := []contract.Requester{{User: "user-owner-member", Project: staticOwner}, {User: "user-lessee-member", Project: staticLessee}}
	for i, o := range starts {
		if o.Memo[contract.MemoUser] != want[i].User || o.Memo[contract.MemoProject] != want[i].Project {
			t.Errorf("workflow %d memo %v, want %+v", i, o.Memo, want[i])
		}
	}
	if in, ok := inputs[0].(contract.ProvisionInput); !ok || in.RequestedBy != want[0] {
		t.Errorf("provision input %+v", inputs[0])
	}
	if in, ok := inputs[1].(contract.PowerInput); !ok || in.RequestedBy != want[1] {
		t.Errorf("power input %+v", inputs[1])
	}
	if code, _, _ := e.do(t, "system-member", "PUT", "/v1/nodes/"+f.node+"/maintenance", ""); code != 202 {
		t.Fatal("maintenance")
	}
	_, body, _ := e.do(t, "system-member", "GET", "/v1/nodes/"+f.node+"/history?detail=true", "")
	if !strings.Contains(body, `"user":"user-system-member"`) {
		t.Errorf("history does not name the user: %s", body)
	}
}

func TestAuthenticationRequired(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, staticPersonas())
	f := e.seed(t, staticOwner, staticLessee)
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"GET", "/v1", 200},
		{"GET", "/v1/", 200},
		{"GET", "/v1.json", 404}, // public (Ironic serves .json; ferric does not)
		{"GET", "/v1/lookup?addresses=52:54:00:00:00:99", 404}, // public: the agent's
		{"POST", "/v1/heartbeat/" + f.node, 401},               // public, but the agent token is missing
		{"GET", "/v1/nodes", 401},
		{"GET", "/nodes", 401}, // served as /v1/nodes
		{"GET", "/v1/nodes/" + f.node, 401},
		{"HEAD", "/v1/nodes/" + f.node, 401},
		{"GET", "/v1/drivers", 401},
		{"GET", "/v1/no/such/route", 401},
		{"GET", "/v1/heartbeat/" + f.node + "/x", 401},
	} {
		code, body, h := e.do(t, "", tt.method, tt.path, "")
		if code != tt.want {
			t.Errorf("%s %s without credentials: %d %s, want %d", tt.method, tt.path, code, body, tt.want)
		}
		if code == 401 && !strings.Contains(tt.path, "heartbeat") && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", tt.method, tt.path)
		}
	}
	if code, _, _ := e.do(t, "bogus-token", "GET", "/v1/nodes", ""); code != 401 {
		t.Errorf("bogus token: %d", code)
	}
	// Without an authenticator, the API stays open (noauth).
	open := newAuthEnv(t, nil)
	if code, _, _ := open.do(t, "", "GET", "/v1/nodes", ""); code != 200 {
		t.Errorf("noauth: %d", code)
	}
}

// TestRouteAccessCoversEveryRoute checks that every route App registers has
// a rule, and that the table matches each route as Fiber routes it.
func TestRouteAccessCoversEveryRoute(t *testing.T) {
	t.Parallel()
	srv := &Server{Auth: staticPersonas()}
	app := srv.App()
	table := newRouteTable(routeAccess())
	rules := routeAccess()
	for _, r := range app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == methodUnknown {
			continue
		}
		path := strings.TrimSuffix(r.Path, "/")
		if path == "" {
			path = "/"
		}
		var found *routeRule
		for i := range rules {
			if (rules[i].method == r.Method || rules[i].method == "*") && rules[i].path == path {
				found = &rules[i]
				break
			}
		}
		if found == nil {
			t.Errorf("route %s %s has no rule in routeAccess", r.Method, r.Path)
			continue
		}
		concrete := strings.NewReplacer(":ident", "n1", ":uuid", "u1", ":name", "d1", ":event", "e1",
			":trait", "CUSTOM_T", ":method", "m1", ":node", "n1", ":hostname", "h1").Replace(path)
		if got := table.match(r.Method, concrete); got != found.access {
			t.Errorf("%s %s matched %+v, want %+v (%s)", r.Method, concrete, got, found.access, path)
		}
	}
}

// TestPublicRulesArePublic: a route the policy table calls public needs no
// credentials, and nothing else is let through without them.
func TestPublicRulesArePublic(t *testing.T) {
	t.Parallel()
	concrete := strings.NewReplacer(":node", "0b7f1e2a-7d29-4c43-a6f5-1a1e1c3b9d10")
	for _, r := range routeAccess() {
		path := concrete.Replace(r.path)
		if got, want := isPublic(path), r.access.kind == accessPublic; got != want {
			t.Errorf("%s %s: isPublic %v, policy table public %v", r.method, r.path, got, want)
		}
	}
}
