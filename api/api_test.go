package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

var latest = map[string]string{hdrVersion: "latest"}

// v182 asks for Ironic 21.4's maximum, whose answers stay as they were.
var v182 = map[string]string{hdrVersion: "1.82"}

func ver(v string) map[string]string { return map[string]string{hdrVersion: v} }

// faultString extracts the faultstring of an Ironic error body, checking
// the body's shape on the way.
func faultString(t *testing.T, body string) string {
	t.Helper()
	var outer struct {
		ErrorMessage string `json:"error_message"`
	}
	if err := json.Unmarshal([]byte(body), &outer); err != nil || outer.ErrorMessage == "" {
		t.Fatalf("not an Ironic error body: %s", body)
	}
	var inner struct {
		Faultcode   string  `json:"faultcode"`
		Faultstring string  `json:"faultstring"`
		Debuginfo   *string `json:"debuginfo"`
		Description *string `json:"description"`
	}
	if err := json.Unmarshal([]byte(outer.ErrorMessage), &inner); err != nil {
		t.Fatalf("error_message is not a JSON document: %q", outer.ErrorMessage)
	}
	if inner.Description != nil {
		return *inner.Description
	}
	if inner.Faultcode != "Client" && inner.Faultcode != "Server" {
		t.Fatalf("faultcode %q", inner.Faultcode)
	}
	return inner.Faultstring
}

// step is one request of a table test.
type step struct {
	name       string
	method     string
	path       string
	body       string
	headers    map[string]string
	wantStatus int
	wantIn     string // substring of the body (the faultstring for errors)
}

func runSteps(t *testing.T, e *testEnv, steps []step) {
	t.Helper()
	for _, s := range steps {
		h := s.headers
		if h == nil {
			h = latest
		}
		resp, body := e.do(t, s.method, s.path, s.body, h)
		if resp.StatusCode != s.wantStatus {
			t.Errorf("%s: %s %s = %d, want %d; body %s", s.name, s.method, s.path, resp.StatusCode, s.wantStatus, body)
			continue
		}
		text := body
		if resp.StatusCode >= 400 {
			text = faultString(t, body)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s: error content type %q", s.name, ct)
			}
		}
		if s.wantIn != "" && !strings.Contains(text, s.wantIn) {
			t.Errorf("%s: body %q does not contain %q", s.name, text, s.wantIn)
		}
	}
}

func TestMicroversionNegotiation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		headers    map[string]string
		path       string
		wantStatus int
		wantVer    string // X-OpenStack-Ironic-API-Version; "" = absent
		wantMinMax bool
		wantIn     string
	}{
		{"absent means 1.1", nil, "/v1/nodes", 200, "1.1", true, ""},
		{"latest", latest, "/v1/nodes", 200, maxVersionString, true, ""},
		{"explicit", ver("1.50"), "/v1/nodes", 200, "1.50", true, ""},
		{"generic header", map[string]string{"OpenStack-API-Version": "compute 2.1, baremetal 1.61"}, "/v1/nodes", 200, "1.61", true, ""},
		{"too high", ver("1.97"), "/v1/nodes", 406, "", true, "Version 1.97 was requested but the minor version is not supported"},
		{"too low", ver("1.0"), "/v1/nodes", 406, "", true, "The supported version range is: [1.1, " + maxVersionString + "]."},
		{"other major", ver("2.1"), "/v1/nodes", 406, "", true, "Mutually exclusive versions requested. Version 2.1"},
		{"malformed", ver("1"), "/v1/nodes", 406, "", false, "Invalid value for X-OpenStack-Ironic-API-Version header"},
		{"malformed words", ver("one.two"), "/v1/ports", 406, "", false, "Invalid value"},
		{"three parts", ver("1.2.3"), "/v1", 406, "", false, "Invalid value"},
		{"root negotiates (Ironic 29)", ver("9.9"), "/", 406, "", true, "Version 9.9 requested but not supported"},
	}
	shared := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := shared.reuse(t)
			h := tt.headers
			if h == nil {
				h = map[string]string{}
			}
			resp, body := e.do(t, "GET", tt.path, "", h)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get(hdrVersion); got != tt.wantVer {
				t.Errorf("version header = %q, want %q", got, tt.wantVer)
			}
			hasMinMax := resp.Header.Get(hdrMinVersion) == "1.1" && resp.Header.Get(hdrMaxVersion) == maxVersionString
			if hasMinMax != tt.wantMinMax {
				t.Errorf("min/max headers present = %v, want %v", hasMinMax, tt.wantMinMax)
			}
			if tt.wantIn != "" && !strings.Contains(faultString(t, body), tt.wantIn) {
				t.Errorf("body %s lacks %q", body, tt.wantIn)
			}
		})
	}
}

// nodeKeys returns the members of a node document, in order.
func nodeKeys(t *testing.T, body string) []string {
	t.Helper()
	v, err := jsonwire.Decode([]byte(body))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v.(*jsonwire.Object).Keys()
}

func TestNodeFieldsFollowMicroversion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version     string
		wantHas     []string
		wantMissing []string
	}{
		{"1.1", []string{"uuid", "driver_info", "chassis_uuid", "ports"}, []string{"name", "driver_internal_info", "states", "boot_interface"}},
		{"1.5", []string{"name", "driver_internal_info"}, []string{"clean_step", "states"}},
		{"1.31", []string{"boot_interface", "network_interface", "resource_class", "portgroups"}, []string{"volume", "storage_interface", "traits"}},
		{"1.61", []string{"retired", "retired_reason", "allocation_uuid", "conductor", "description"}, []string{"lessee", "network_data", "boot_mode"}},
		{"1.81", []string{"lessee", "network_data", "boot_mode", "secure_boot"}, []string{"shard", "firmware_interface"}},
		{"1.82", []string{"shard"}, []string{"firmware_interface", "parent_node"}},
	}
	shared := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			e := shared.reuse(t)
			seedNode(nil)(e)
			resp, body := e.do(t, "GET", "/v1/nodes/"+sampleUUID, "", ver(tt.version))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			keys := nodeKeys(t, body)
			for _, k := range tt.wantHas {
				if !contains(keys, k) {
					t.Errorf("missing %q at %s", k, tt.version)
				}
			}
			for _, k := range tt.wantMissing {
				if contains(keys, k) {
					t.Errorf("unexpected %q at %s", k, tt.version)
				}
			}
		})
	}
}

func TestAvailableShownAsNullBefore1_2(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = node.Available })
	_, body := e.do(t, "GET", "/v1/nodes/"+sampleUUID+"/states", "", ver("1.1"))
	if !strings.Contains(body, `"provision_state":null`) {
		t.Errorf("1.1 states = %s, want provision_state null", body)
	}
	_, body = e.do(t, "GET", "/v1/nodes/"+sampleUUID+"/states", "", ver("1.2"))
	if !strings.Contains(body, `"provision_state":"available"`) {
		t.Errorf("1.2 states = %s", body)
	}
}

