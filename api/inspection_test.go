package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// ipaPayload is the real payload of ironic-python-agent 10.2 (Debian 13),
// collected by its own inspector (the default and logs collectors) on this
// project's build machine; its "logs" member (a tarball of the machine's
// journal) is left out.
func ipaPayload(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ipa", "continue_inspection.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const ipaMAC = "02:fc:00:00:00:01" // the fixture's only interface

// inspectEnv is a server with node uuid waiting in inspect wait (workflow
// running, ramdisk session open) and a port per MAC.
func inspectEnv(t *testing.T, uuid string, state node.ProvisionState, driverInfo string, macs ...string) *testEnv {
	t.Helper()
	e := newEnv(t)
	seedInspectWait(uuid, state, func(n *store.Node) {
		if driverInfo != "" {
			n.DriverInfo = json.RawMessage(driverInfo)
		}
	})(e)
	for _, mac := range macs {
		e.putPort(store.Port{Address: mac, NodeUUID: uuid, Extra: json.RawMessage(`{}`),
			LocalLinkConnection: json.RawMessage(`{}`), InternalInfo: json.RawMessage(`{}`)})
	}
	return e
}

// ipaHeaders are the headers ironic-python-agent sends (inspector.py
// call_inspector): JSON, no API version, no token.
var ipaHeaders = map[string]string{"Content-Type": "application/json", "Accept": "application/json"}

// TestContinueInspectionRealIPAPayload: the payload as the real agent
// posts it is accepted at 1.1, kept split as Ironic splits it (inventory;
// the rest is plugin_data, in the posted order) and the workflow told; the
// hooks find the architecture and the interface.
func TestContinueInspectionRealIPAPayload(t *testing.T) {
	t.Parallel()
	e := inspectEnv(t, inspMACUUID, node.InspectWait, "", ipaMAC)
	resp, body := e.do(t, "POST", "/v1/continue_inspection", string(ipaPayload(t)), ipaHeaders)
	if resp.StatusCode != 202 || body != `{"uuid":"`+inspMACUUID+`"}` || resp.Header.Get(hdrVersion) != "1.1" {
		t.Fatalf("%d %s (version %s)", resp.StatusCode, body, resp.Header.Get(hdrVersion))
	}
	d, err := e.st.InspectionData(context.Background(), inspMACUUID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(d.PluginData), `{"root_disk":{`) || strings.Contains(string(d.PluginData), `"inventory"`) {
		t.Errorf("plugin_data %s", d.PluginData)
	}
	// ferric's published inventory schema (GET /schemas/inventory.v1.json)
	// takes what the real agent sends.
	doc, _ := json.Marshal(map[string]json.RawMessage{"inventory": d.Inventory, "plugin_data": d.PluginData})
	if err := inventory.Validate(doc); err != nil {
		t.Errorf("the real agent's payload does not match the inventory schema: %v", err)
	}
	p, err := inventory.RunHooks(d.Inventory, d.PluginData, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.CPUArch != "x86_64" || len(p.Valid) != 1 || p.Valid[0].MAC != ipaMAC {
		t.Errorf("hooks: arch %q valid %+v", p.CPUArch, p.Valid)
	}
	// Posted once per inspect wait: a second post is refused.
	if resp, body := e.do(t, "POST", "/v1/continue_inspection", string(ipaPayload(t)), ipaHeaders); resp.StatusCode != 404 {
		t.Errorf("second post: %d %s", resp.StatusCode, body)
	}
}

// TestContinueInspectionToken: at 1.84 the answer carries a new agent
// token, which the heartbeat then takes; a later answer masks it.
func TestContinueInspectionToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedInspectWait(inspMACUUID, node.InspectWait, func(n *store.Node) {
		// The answer is public: secrets stay masked.
		n.InstanceInfo = json.RawMessage(`{"image_source":"http://img","configdrive":"cd-s3cret","admin_password":"pw-s3cret"}`)
		n.DriverInternalInfo = json.RawMessage(`{"clean_token":"tk-s3cret","plain":"ok"}`)
	})(e)
	e.putPort(store.Port{Address: ipaMAC, NodeUUID: inspMACUUID, Extra: json.RawMessage(`{}`),
		LocalLinkConnection: json.RawMessage(`{}`), InternalInfo: json.RawMessage(`{}`)})
	h := map[string]string{"Content-Type": "application/json", hdrVersion: "1.84"}
	resp, body := e.do(t, "POST", "/v1/continue_inspection", string(ipaPayload(t)), h)
	if strings.Contains(body, "s3cret") || !strings.Contains(body, `"image_source":"http://img"`) ||
		!strings.Contains(body, `"plain":"ok"`) {
		t.Errorf("secrets in the public answer, or shown fields lost: %s", body)
	}
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var ans struct {
		Node struct {
			UUID string         `json:"uuid"`
			DII  map[string]any `json:"driver_internal_info"`
		} `json:"node"`
		Config struct {
			Token    string `json:"agent_token"`
			Required bool   `json:"agent_token_required"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Node.UUID != inspMACUUID || ans.Node.DII["agent_secret_token"] != "******" || len(ans.Config.Token) < 40 ||
		!ans.Config.Required {
		t.Fatalf("answer %s", body)
	}
	hb := func(token string) int {
		resp, _ := e.do(t, "POST", "/v1/heartbeat/"+inspMACUUID, `{"agent_version":"10.2"}`,
			map[string]string{"Content-Type": "application/json", wire.TokenHeader: token})
		return resp.StatusCode
	}
	if got := hb(ans.Config.Token); got != 200 {
		t.Errorf("heartbeat with the issued token: %d", got)
	}
	if got := hb("not-the-token"); got != 401 {
		t.Errorf("heartbeat with a bad token: %d, want 401", got)
	}
	// The same node waits again (a new inspection): the token is not
	// shown twice.
	if err := e.st.DeleteInspectionData(context.Background(), inspMACUUID); err != nil {
		t.Fatal(err)
	}
	resp, body = e.do(t, "POST", "/v1/continue_inspection", string(ipaPayload(t)), h)
	if resp.StatusCode != 202 || !strings.Contains(body, `"agent_token":"******"`) {
		t.Errorf("second answer %d %s", resp.StatusCode, body)
	}
}

// TestContinueInspectionLookup: Ironic's lookup rules, each failure the
// same 404 and nothing kept.
func TestContinueInspectionLookup(t *testing.T) {
	t.Parallel()
	const other = "9d4e3b6b-4c2d-4a1b-8d73-6e3f0a5b8c43"
	payload := func(bmc string, macs ...string) string {
		var ifs []string
		for i, m := range macs {
			ifs = append(ifs, `{"name":"eth`+string(rune('0'+i))+`","mac_address":"`+m+`"}`)
		}
		b := `{"inventory":{"interfaces":[` + strings.Join(ifs, ",") + `]`
		if bmc != "" {
			b += `,"bmc_address":"` + bmc + `"`
		}
		return b + `,"cpu":{"architecture":"x86_64"}}}`
	}
	for _, tt := range []struct {
		name   string
		setup  func(e *testEnv)
		body   string
		status int
	}{
		{name: "by MAC", body: payload("", "52:54:00:00:00:01"), status: 202},
		{name: "by BMC address", body: payload("192.0.2.5", "52:54:00:99:99:99"), status: 202},
		{name: "by BMC address in a URL", setup: func(e *testEnv) {
			n, _ := e.st.Node(context.Background(), inspMACUUID)
			n.DriverInfo = json.RawMessage(`{"redfish_address":"https://[2001:db8::5]:8000"}`)
			if _, err := e.st.UpdateNode(context.Background(), n); err != nil {
				t.Fatal(err)
			}
		}, body: `{"inventory":{"interfaces":[{"mac_address":"52:54:00:99:99:99"}],"bmc_v6address":"2001:db8::5"}}`, status: 202},
		{name: "unknown MAC and BMC", body: payload("192.0.2.99", "52:54:00:99:99:99"), status: 404},
		{name: "MACs of two nodes", setup: func(e *testEnv) {
			seedInspectWait(other, node.InspectWait, nil)(e)
			e.putPort(store.Port{Address: "52:54:00:00:00:02", NodeUUID: other, Extra: json.RawMessage(`{}`),
				LocalLinkConnection: json.RawMessage(`{}`), InternalInfo: json.RawMessage(`{}`)})
		}, body: payload("", "52:54:00:00:00:01", "52:54:00:00:00:02"), status: 404},
		{name: "MAC and BMC name different nodes", setup: func(e *testEnv) {
			seedInspectWait(other, node.InspectWait, func(n *store.Node) {
				n.DriverInfo = json.RawMessage(`{"ipmi_address":"192.0.2.6"}`)
			})(e)
		}, body: payload("192.0.2.6", "52:54:00:00:00:01"), status: 404},
		{name: "BMC address of two nodes", setup: func(e *testEnv) {
			seedInspectWait(other, node.InspectWait, func(n *store.Node) {
				n.DriverInfo = json.RawMessage(`{"ipmi_address":"192.0.2.5"}`)
			})(e)
		}, body: payload("192.0.2.5", "52:54:00:99:99:99"), status: 404},
		{name: "node_uuid of another node than the MACs'", setup: func(e *testEnv) {
			seedInspectWait(other, node.InspectWait, nil)(e)
		}, body: payload("", "52:54:00:00:00:01"), status: 404},
		{name: "no workflow runs", setup: func(e *testEnv) {
			delete(e.wf.running, contract.WorkflowID(inspMACUUID))
		}, body: payload("", "52:54:00:00:00:01"), status: 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := inspectEnv(t, inspMACUUID, node.InspectWait, `{"ipmi_address":"192.0.2.5"}`, "52:54:00:00:00:01")
			if tt.setup != nil {
				tt.setup(e)
			}
			path := "/v1/continue_inspection"
			h := ipaHeaders
			if strings.HasPrefix(tt.name, "node_uuid") {
				path += "?node_uuid=" + other
				h = map[string]string{"Content-Type": "application/json", hdrVersion: "1.84"}
			}
			resp, got := e.do(t, "POST", path, tt.body, h)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, got, tt.status)
			}
			_, err := e.st.InspectionData(context.Background(), inspMACUUID)
			if kept := err == nil; kept != (tt.status == 202) {
				t.Errorf("data kept %v (%v) after %d", kept, err, tt.status)
			}
			if tt.status == 404 && !strings.Contains(got, "Resource could not be found.") {
				t.Errorf("404 body %s", got)
			}
		})
	}
}

// TestContinueInspectionWrongState: only inspect wait takes data; the
// answer does not tell why.
func TestContinueInspectionWrongState(t *testing.T) {
	t.Parallel()
	for _, st := range []node.ProvisionState{node.Manageable, node.Inspecting, node.InspectFail, node.Active,
		node.CleanWait} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			e := inspectEnv(t, inspMACUUID, st, `{"ipmi_address":"192.0.2.5"}`, ipaMAC)
			for _, body := range []string{string(ipaPayload(t)),
				`{"inventory":{"interfaces":[{"mac_address":"52:54:00:99:99:99"}],"bmc_address":"192.0.2.5"}}`} {
				resp, got := e.do(t, "POST", "/v1/continue_inspection", body, ipaHeaders)
				if resp.StatusCode != 404 || !strings.Contains(got, "Resource could not be found.") {
					t.Errorf("%d %s", resp.StatusCode, got)
				}
			}
			if len(e.wf.signals) != 0 {
				t.Errorf("signals %v", e.wf.signals)
			}
		})
	}
}

// TestContinueInspectionMalformed: a malformed payload is a 400 with
// Ironic's message, never a 5xx, and nothing is kept.
func TestContinueInspectionMalformed(t *testing.T) {
	t.Parallel()
	e := inspectEnv(t, inspMACUUID, node.InspectWait, "", ipaMAC)
	for _, tt := range []struct{ body, want string }{
		{``, "Missing mandatory parameter: data"},
		{`not json`, "Invalid JSON in request body"},
		{`{"inventory":`, "Invalid JSON in request body"},
		{`"text"`, "Schema error for data: 'text' is not of type 'object'"},
		{`{"inventory":[]}`, "Schema error for data: [] is not of type 'object'"},
		{`{"inventory":{}}`, "Schema error for data: 'interfaces' is a required property"},
		{`{"inventory":{"interfaces":{}}}`, "is not of type 'array'"},
		{`{"inventory":{"interfaces":[null]}}`, "Schema error for data: None is not of type 'object'"},
		{`{"inventory":{"interfaces":[{}]}}`, "'mac_address' is a required property"},
		{`{"inventory":{"interfaces":[{"mac_address":null}]}}`, "None is not of type 'string'"},
		{`{"inventory":{"interfaces":[{"mac_address":"x"}],"bmc_address":5}}`, "5 is not of type 'string', 'null'"},
		{`{"inventory":{"interfaces":[{"mac_address":"x"}]}}`, "No lookup information provided"},
		{`{"inventory":{"interfaces":[{"mac_address":"` + ipaMAC + `"}]},"x":"\u0000"}`, "Invalid JSON"},
		{"{\"inventory\":{\"interfaces\":[{\"mac_address\":\"\xff\"}]}}", "Invalid JSON"},
	} {
		resp, got := e.do(t, "POST", "/v1/continue_inspection", tt.body, ipaHeaders)
		if resp.StatusCode != 400 || !strings.Contains(got, tt.want) {
			t.Errorf("%q: %d %s, want 400 %q", tt.body, resp.StatusCode, got, tt.want)
		}
	}
	if _, err := e.st.InspectionData(context.Background(), inspMACUUID); err == nil {
		t.Error("a malformed payload was kept")
	}
}

// countingPorts is the store, counting the port lookups by MAC that the
// inspection callback makes.
type countingPorts struct {
	*store.Store
	mu      sync.Mutex
	lookups int        // PortByAddress and PortsByAddresses calls
	macs    [][]string // what each PortsByAddresses call asked for
}

func (c *countingPorts) PortByAddress(ctx context.Context, mac string) (store.Port, error) {
	c.mu.Lock()
	c.lookups++
	c.mu.Unlock()
	return c.Store.PortByAddress(ctx, mac)
}

func (c *countingPorts) PortsByAddresses(ctx context.Context, macs []string) ([]store.Port, error) {
	c.mu.Lock()
	c.lookups++
	c.macs = append(c.macs, slices.Clone(macs))
	c.mu.Unlock()
	return c.Store.PortsByAddresses(ctx, macs)
}

// TestContinueInspectionDuplicateMACs: an (unauthenticated) body that
// repeats one MAC many times, in any case, costs one port lookup for the
// one MAC, as Ironic's one "address IN (...)" query; the node is found.
func TestContinueInspectionDuplicateMACs(t *testing.T) {
	t.Parallel()
	e := inspectEnv(t, inspMACUUID, node.InspectWait, "", ipaMAC)
	ports := &countingPorts{Store: e.st}
	e.srv.Agents, e.srv.Inspection = ports, ports
	var b strings.Builder
	b.WriteString(`{"inventory":{"cpu":{"architecture":"x86_64"},"interfaces":[`)
	const copies = 20000
	for i := range copies {
		mac := ipaMAC
		if i%2 == 1 {
			mac = strings.ToUpper(ipaMAC)
		}
		fmt.Fprintf(&b, `{"name":"eth%d","mac_address":"%s"},`, i, mac)
	}
	b.WriteString(`{"name":"unknown","mac_address":"52:54:00:99:99:99"}]}}`)
	// The body is above the general limit (an agent's is larger): the
	// request names its path as an agent's HTTP client does.
	req := httptest.NewRequest("POST", "/v1/continue_inspection", strings.NewReader(b.String()))
	for k, v := range ipaHeaders {
		req.Header.Set(k, v)
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 || string(body) != `{"uuid":"`+inspMACUUID+`"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if ports.lookups != 1 || len(ports.macs) != 1 ||
		!slices.Equal(ports.macs[0], []string{ipaMAC, "52:54:00:99:99:99"}) {
		t.Errorf("%d port lookups for %d copies of one MAC and one unknown MAC (asked for %v), want one for both",
			ports.lookups, copies, ports.macs)
	}
}