func TestNotAcceptableFeatures(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = node.Available })
	u := "/v1/nodes/" + sampleUUID
	runSteps(t, e, []step{
		{"fields before 1.8", "GET", u + "?fields=uuid", "", ver("1.7"), 406, "Request not acceptable."},
		{"field newer than version", "GET", u + "?fields=uuid,lessee", "", ver("1.64"), 406, ""},
		{"provision_state filter before 1.9", "GET", "/v1/nodes?provision_state=enroll", "", ver("1.8"), 406, ""},
		{"unknown provision state", "GET", "/v1/nodes?provision_state=bogus", "", latest, 400, `Provision state "bogus" is not valid`},
		{"driver filter before 1.16", "GET", "/v1/nodes?driver=fake-hardware", "", ver("1.15"), 406, "should be 1.16"},
		{"detail before 1.43", "GET", "/v1/nodes?detail=true", "", ver("1.42"), 400, "Invalid query parameter ?detail=True received."},
		{"detail and fields", "GET", "/v1/nodes?detail=true&fields=uuid", "", latest, 400, "Can not specify ?detail=True and fields"},
		{"sort by a newer field", "GET", "/v1/nodes?sort_key=name", "", ver("1.4"), 406, ""},
		{"sort by JSON field", "GET", "/v1/nodes?sort_key=properties", "", latest, 400, "The sort_key value properties is an invalid field for sorting"},
		{"bad sort dir", "GET", "/v1/nodes?sort_dir=up", "", latest, 400, "Invalid sort direction: up."},
		{"bad limit", "GET", "/v1/nodes?limit=0", "", latest, 400, "Limit must be positive"},
		{"bad marker", "GET", "/v1/nodes?marker=nope", "", latest, 400, "Expected UUID for marker: nope"},
		{"unknown marker", "GET", "/v1/nodes?marker=00000000-0000-0000-0000-000000000001", "", latest, 404, "could not be found"},
		{"bad fault", "GET", "/v1/nodes?fault=bogus", "", latest, 400, `allowed faults are ('power failure', 'clean failure', 'rescue abort failure')`},
		{"deploy verb before 1.73", "PUT", u + "/states/provision", `{"target":"deploy"}`, ver("1.72"), 406, ""},
		{"soft power before 1.27", "PUT", u + "/states/power", `{"target":"soft power off"}`, ver("1.26"), 406, ""},
		{"names before 1.5", "GET", "/v1/nodes/sample-node", "", ver("1.4"), 404, "Node sample-node could not be found."},
		{"history before 1.78", "GET", u + "/history", "", ver("1.77"), 404, ""},
		{"conductors before 1.49", "GET", "/v1/conductors", "", ver("1.48"), 404, ""},
		{"interface field on create before 1.31", "POST", "/v1/nodes", `{"driver":"fake-hardware","boot_interface":"fake"}`, ver("1.30"), 406, ""},
	})
	if n := e.wf.startCount(); n != 0 {
		t.Errorf("%d workflows started by refused requests", n)
	}
}

func TestCreateNodeDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, body := e.do(t, "POST", "/v1/nodes", `{"driver":"fake-hardware"}`, ver("1.10"))
	if resp.StatusCode != 201 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var n map[string]any
	_ = json.Unmarshal([]byte(body), &n)
	if n["provision_state"] != "available" {
		t.Errorf("before 1.11 a new node is available, got %v", n["provision_state"])
	}
	stored := e.node(n["uuid"].(string))
	if stored.Interfaces.Power != "fake" || stored.Interfaces.Network != "noop" || stored.Interfaces.Storage != "noop" {
		t.Errorf("interfaces not resolved to defaults: %+v", stored.Interfaces)
	}
	if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:6385/v1/nodes/"+stored.UUID {
		t.Errorf("Location = %q", loc)
	}
	resp, body = e.do(t, "POST", "/v1/nodes", `{"driver":"fake-hardware","name":"n2"}`, latest)
	if resp.StatusCode != 201 || !strings.Contains(body, `"provision_state":"enroll"`) {
		t.Errorf("1.82 create = %d %s", resp.StatusCode, body)
	}
}

func TestCreateNodeValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		wantIn string
	}{
		{"malformed JSON", `{"driver":`, 400, "Invalid JSON in request body"},
		{"not an object", `[1]`, 400, "Schema error for node: [1] is not of type 'object'"},
		{"empty body", ``, 400, "Missing mandatory parameter: node"},
		{"driver missing", `{"name":"x"}`, 400, "Schema error for node: 'driver' is a required property"},
		{"two unknown fields", `{"driver":"fake-hardware","a":1,"b":2}`, 400, "('a', 'b' were unexpected)"},
		{"wrong type", `{"driver":"fake-hardware","extra":"x"}`, 400, "'x' is not of type 'object', 'null'"},
		{"bad uuid", `{"driver":"fake-hardware","uuid":"nope"}`, 400, "Expected UUID for uuid: nope"},
		{"bad boolean", `{"driver":"fake-hardware","maintenance":"maybe"}`, 400, "Invalid maintenance: Unrecognized value 'maybe'"},
		{"bad name", `{"driver":"fake-hardware","name":"a b"}`, 400, "Cannot create node with invalid name 'a b'"},
		{"reserved name", `{"driver":"fake-hardware","name":"detail"}`, 400, `The word "detail" is reserved`},
		{"uuid as name", `{"driver":"fake-hardware","name":"9f7ef9f4-7a46-40bc-9037-5300b50b65e5"}`, 400, "invalid name"},
		{"unknown chassis", `{"driver":"fake-hardware","chassis_uuid":"9f7ef9f4-7a46-40bc-9037-5300b50b65e5"}`, 400, "Chassis 9f7ef9f4-7a46-40bc-9037-5300b50b65e5 could not be found."},
		{"unsupported interface", `{"driver":"fake-hardware","power_interface":"ipmitool"}`, 400, "power interface implementation 'ipmitool' is not supported by hardware type fake-hardware."},
		{"unknown interface", `{"driver":"fake-hardware","power_interface":"snmp"}`, 400, "Could not find the following interface in the 'ironic.hardware.interfaces.power' entrypoint: snmp."},
		{"driver_info refused by the driver", `{"driver":"ipmi","driver_info":{"ipmi_username":"root"}}`, 400, "missing ipmi_address in driver_info"},
		{"description too long", `{"driver":"fake-hardware","description":"` + strings.Repeat("x", 4097) + `"}`, 400, "is too long"},
		{"ipmi with address", `{"driver":"ipmi","driver_info":{"ipmi_address":"10.0.0.9","ipmi_password":"p"}}`, 201, `"ipmi_password":"******"`},
		{"ipmi without driver_info yet", `{"driver":"ipmi"}`, 201, `"power_interface":"ipmitool"`},
	}
	shared := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := shared.reuse(t)
			resp, body := e.do(t, "POST", "/v1/nodes", tt.body, latest)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			text := body
			if tt.status >= 400 {
				text = faultString(t, body)
				if e.nodeCount() != 0 {
					t.Errorf("a refused create stored a node")
				}
			}
			if !strings.Contains(text, tt.wantIn) {
				t.Errorf("body %q lacks %q", text, tt.wantIn)
			}
		})
	}
}

func TestSecretsAreMasked(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) {
		n.DriverInfo = json.RawMessage(`{"ipmi_address":"10.0.0.9","ipmi_password":"s3cret","ssh_key_contents":"KEY",` +
			`"redfish_auth_token":"tok","tls":{"client_secret":"x","plain":"ok"},"snmp_auth_key":"k","deploy_kernel":"k1",` +
			`"bmcs":[{"address":"10.0.0.8","password":"l1st"},[{"token":"n3sted"}]]}`)
		n.InstanceInfo = json.RawMessage(`{"image_source":"http://i","configdrive":"H4sI","image_url":"http://temp?sig=1"}`)
		n.DriverInternalInfo = json.RawMessage(`{"agent_secret_token":"abc","agent_url":"http://a"}`)
	})
	for _, path := range []string{"/v1/nodes/" + sampleUUID, "/v1/nodes/detail", "/v1/nodes?fields=driver_info,instance_info,driver_internal_info"} {
		_, body := e.do(t, "GET", path, "", latest)
		for _, secret := range []string{"s3cret", `"KEY"`, `"tok"`, `"x"`, `"k"`, "H4sI", "sig=1", `"abc"`, "l1st", "n3sted"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s leaks %s: %s", path, secret, body)
			}
		}
		for _, shown := range []string{`"ipmi_address":"10.0.0.9"`, `"plain":"ok"`, `"deploy_kernel":"k1"`,
			`"image_source":"http://i"`, `"agent_url":"http://a"`, `"ipmi_password":"******"`,
			`"bmcs":[{"address":"10.0.0.8","password":"******"},[{"token":"******"}]]`} {
			if !strings.Contains(body, shown) {
				t.Errorf("%s hides %s: %s", path, shown, body)
			}
		}
	}
}

func TestPatchKeepsMaskedSecrets(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) {
		n.DriverInfo = json.RawMessage(`{"ipmi_address":"10.0.0.9","ipmi_password":"s3cret","bmcs":[{"a":1,"password":"l1st"}]}`)
	})
	u := "/v1/nodes/" + sampleUUID
	runSteps(t, e, []step{
		{"whole driver_info sent back masked", "PATCH", u,
			`[{"op":"replace","path":"/driver_info","value":{"ipmi_address":"10.0.0.10","ipmi_password":"******","bmcs":[{"a":2,"password":"******"}]}}]`,
			nil, 200, `"ipmi_address":"10.0.0.10"`},
		{"single secret sent back masked", "PATCH", u,
			`[{"op":"add","path":"/driver_info/ipmi_password","value":"******"}]`, nil, 200, ""},
	})
	if got := compactJSON(t, e.node(sampleUUID).DriverInfo); !strings.Contains(got, `"ipmi_password":"s3cret"`) ||
		!strings.Contains(got, `"bmcs":[{"a":2,"password":"l1st"}]`) {
		t.Errorf("stored driver_info = %s, want the original passwords kept", got)
	}
	runSteps(t, e, []step{{"real change", "PATCH", u,
		`[{"op":"replace","path":"/driver_info/ipmi_password","value":"n3w"}]`, nil, 200, ""}})
	if got := compactJSON(t, e.node(sampleUUID).DriverInfo); !strings.Contains(got, `"ipmi_password":"n3w"`) {
		t.Errorf("stored driver_info = %s, want the new password", got)
	}
}

func TestPatchNode(t *testing.T) {
	t.Parallel()
	u := "/v1/nodes/" + sampleUUID
	tests := []struct {
		name   string
		seed   func(*store.Node)
		patch  string
		query  string
		status int
		wantIn string
		check  func(t *testing.T, n store.Node)
	}{
		{name: "nested add creates the member", patch: `[{"op":"add","path":"/instance_info/image_source","value":"http://img"},{"op":"add","path":"/instance_info/image_checksum","value":"abc"}]`,
			status: 200, check: func(t *testing.T, n store.Node) {
				if !jsonEqual(t, n.InstanceInfo, `{"image_source":"http://img","image_checksum":"abc"}`) {
					t.Errorf("instance_info = %s", n.InstanceInfo)
				}
			}},
		{name: "remove nested", patch: `[{"op":"remove","path":"/extra/rack"}]`, status: 200,
			check: func(t *testing.T, n store.Node) {
				if !jsonEqual(t, n.Extra, `{}`) {
					t.Errorf("extra = %s", n.Extra)
				}
			}},
		{name: "remove root clears", patch: `[{"op":"remove","path":"/properties"},{"op":"remove","path":"/name"}]`, status: 200,
			check: func(t *testing.T, n store.Node) {
				if !jsonEqual(t, n.Properties, `{}`) || n.Name != nil {
					t.Errorf("properties = %s name = %v", n.Properties, n.Name)
				}
			}},
		{name: "rename", patch: `[{"op":"replace","path":"/name","value":"renamed"}]`, status: 200,
			check: func(t *testing.T, n store.Node) {
				if n.Name == nil || *n.Name != "renamed" {
					t.Errorf("name = %v", n.Name)
				}
			}},
		{name: "maintenance on via patch", patch: `[{"op":"replace","path":"/maintenance","value":"true"}]`, status: 200,
			check: func(t *testing.T, n store.Node) {
				if !n.Maintenance {
					t.Error("maintenance not set")
				}
			}},
		{name: "interface change", patch: `[{"op":"replace","path":"/boot_interface","value":"pxe"}]`, status: 200,
			check: func(t *testing.T, n store.Node) {
				if n.Interfaces.Boot != "pxe" {
					t.Errorf("boot = %q", n.Interfaces.Boot)
				}
			}},
		{name: "interface removed goes back to default", patch: `[{"op":"remove","path":"/storage_interface"}]`, status: 200,
			check: func(t *testing.T, n store.Node) {
				if n.Interfaces.Storage != "noop" {
					t.Errorf("storage = %q", n.Interfaces.Storage)
				}
			}},
		{name: "driver change keeps incompatible interfaces: refused", patch: `[{"op":"replace","path":"/driver","value":"ipmi"}]`,
			status: 400, wantIn: "is not supported by hardware type ipmi"},
		{name: "driver change with reset", query: "?reset_interfaces=true", patch: `[{"op":"replace","path":"/driver","value":"ipmi"}]`,
			status: 200, check: func(t *testing.T, n store.Node) {
				if n.Driver != "ipmi" || n.Interfaces.Power != "ipmitool" || n.Interfaces.Boot != "pxe" {
					t.Errorf("driver %s interfaces %+v", n.Driver, n.Interfaces)
				}
			}},
		{name: "reset without driver change", query: "?reset_interfaces=true", patch: `[{"op":"add","path":"/extra/a","value":1}]`,
			status: 400, wantIn: "reset_interfaces parameter can only be used when changing the node's driver"},
		{name: "unknown driver", patch: `[{"op":"replace","path":"/driver","value":"nope"}]`, status: 400, wantIn: "No valid host was found"},
		{name: "read-only field", patch: `[{"op":"replace","path":"/provision_state","value":"active"}]`, status: 400,
			wantIn: "Cannot patch /provision_state. Only the following can be updated:"},
		{name: "new root member", patch: `[{"op":"add","path":"/foo","value":1}]`, status: 400, wantIn: "Cannot patch /foo"},
		{name: "remove missing member", patch: `[{"op":"remove","path":"/extra/nope"}]`, status: 400,
			wantIn: "Couldn't apply patch '{'op': 'remove', 'path': '/extra/nope'}'. Reason: can't remove a non-existent object 'nope'"},
		{name: "replace missing member", patch: `[{"op":"replace","path":"/extra/nope","value":1}]`, status: 400, wantIn: "can't replace a non-existent object 'nope'"},
		{name: "unsupported op", patch: `[{"op":"move","path":"/extra/rack","from":"/extra/x"}]`, status: 400, wantIn: "Additional properties are not allowed ('from' was unexpected)"},
		{name: "move op", patch: `[{"op":"move","path":"/extra/rack"}]`, status: 400, wantIn: "'move' is not one of ['add', 'replace', 'remove']"},
		{name: "bad path", patch: `[{"op":"add","path":"extra","value":1}]`, status: 400, wantIn: "does not match"},
		{name: "not a list", patch: `{"op":"add"}`, status: 400, wantIn: "is not of type 'array'"},
		{name: "missing value", patch: `[{"op":"add","path":"/extra/x"}]`, status: 400, wantIn: "The operation does not contain a 'value' member"},
		{name: "wrong type", patch: `[{"op":"replace","path":"/extra","value":"x"}]`, status: 400, wantIn: "Schema error for patch: 'x' is not of type 'object', 'null'"},
		{name: "driver removed", patch: `[{"op":"remove","path":"/driver"}]`, status: 400, wantIn: "'driver' is a required property"},
		{name: "bad name", patch: `[{"op":"replace","path":"/name","value":"a b"}]`, status: 400,
			wantIn: "Node " + sampleUUID + ": Cannot change name to invalid name 'a b'"},
		{name: "bad instance_uuid", patch: `[{"op":"add","path":"/instance_uuid","value":"x"}]`, status: 400, wantIn: "Expected UUID for instance_uuid: x"},
		{name: "during a transition", seed: func(n *store.Node) { n.ProvisionState, n.TargetProvisionState = node.Deploying, node.Active },
			patch: `[{"op":"add","path":"/extra/a","value":1}]`, status: 409, wantIn: "can not be updated while a state transition is in progress"},
		{name: "deploy failed may be updated", seed: func(n *store.Node) { n.ProvisionState, n.TargetProvisionState = node.DeployFail, node.Active },
			patch: `[{"op":"add","path":"/extra/a","value":1}]`, status: 200},
		{name: "change instance of an associated node", seed: func(n *store.Node) { n.InstanceUUID = strp("11111111-1111-1111-1111-111111111111") },
			patch: `[{"op":"replace","path":"/instance_uuid","value":"22222222-2222-2222-2222-222222222222"}]`, status: 409, wantIn: "is associated with instance 11111111"},
		{name: "protect outside active", patch: `[{"op":"replace","path":"/protected","value":true}]`, status: 409, wantIn: "protection can only be set"},
		{name: "protected reason alone", seed: func(n *store.Node) { n.ProvisionState = node.Active },
			patch: `[{"op":"add","path":"/protected_reason","value":"why"}]`, status: 400, wantIn: "Cannot set protected_reason without protected=True"},
		{name: "second part fails: nothing written", patch: `[{"op":"add","path":"/extra/a","value":1},{"op":"remove","path":"/extra/zzz"}]`, status: 400,
			wantIn: "can't remove a non-existent object 'zzz'"},
	}
	shared := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := shared.reuse(t)
			seedNode(tt.seed)(e)
			before := e.node(sampleUUID)
			resp, body := e.do(t, "PATCH", u+tt.query, tt.patch, latest)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			after := e.node(sampleUUID)
			if tt.status >= 400 {
				if msg := faultString(t, body); !strings.Contains(msg, tt.wantIn) {
					t.Errorf("faultstring %q lacks %q", msg, tt.wantIn)
				}
				if after.Version != before.Version {
					t.Errorf("refused patch wrote the node (version %d -> %d)", before.Version, after.Version)
				}
				return
			}
			if after.Version != before.Version+1 {
				t.Errorf("version %d -> %d", before.Version, after.Version)
			}
			if tt.check != nil {
				tt.check(t, after)
			}
		})
	}
}

func TestPatchRetriesOnConcurrentWrite(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	racing := &racingStore{Store: e.st}
	e.srv.Store = racing
	e.app = e.srv.App()
	on := node.PowerOn
	races := 2
	racing.before = func(ctx context.Context) {
		if races > 0 { // a workflow moves the node meanwhile
			races--
			if _, err := e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, PowerState: &on}); err != nil {
				t.Error(err)
			}
		}
	}
	resp, body := e.do(t, "PATCH", "/v1/nodes/"+sampleUUID, `[{"op":"add","path":"/extra/a","value":1}]`, latest)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	n := e.node(sampleUUID)
	if !jsonEqual(t, n.Extra, `{"rack":"r1","a":1}`) || n.PowerState != node.PowerOn {
		t.Errorf("extra = %s power = %q; want the patch applied over the concurrent write", n.Extra, n.PowerState)
	}
	if got := racing.updates.Load(); got != 3 {
		t.Errorf("UpdateNode calls = %d, want 3", got)
	}

	racing.before = func(ctx context.Context) { // never wins
		if _, err := e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, PowerState: &on}); err != nil {
			t.Error(err)
		}
	}
	resp, body = e.do(t, "PATCH", "/v1/nodes/"+sampleUUID, `[{"op":"add","path":"/extra/b","value":1}]`, latest)
	if resp.StatusCode != 409 || !strings.Contains(faultString(t, body), "is locked by host localhost") {
		t.Errorf("endless conflict = %d %s, want 409 NodeLocked", resp.StatusCode, body)
	}
}

// racingStore is the real store with a concurrent writer: before, when
// set, runs ahead of every UpdateNode (fault injection: the write it makes
// wins the optimistic lock race).
type racingStore struct {
	*store.Store
	before  func(ctx context.Context)
	updates atomic.Int32
}

func (r *racingStore) UpdateNode(ctx context.Context, n store.Node) (store.Node, error) {
	r.updates.Add(1)
	if r.before != nil {
		r.before(ctx)
	}
	return r.Store.UpdateNode(ctx, n)
}

// jsonEqual reports whether the stored JSON raw holds the document want.
func jsonEqual(t testing.TB, raw json.RawMessage, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("stored JSON %q: %v", raw, err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	return reflect.DeepEqual(a, b)
}

// compactJSON is the stored JSON raw without insignificant space (jsonb
// writes a space after colons and commas).
func compactJSON(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("stored JSON %q: %v", raw, err)
	}
	return b.String()
}

func TestProvisioning(t *testing.T) {
	t.Parallel()
	u := "/v1/nodes/" + sampleUUID + "/states/provision"
	tests := []struct {
		name     string
		seed     func(*store.Node)
		running  bool // the node lock is held
		body     string
		status   int
		wantIn   string
		wantFlow string
		wantOp   bool // an operation record carries what the request gave
	}{
		{name: "manage from enroll", body: `{"target":"manage"}`, status: 202, wantFlow: contract.ManageName},
		{name: "deploy alias", seed: func(n *store.Node) { n.ProvisionState = node.Available }, body: `{"target":"deploy"}`, status: 202, wantFlow: contract.DeployName},
		{name: "undeploy alias", seed: func(n *store.Node) { n.ProvisionState = node.Active }, body: `{"target":"undeploy"}`, status: 202, wantFlow: contract.UndeployName},
		{name: "locked", seed: func(n *store.Node) { n.ProvisionState = node.Available }, running: true, body: `{"target":"active"}`,
			status: 409, wantIn: "Node " + sampleUUID + " is locked by host localhost, please retry after the current operation is completed."},
		{name: "invalid transition", body: `{"target":"provide"}`, status: 400,
			wantIn: `The requested action "provide" can not be performed on node "` + sampleUUID + `" while it is in state "enroll".`},
		{name: "busy state is locked", seed: func(n *store.Node) { n.ProvisionState = node.Cleaning }, body: `{"target":"manage"}`, status: 409, wantIn: "is locked by host"},
		{name: "maintenance refuses deploy", seed: func(n *store.Node) { n.ProvisionState, n.Maintenance = node.Available, true },
			body: `{"target":"active"}`, status: 400, wantIn: "because it's in maintenance mode"},
		{name: "missing target", body: `{}`, status: 400, wantIn: "Missing mandatory parameter: target"},
		{name: "unknown argument", body: `{"target":"manage","force":true}`, status: 400, wantIn: "Unexpected arguments: force"},
		{name: "clean needs steps", seed: func(n *store.Node) { n.ProvisionState = node.Manageable }, body: `{"target":"clean"}`,
			status: 400, wantIn: `"clean_steps" is required`},
		{name: "clean with steps", seed: func(n *store.Node) { n.ProvisionState = node.Manageable },
			body: `{"target":"clean","clean_steps":[{"interface":"deploy","step":"erase_devices"}]}`, status: 202,
			wantFlow: contract.CleanName, wantOp: true},
		{name: "bad clean step", seed: func(n *store.Node) { n.ProvisionState = node.Manageable },
			body: `{"target":"clean","clean_steps":[{"interface":"nope","step":"x"}]}`, status: 400, wantIn: "Invalid clean_steps"},
		{name: "clean steps with deploy", seed: func(n *store.Node) { n.ProvisionState = node.Available },
			body: `{"target":"active","clean_steps":[{"interface":"deploy","step":"x"}]}`, status: 400, wantIn: `"clean_steps" is only valid`},
		{name: "configdrive with manage", body: `{"target":"manage","configdrive":"abc"}`, status: 400, wantIn: "Adding a config drive is only supported"},
		{name: "configdrive garbage", seed: func(n *store.Node) { n.ProvisionState = node.Available },
			body: `{"target":"active","configdrive":"not base64!"}`, status: 400, wantIn: "neither a JSON, nor a URL, nor a base64 string"},
		{name: "configdrive object", seed: func(n *store.Node) { n.ProvisionState = node.Available },
			body:   `{"target":"active","configdrive":{"meta_data":{"hostname":"h","admin_pass":"s3cret"}},"deploy_steps":[{"interface":"deploy","step":"erase_devices_metadata","args":{},"priority":90}]}`,
			status: 202, wantFlow: contract.DeployName, wantOp: true},
		{name: "unknown deploy step", seed: func(n *store.Node) { n.ProvisionState = node.Available },
			body:   `{"target":"active","deploy_steps":[{"interface":"deploy","step":"x","args":{},"priority":90}]}`,
			status: 400, wantIn: "node does not support this deploy step: {'interface': 'deploy', 'step': 'x', 'args': {}, 'priority': 90}"},
		{name: "core deploy step", seed: func(n *store.Node) { n.ProvisionState = node.Available },
			body:   `{"target":"active","deploy_steps":[{"interface":"deploy","step":"deploy","args":{},"priority":100}]}`,
			status: 400, wantIn: "Failed to validate deploy or power info for node " + sampleUUID + ": Validation of deploy " +
				`steps from "deploy steps" argument failed.deploy step deploy on interface deploy is a core step and ` +
				"cannot be overridden by user steps. It may be disabled by setting the priority to 0"},
		{name: "core deploy step disabled", seed: func(n *store.Node) { n.ProvisionState = node.Available },
			body:   `{"target":"active","deploy_steps":[{"interface":"deploy","step":"deploy","args":{},"priority":0}]}`,
			status: 202, wantFlow: contract.DeployName, wantOp: true},
		{name: "in-band deploy step before the ramdisk", seed: func(n *store.Node) {
			n.ProvisionState, n.Interfaces.Deploy = node.Available, "direct"
		},
			body:   `{"target":"active","deploy_steps":[{"interface":"deploy","step":"write_image","args":{},"priority":150}]}`,
			status: 400, wantIn: "priority must be below 100"},
		{name: "unknown clean step", seed: func(n *store.Node) { n.ProvisionState = node.Manageable },
			body:   `{"target":"clean","clean_steps":[{"interface":"deploy","step":"erase_everything"}]}`,
			status: 400, wantIn: "node does not support this clean step: {'interface': 'deploy', 'step': 'erase_everything'}"},
		{name: "clean step with unexpected args", seed: func(n *store.Node) { n.ProvisionState = node.Manageable },
			body:   `{"target":"clean","clean_steps":[{"interface":"deploy","step":"erase_devices","args":{"passes":3}}]}`,
			status: 400, wantIn: "has these unexpected arguments: passes"},
		{name: "abort without a running workflow", seed: func(n *store.Node) { n.ProvisionState = node.DeployWait }, body: `{"target":"abort"}`,
			status: 400, wantIn: `while it is in state "wait call-back"`},
		{name: "abort from a stable state", body: `{"target":"abort"}`, status: 400, wantIn: `"abort" can not be performed`},
	}
	shared := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := shared.reuse(t)
			seedNode(tt.seed)(e)
			if tt.running {
				e.wf.running[contract.WorkflowID(sampleUUID)] = true
			}
			resp, body := e.do(t, "PUT", u, tt.body, latest)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status >= 400 {
				if msg := faultString(t, body); !strings.Contains(msg, tt.wantIn) {
					t.Errorf("faultstring %q lacks %q", msg, tt.wantIn)
				}
				if e.wf.startCount() != 0 {
					t.Errorf("workflow started on a refused request")
				}
				return
			}
			if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:6385/v1/nodes/"+sampleUUID+"/states" {
				t.Errorf("Location = %q", loc)
			}
			got := e.wf.last()
			if got.name != tt.wantFlow {
				t.Errorf("started %q, want %q", got.name, tt.wantFlow)
			}
			in := got.input.(contract.ProvisionInput)
			if in.From != sampleNodeState(tt.seed) {
				t.Errorf("From = %q", in.From)
			}
			// The config drive and the steps go to an operation record;
			// the workflow gets its ID only.
			if in.ConfigDrive != nil || in.CleanSteps != nil || in.DeploySteps != nil {
				t.Errorf("request data in the workflow input: %+v", in)
			}
			if tt.wantOp {
				op, err := e.st.Operation(context.Background(), in.OperationID)
				if err != nil {
					t.Fatalf("no operation record %q: %v", in.OperationID, err)
				}
				if strings.Contains(tt.body, "configdrive") && !strings.Contains(string(op.ConfigDrive), "s3cret") {
					t.Errorf("config drive not recorded: %s", op.ConfigDrive)
				}
			} else if in.OperationID != "" {
				t.Errorf("operation record for a plain request")
			}
		})
	}
}

func sampleNodeState(mut func(*store.Node)) node.ProvisionState {
	n := sampleNode()
	if mut != nil {
		mut(&n)
	}
	return n.ProvisionState
}

func TestAbortSignalsTheRunningWorkflow(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState, n.TargetProvisionState = node.DeployWait, node.Active })
	e.wf.running[contract.WorkflowID(sampleUUID)] = true
	resp, body := e.do(t, "PUT", "/v1/nodes/"+sampleUUID+"/states/provision", `{"target":"abort"}`, latest)
	if resp.StatusCode != 202 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if len(e.wf.signals) != 1 || e.wf.signals[0] != contract.WorkflowID(sampleUUID)+" "+contract.SignalAbort {
		t.Errorf("signals = %v", e.wf.signals)
	}
}

func TestPower(t *testing.T) {
	t.Parallel()
	u := "/v1/nodes/" + sampleUUID + "/states/power"
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState, n.PowerState = node.Active, node.PowerOn })
	runSteps(t, e, []step{
		{"bad target", "PUT", u, `{"target":"power sideways"}`, nil, 400, `while it is in state "power on"`},
		{"bad timeout", "PUT", u, `{"target":"power off","timeout":0}`, nil, 400, "timeout has to be positive integer"},
		{"timeout not a number", "PUT", u, `{"target":"power off","timeout":"soon"}`, nil, 400, "Expected an integer for timeout: soon"},
		{"soft off with timeout", "PUT", u, `{"target":"soft power off","timeout":30}`, nil, 202, ""},
	})
	in := e.wf.last().input.(contract.PowerInput)
	if in.Target != node.SoftPowerOff || in.TimeoutSeconds != 30 {
		t.Errorf("PowerInput = %+v", in)
	}
	e.wf.running[contract.WorkflowID(sampleUUID)] = true
	runSteps(t, e, []step{{"locked", "PUT", u, `{"target":"rebooting"}`, nil, 409, "is locked by host"}})

	e2 := newEnv(t)
	seedNode(func(n *store.Node) { n.ProvisionState = node.Cleaning })(e2)
	runSteps(t, e2, []step{{"cleaning", "PUT", u, `{"target":"power on"}`, nil, 400, `while it is in state "cleaning"`}})

	// A power interface that its driver_info cannot build: refused at once,
	// nothing started (Ironic validates the power interface first).
	e3 := newNodeEnv(t, nil)
	bad := "22222222-2222-2222-2222-222222222222"
	e3.put(store.Node{UUID: bad, Driver: "ipmi", DriverInfo: json.RawMessage(`{}`), ProvisionState: node.Manageable,
		Interfaces: store.Interfaces{Management: "ipmitool", Power: "ipmitool"}})
	starts := len(e3.wf.starts)
	runSteps(t, e3, []step{{"driver_info incomplete", "PUT", "/v1/nodes/" + bad + "/states/power",
		`{"target":"power on"}`, nil, 400, "missing ipmi_address in driver_info"}})
	if len(e3.wf.starts) != starts {
		t.Errorf("a refused power change started %d workflows", len(e3.wf.starts)-starts)
	}
}

func TestBootDevice(t *testing.T) {
	t.Parallel()
	u := "/v1/nodes/" + sampleUUID + "/management/boot_device"
	e := newNodeEnv(t, nil)
	persistent := true
	e.wf.result = func(name string, input any) (any, error) {
		switch name {
		case contract.ManagementName:
			if input.(contract.ManagementInput).Read == contract.ReadSupportedBootDevices {
				return contract.ManagementResult{SupportedBootDevices: []string{"pxe", "disk"}}, nil
			}
			return contract.ManagementResult{BootDevice: "disk", Persistent: &persistent}, nil
		case contract.BootDeviceName:
			if input.(contract.BootDeviceInput).Device == "cdrom" {
				return nil, temporal.NewNonRetryableApplicationError("cdrom is not supported", contract.ErrTypeUnsupported, nil)
			}
			return nil, nil
		}
		return nil, errors.New("unexpected workflow")
	}
	runSteps(t, e, []step{
		{"get", "GET", u, "", nil, 200, `{"boot_device":"disk","persistent":true}`},
		{"supported", "GET", u + "/supported", "", nil, 200, `{"supported_boot_devices":["pxe","disk"]}`},
		{"set", "PUT", u, `{"boot_device":"pxe","persistent":true}`, nil, 204, ""},
		{"unknown device", "PUT", u, `{"boot_device":"tape"}`, nil, 400, "Invalid boot device tape specified."},
		{"driver refuses", "PUT", u, `{"boot_device":"cdrom"}`, nil, 400, "cdrom is not supported"},
	})
	var reads, sets int
	for _, s := range e.wf.starts {
		switch s.name {
		case contract.ManagementName:
			reads++
			if !strings.HasPrefix(s.opts.ID, "node/"+sampleUUID+"/read/") {
				t.Errorf("read workflow ID %q takes the node lock", s.opts.ID)
			}
		case contract.BootDeviceName:
			sets++
			if s.opts.ID != contract.WorkflowID(sampleUUID) {
				t.Errorf("set-boot-device ID %q, want the node lock", s.opts.ID)
			}
		}
	}
	if reads != 2 || sets != 2 {
		t.Errorf("reads %d sets %d", reads, sets)
	}
	e.wf.running[contract.WorkflowID(sampleUUID)] = true
	runSteps(t, e, []step{{"locked", "PUT", u, `{"boot_device":"pxe"}`, nil, 409, "is locked by host"}})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	e.put(store.Node{UUID: "11111111-1111-1111-1111-111111111111", Driver: "ipmi", DriverInfo: json.RawMessage(`{}`),
		Interfaces: store.Interfaces{Bios: "no-bios", Boot: "pxe", Console: "no-console", Deploy: "direct",
			Inspect: "no-inspect", Management: "ipmitool", Network: "noop", Power: "ipmitool", RAID: "no-raid",
			Rescue: "no-rescue", Storage: "noop", Vendor: "no-vendor"}})
	_, body := e.do(t, "GET", "/v1/nodes/"+sampleUUID+"/validate", "", latest)
	var res map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(res) != 11 {
		t.Errorf("interfaces = %d, want 11: %s", len(res), body)
	}
	for k, r := range res {
		if k == "deploy" || k == "power" || k == "management" {
			if r["result"] != true {
				t.Errorf("%s = %v", k, r)
			}
		}
	}
	_, body = e.do(t, "GET", "/v1/nodes/validate?node=11111111-1111-1111-1111-111111111111", "", latest)
	for _, want := range []string{`"power":{"result":false,"reason":"missing ipmi_address in driver_info"}`,
		`"bios":{"result":false,"reason":"Driver ipmi does not support bios (disabled or not implemented)."}`,
		`"network":{"result":true}`} {
		if !strings.Contains(body, want) {
			t.Errorf("validate lacks %s: %s", want, body)
		}
	}
}

func TestMaintenanceAndDelete(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = node.Active })
	u := "/v1/nodes/" + sampleUUID
	runSteps(t, e, []step{
		{"delete active", "DELETE", u, "", nil, 409, "Can not delete node"},
		{"maintenance on", "PUT", u + "/maintenance", `{"reason":"broken fan"}`, nil, 202, ""},
		{"shows reason", "GET", u + "?fields=maintenance,maintenance_reason", "", nil, 200, `"maintenance":true,"maintenance_reason":"broken fan"`},
		{"maintenance off", "DELETE", u + "/maintenance", "", nil, 202, ""},
		{"reason cleared", "GET", u + "?fields=maintenance_reason", "", nil, 200, `"maintenance_reason":null`},
		{"maintenance again", "PUT", u + "/maintenance", ``, nil, 202, ""},
		{"bad reason", "PUT", u + "/maintenance", `{"reason":1}`, nil, 400, "Expected string for reason: 1"},
	})
	if ev, err := e.st.NodeEvents(context.Background(), sampleUUID); err != nil || len(ev) != 3 ||
		ev[0].Event != "Node put in maintenance: broken fan" {
		t.Errorf("events = %+v, %v", ev, err)
	}
	runSteps(t, e, []step{
		{"delete in maintenance", "DELETE", u, "", nil, 204, ""},
		{"gone", "GET", u, "", nil, 404, "could not be found"},
	})
}

func TestHistory(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	for i := range 3 {
		_ = e.st.AddEvent(context.Background(), store.Event{UUID: fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i+1),
			NodeUUID: sampleUUID, Severity: "INFO", EventType: "provisioning", Event: strings.Repeat("e", 300),
			Conductor: "localhost", CreatedAt: ts("2026-11-25T00:23:08Z")})
	}
	u := "/v1/nodes/" + sampleUUID + "/history"
	runSteps(t, e, []step{
		{"list", "GET", u + "?limit=2", "", nil, 200, `"next":"http://127.0.0.1:6385/v1/nodes/` + sampleUUID + `/history?limit=2&marker=00000000-0000-0000-0000-000000000002"`},
		{"truncated", "GET", u, "", nil, 200, strings.Repeat("e", 251) + `..."`},
		{"after marker", "GET", u + "?marker=00000000-0000-0000-0000-000000000002", "", nil, 200, `"uuid":"00000000-0000-0000-0000-000000000003"`},
		{"one", "GET", u + "/00000000-0000-0000-0000-000000000001", "", nil, 200, `"event_type":"provisioning"`},
		{"missing", "GET", u + "/00000000-0000-0000-0000-000000000009", "", nil, 404, "Node history record"},
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 5 {
		n := sampleNode()
		n.UUID = fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i+1)
		n.Name = strp(fmt.Sprintf("n%d", i+1))
		e.put(n)
	}
	e.srv.MaxLimit = 3
	e.app = e.srv.App()
	var seen []string
	path := "/v1/nodes?fields=uuid,provision_state"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		_, body := e.do(t, "GET", path, "", latest)
		var page struct {
			Nodes []struct{ UUID string }
			Next  string
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		for _, n := range page.Nodes {
			seen = append(seen, n.UUID)
		}
		path = strings.TrimPrefix(page.Next, "http://127.0.0.1:6385")
		if path != "" && !strings.Contains(path, "fields=uuid,provision_state&limit=3&marker=") {
			t.Errorf("next = %s", page.Next)
		}
	}
	if len(seen) != 5 {
		t.Errorf("saw %d nodes over pages, want 5: %v", len(seen), seen)
	}
	// A post-filtered request still fills its page.
	_, body := e.do(t, "GET", "/v1/nodes?description_contains=zz&limit=2", "", latest)
	if body != `{"nodes":[]}` {
		t.Errorf("filtered list = %s", body)
	}
	_, body = e.do(t, "GET", "/v1/nodes?conductor=localhost&limit=2", "", latest)
	if !strings.Contains(body, `"next"`) || strings.Count(body, `"uuid"`) != 2 {
		t.Errorf("conductor-filtered page = %s", body)
	}
	_, body = e.do(t, "GET", "/v1/nodes?conductor=elsewhere", "", latest)
	if body != `{"nodes":[]}` {
		t.Errorf("other conductor's nodes = %s", body)
	}
	_, body = e.do(t, "GET", "/v1/nodes?shard=a,b", "", latest)
	if body != `{"nodes":[]}` {
		t.Errorf("shard-filtered = %s", body)
	}
}

func TestPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedNodeAndPort(nil)(e)
	runSteps(t, e, []step{
		{"upper-case MAC is normalized", "POST", "/v1/ports", `{"address":"52:54:00:AB:CD:EF","node_uuid":"` + sampleUUID + `"}`, nil, 201, `"address":"52:54:00:ab:cd:ef"`},
		{"duplicate in other case", "POST", "/v1/ports", `{"address":"52:54:00:AB:CD:EF","node_uuid":"` + sampleUUID + `"}`, nil, 409, "A port with MAC address 52:54:00:ab:cd:ef already exists."},
		{"dash separators", "POST", "/v1/ports", `{"address":"52-54-00-ab-cd-e0","node_uuid":"` + sampleUUID + `"}`, nil, 400, "Expected valid MAC address for address: 52-54-00-ab-cd-e0"},
		{"unknown node", "POST", "/v1/ports", `{"address":"52:54:00:ab:cd:e1","node_uuid":"11111111-1111-1111-1111-111111111111"}`, nil, 400, "Node 11111111-1111-1111-1111-111111111111 could not be found."},
		{"node_uuid missing", "POST", "/v1/ports", `{"address":"52:54:00:ab:cd:e1"}`, v182, 400, "'node_uuid' is a required property"},
		{"node_uuid missing past 1.82", "POST", "/v1/ports", `{"address":"52:54:00:ab:cd:e1"}`, nil, 400, "'node_ident' is a required property"},
		{"smartnic before 1.53", "POST", "/v1/ports", `{"address":"52:54:00:ab:cd:e1","node_uuid":"` + sampleUUID + `","is_smartnic":true}`, ver("1.52"), 406, ""},
		{"local link", "POST", "/v1/ports", `{"address":"52:54:00:ab:cd:e2","node_uuid":"` + sampleUUID + `","local_link_connection":{"port_id":"Gig0/1","switch_id":"AA:BB:CC:DD:EE:FF"}}`, nil, 201, `"switch_id": "aa:bb:cc:dd:ee:ff"`}, // stored JSON as jsonb writes it
		{"bad local link", "POST", "/v1/ports", `{"address":"52:54:00:ab:cd:e3","node_uuid":"` + sampleUUID + `","local_link_connection":{"port_id":"x"}}`, nil, 400, "is not valid under any of the given schemas"},
		{"list by node", "GET", "/v1/ports?node=sample-node", "", nil, 200, portUUID},
		{"list by address", "GET", "/v1/ports?address=52:54:00:12:34:56&fields=uuid", "", nil, 200, `{"ports":[{"uuid":"` + portUUID + `","links"`},
		{"get", "GET", "/v1/ports/" + portUUID, "", nil, 200, `"pxe_enabled":true`},
		{"get by non-uuid", "GET", "/v1/ports/nope", "", v182, 400, "Expected UUID for port_uuid: nope"},
		{"get by name past 1.82", "GET", "/v1/ports/nope", "", nil, 404, "Port nope could not be found."},
		{"patch bad MAC", "PATCH", "/v1/ports/" + portUUID, `[{"op":"replace","path":"/address","value":"zz"}]`, nil, 400, "Expected valid MAC address for address: zz"},
		{"patch dup MAC", "PATCH", "/v1/ports/" + portUUID, `[{"op":"replace","path":"/address","value":"52:54:00:ab:cd:ef"}]`, nil, 409, "already exists"},
		{"patch read-only", "PATCH", "/v1/ports/" + portUUID, `[{"op":"replace","path":"/uuid","value":"x"}]`, nil, 400, "Cannot patch /uuid."},
		{"patch pxe", "PATCH", "/v1/ports/" + portUUID, `[{"op":"replace","path":"/pxe_enabled","value":false},{"op":"add","path":"/extra/k","value":"v"}]`, nil, 200, `"extra":{"k": "v"}`},
		{"delete", "DELETE", "/v1/ports/" + portUUID, "", nil, 204, ""},
		{"deleted", "GET", "/v1/ports/" + portUUID, "", nil, 404, "Port " + portUUID + " could not be found."},
	})
}

func TestChassisAndTraits(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	const ch = "22222222-2222-2222-2222-222222222222"
	u := "/v1/nodes/" + sampleUUID
	runSteps(t, e, []step{
		{"create chassis", "POST", "/v1/chassis", `{"uuid":"` + ch + `","description":"rack 1"}`, nil, 201, `"nodes":[{"href":"http://127.0.0.1:6385/v1/chassis/` + ch + `/nodes"`},
		{"list chassis", "GET", "/v1/chassis", "", nil, 200, `{"chassis":[{"uuid":"` + ch + `","description":"rack 1","links"`},
		{"attach node", "PATCH", u, `[{"op":"add","path":"/chassis_uuid","value":"` + ch + `"}]`, nil, 200, `"chassis_uuid":"` + ch + `"`},
		{"chassis nodes", "GET", "/v1/chassis/" + ch + "/nodes", "", nil, 200, sampleUUID},
		{"chassis in use", "DELETE", "/v1/chassis/" + ch, "", nil, 400, "contains nodes"},
		{"patch chassis", "PATCH", "/v1/chassis/" + ch, `[{"op":"replace","path":"/description","value":"rack 2"}]`, nil, 200, `"description":"rack 2"`},
		{"bad chassis id", "GET", "/v1/chassis/nope", "", nil, 400, "Expected UUID for chassis_uuid: nope"},
		{"add trait", "PUT", u + "/traits/CUSTOM_GPU", "", nil, 204, ""},
		{"bad trait", "PUT", u + "/traits/gpu", "", nil, 400, "is not valid under any of the given schemas"},
		{"set traits", "PUT", u + "/traits", `{"traits":["CUSTOM_B","CUSTOM_A"]}`, nil, 204, ""},
		{"get traits", "GET", u + "/traits", "", nil, 200, `{"traits":["CUSTOM_A","CUSTOM_B"]}`},
		{"remove missing trait", "DELETE", u + "/traits/CUSTOM_C", "", nil, 404, "doesn't have a trait 'CUSTOM_C'"},
		{"remove trait", "DELETE", u + "/traits/CUSTOM_A", "", nil, 204, ""},
		{"node shows traits", "GET", u + "?fields=traits", "", nil, 200, `"traits":["CUSTOM_B"]`},
	})
}

func TestVendorPassthru(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	e.wf.result = func(string, any) (any, error) {
		return contract.PassthruResult{Return: json.RawMessage(`{"answer":42}`)}, nil
	}
	u := "/v1/nodes/" + sampleUUID + "/vendor_passthru"
	runSteps(t, e, []step{
		{"sync", "POST", u + "?method=third_method_sync", `{"bar":"meow"}`, nil, 200, `{"answer":42}`},
		{"wrong HTTP method", "GET", u + "?method=third_method_sync", "", nil, 400, "The method third_method_sync does not support HTTP GET"},
		{"no method", "POST", u, `{}`, nil, 400, "Missing mandatory parameter: method"},
		{"shared-lock async", "POST", u + "?method=fourth_method_shared_lock", `{}`, nil, 202, ""},
		{"unknown driver methods", "GET", "/v1/drivers/nope/vendor_passthru/methods", "", nil, 404, "Could not find the following driver(s) or hardware type(s): nope."},
	})
	if id := e.wf.last().opts.ID; !strings.Contains(id, "/read/") {
		t.Errorf("shared-lock method ran under the node lock: %s", id)
	}
	e.wf.running[contract.WorkflowID(sampleUUID)] = true
	runSteps(t, e, []step{{"exclusive while locked", "POST", u + "?method=second_method", `{}`, nil, 409, "is locked by host"}})
}

func TestDriversAndConductors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runSteps(t, e, []step{
		{"detail", "GET", "/v1/drivers?detail=true", "", nil, 200, `"default_power_interface":"ipmitool"`},
		{"classic", "GET", "/v1/drivers?type=classic", "", nil, 200, `{"drivers":[]}`},
		{"bad type", "GET", "/v1/drivers?type=x", "", nil, 400, `"type" filter must be one of`},
		{"detail before 1.30", "GET", "/v1/drivers?detail=true", "", ver("1.29"), 406, "should be 1.30"},
		{"fields", "GET", "/v1/drivers/ipmi?fields=name,default_power_interface", "", nil, 200, `{"name":"ipmi","links":[`},
		{"fields before 1.77", "GET", "/v1/drivers?fields=name", "", ver("1.76"), 406, ""},
		{"unknown", "GET", "/v1/drivers/nope", "", nil, 404, "Could not find the following driver(s) or hardware type(s): nope."},
		{"old driver has no type", "GET", "/v1/drivers/ipmi", "", ver("1.29"), 200, `"properties":[`},
		{"conductor", "GET", "/v1/conductors/localhost", "", nil, 200, `"drivers":["fake-hardware","ipmi","redfish"]`},
		{"no such conductor", "GET", "/v1/conductors/other", "", nil, 404, "Conductor other could not be found."},
		{"shards", "GET", "/v1/shards", "", nil, 200, `{"shards":[]}`},
	})
}

func TestErrorsNeverLeakInternals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.Store = failingStore{Store: e.st}
	e.app = e.srv.App()
	resp, body := e.do(t, "GET", "/v1/nodes", "", latest)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if strings.Contains(body, "pq:") || !strings.Contains(body, `\"faultcode\": \"Server\"`) {
		t.Errorf("500 body = %s", body)
	}
	if msg := faultString(t, body); msg != "An unknown exception occurred." {
		t.Errorf("faultstring %q", msg)
	}
	resp, _ = e.do(t, "PUT", "/v1/nodes", "", latest)
	if resp.StatusCode != 405 {
		t.Errorf("PUT /v1/nodes = %d, want 405", resp.StatusCode)
	}
}

type failingStore struct{ Store }

func (failingStore) ListNodes(context.Context, store.ListNodes) ([]store.Node, error) {
	return nil, errors.New("pq: connection refused to 10.1.2.3")
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	// fasthttp enforces the limit while reading, so this needs a socket.
	e := newEnv(t)
	e.srv.BodyLimit = 1024
	app := e.srv.App()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown(); <-done })
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/nodes",
		strings.NewReader(`{"driver":"fake-hardware","extra":{"x":"`+strings.Repeat("a", 2048)+`"}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(string(body), `{"error_message"`) {
		t.Errorf("oversized body = %d %s", resp.StatusCode, body)
	}
	if e.nodeCount() != 0 {
		t.Error("oversized create stored a node")
	}
}

func TestMaskRaw(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"ipmi_password": "x", "a": 1}`, `{"ipmi_password":"******","a":1}`},
		{`{"a": {"b": {"secret_key": [1, {"x": "}"}]}}, "token": null}`, `{"a":{"b":{"secret_key":"******"}},"token":"******"}`},
		{`{"str": "has \"quotes\" and {braces} and password", "n": -1.5e3, "t": true}`, `{"str":"has \"quotes\" and {braces} and password","n":-1.5e3,"t":true}`},
		{`{"pass\u0077ord": "x"}`, `{"pass\u0077ord":"******"}`},
		{`{"list": [{"password": "in a list"}], "ssh_key_contents": "K"}`, `{"list":[{"password":"******"}],"ssh_key_contents":"******"}`},
		{`{"a": [ [ {"token": 1} ], "x", 2, {"b": {"secret": "s"}}, [], {} ], "n": []}`, `{"a":[[{"token":"******"}],"x",2,{"b":{"secret":"******"}},[],{}],"n":[]}`},
		{`{"passwords": [{"user": "u"}, "p"]}`, `{"passwords":"******"}`},
		{`{"a": ["}", "]", {"k": "[{"}]}`, `{"a": ["}", "]", {"k": "[{"}]}`}, // nothing secret-looking: as stored
		{`{"pw": [" ] ", {"k": "[{"}], "token": 1}`, `{"pw":[" ] ",{"k":"[{"}],"token":"******"}`},
	}
	for _, tt := range tests {
		if got := string(appendMasked(nil, []byte(tt.in), false)); got != tt.want {
			t.Errorf("mask %s = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{`{"configdrive": "", "image_url": "http://x?temp_url_sig=1", "image_source": "http://y"}`,
			`{"configdrive":"******","image_url":"******","image_source":"http://y"}`},
		// Ironic hides a configdrive object (meta_data, user_data) whole.
		{`{"configdrive": {"user_data": "#!/bin/sh\necho s3cret"}, "image_url": {}}`, `{"configdrive":"******","image_url":{}}`},
		{`{"configdrive": ["x"], "nested": {"configdrive": "c"}}`, `{"configdrive":"******","nested":{"configdrive":"******"}}`},
	} {
		if got := string(appendMasked(nil, []byte(tt.in), true)); got != tt.want {
			t.Errorf("instance_info mask %s = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestHostileBodies(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	runSteps(t, e, []step{
		{"deep nesting", "POST", "/v1/nodes", `{"driver":"fake-hardware","extra":{"a":` + deep + `}}`, nil, 400, "exceeded max depth"},
		{"deep patch", "PATCH", "/v1/nodes/" + sampleUUID, deep, nil, 400, "exceeded max depth"},
		{"trailing data", "POST", "/v1/nodes", `{"driver":"fake-hardware"} {}`, nil, 400, "Extra data"},
		{"number where a list is due", "PUT", "/v1/nodes/" + sampleUUID + "/states/provision", `{"target":"clean","clean_steps":5}`, nil, 400, "Expected types"},
		{"array body for power", "PUT", "/v1/nodes/" + sampleUUID + "/states/power", `["power on"]`, nil, 400, "expected a JSON object"},
	})
}

func TestVendorPassthruPathForm(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	e.wf.result = func(string, any) (any, error) { return contract.PassthruResult{Return: json.RawMessage(`"ok"`)}, nil }
	runSteps(t, e, []step{
		{"method in path", "POST", "/v1/nodes/sample-node/vendor_passthru/third_method_sync", `{"bar":"meow"}`, nil, 200, `"ok"`},
		{"methods listing still wins", "GET", "/v1/nodes/sample-node/vendor_passthru/methods", "", nil, 200, `"second_method"`},
		{"driver method in path", "POST", "/v1/drivers/fake-hardware/vendor_passthru/x", `{}`, nil, 400, "No handler for method x"},
	})
}

func TestSyncTimeout(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	e.srv.SyncTimeout = 20 * time.Millisecond
	e.app = e.srv.App()
	e.wf.result = func(string, any) (any, error) {
		time.Sleep(50 * time.Millisecond)
		return nil, errors.New("rpc error: code = DeadlineExceeded")
	}
	runSteps(t, e, []step{{"slow BMC", "GET", "/v1/nodes/" + sampleUUID + "/management/boot_device", "", nil, 503, "Timed out waiting for read-management"}})
}

func TestNodeInventory(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	u := "/v1/nodes/" + sampleUUID + "/inventory"
	resp, body := e.do(t, "GET", u, "", ver("1.81"))
	if resp.StatusCode != 404 || !strings.Contains(faultString(t, body), "Node inventory for node "+sampleUUID+" could not be found.") {
		t.Fatalf("before inspection: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, "GET", u, "", ver("1.80")); resp.StatusCode != 404 {
		t.Errorf("at 1.80: %d", resp.StatusCode)
	}
	inv := `{"cpu": {"count":2},  "interfaces":[{"mac_address":"52:54:00:00:00:01"}]}`
	if err := e.st.SetInventory(context.Background(), store.Inventory{NodeUUID: sampleUUID, Inventory: []byte(inv),
		PluginData: []byte(`{"pci_devices":[]}`), Source: "agent"}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.do(t, "GET", u, "", ver("1.81"))
	if resp.StatusCode != 200 || body != `{"inventory":`+inv+`,"plugin_data":{"pci_devices":[]}}` {
		t.Fatalf("after inspection: %d %s", resp.StatusCode, body)
	}
}
