package api

import (
	"testing"

	"github.com/ferric-project/ferric/store"
)

// TestFieldsValidation: malformed values of the fields of issue 15's part
// "fields" get Ironic's 4xx, never a 5xx, and change nothing.
func TestFieldsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedFamily(nil)(e)
	seedDPO(e)
	e.putPort(fieldsPort1())
	v := func(minor string) map[string]string { return map[string]string{hdrVersion: "1." + minor} }
	child := "/v1/nodes/" + fieldsChildUUID
	parentRefused := "Unable to apply the requested parent_node"
	runSteps(t, e, []step{
		// parent_node.
		{"parent true", "PATCH", child, `[{"op":"add","path":"/parent_node","value":true}]`, nil, 400,
			"Unable to apply the requested parent_node 'True'"},
		{"parent object", "PATCH", child, `[{"op":"add","path":"/parent_node","value":{"a":1}}]`, nil, 400, parentRefused},
		{"parent empty", "PATCH", child, `[{"op":"add","path":"/parent_node","value":""}]`, nil, 400, parentRefused},
		{"parent bad name", "PATCH", child, `[{"op":"add","path":"/parent_node","value":"no such\u0001"}]`, nil, 400, parentRefused},
		{"parent list on create", "POST", "/v1/nodes", `{"driver":"fake-hardware","parent_node":["x"]}`, nil, 400,
			"is not of type 'string', 'null'"},
		{"parent 1.82 set", "PATCH", child, `[{"op":"add","path":"/parent_node","value":"fields-parent"}]`, v("82"), 406, ""},
		{"parent of another owner", "POST", "/v1/nodes",
			`{"driver":"fake-hardware","owner":"p1","parent_node":"fields-parent"}`, nil, 400, parentRefused},
		// Lists and children.
		{"include_children number", "GET", "/v1/nodes?include_children=2", "", nil, 400, "Invalid include_children"},
		{"parent_node empty", "GET", "/v1/nodes?parent_node=", "", nil, 200, `{"nodes":[]}`},
		{"children 1.82", "GET", "/v1/nodes/fields-parent/children", "", v("82"), 404, ""},
		{"children with arguments", "GET", "/v1/nodes/fields-parent/children?detail=true", "", nil, 400,
			"Unexpected arguments: detail"},
		{"children of a bad ident", "GET", "/v1/nodes/bad%20name/children", "", nil, 400, "Expected UUID or name"},
		// disable_power_off.
		{"dpo list", "PATCH", "/v1/nodes/" + fieldsDPOUUID, `[{"op":"add","path":"/disable_power_off","value":[]}]`, nil, 400,
			"is not of type 'string', 'boolean', 'null'"},
		{"dpo off", "PUT", "/v1/nodes/" + fieldsDPOUUID + "/states/power", `{"target":"power off"}`, v("1"), 409,
			"Failed to set node power state to power off."},
		// Port names and idents.
		{"port name object", "POST", "/v1/ports",
			`{"address":"52:54:00:f1:00:09","node_uuid":"` + fieldsParentUUID + `","name":{}}`, nil, 400, "is not of type"},
		{"port name 1.87", "POST", "/v1/ports",
			`{"address":"52:54:00:f1:00:09","node_uuid":"` + fieldsParentUUID + `","name":"x"}`, v("87"), 406, ""},
		{"port get bad ident", "GET", "/v1/ports/a%20b", "", nil, 400, "Expected UUID or name for port_ident: a b"},
		{"port get bad ident 1.82", "GET", "/v1/ports/a%20b", "", v("82"), 400, "Expected UUID for port_uuid: a b"},
		{"port delete by name", "DELETE", "/v1/ports/fields-port1", "", nil, 400, "Expected UUID for port_uuid"},
		{"node_ident number", "POST", "/v1/ports", `{"address":"52:54:00:f1:00:09","node_ident":5}`, nil, 400,
			"5 is not of type 'string'"},
		{"node_ident 1.82", "POST", "/v1/ports", `{"address":"52:54:00:f1:00:09","node_ident":"fields-parent"}`, v("82"), 400,
			"Schema error for port"},
		// local_link_connection.
		{"vtep 1.82", "POST", "/v1/ports", `{"address":"52:54:00:f1:00:09","node_uuid":"` + fieldsParentUUID +
			`","local_link_connection":{"port_id":"p","vtep-logical-switch":"l","vtep-physical-switch":"p"}}`, v("82"), 400,
			"is not valid under any of the given schemas"},
		{"vtep half", "POST", "/v1/ports", `{"address":"52:54:00:f1:00:09","node_uuid":"` + fieldsParentUUID +
			`","local_link_connection":{"port_id":"p","vtep-physical-switch":"p"}}`, nil, 400,
			"is not valid under any of the given schemas"},
		{"vtep not a string", "POST", "/v1/ports", `{"address":"52:54:00:f1:00:09","node_uuid":"` + fieldsParentUUID +
			`","local_link_connection":{"port_id":"p","vtep-logical-switch":[],"vtep-physical-switch":"p"}}`, nil, 400,
			"is not valid under any of the given schemas"},
		{"no partial write", "GET", "/v1/ports?address=52:54:00:f1:00:09", "", nil, 200, `{"ports":[]}`},
	})
	if got := e.wf.starts; len(got) != 0 {
		t.Errorf("workflows started: %v", got)
	}
	n, err := e.st.Node(t.Context(), fieldsChildUUID)
	if err != nil || n.ParentNode == nil || *n.ParentNode != fieldsParentUUID {
		t.Errorf("child's parent_node = %v, %v; want the parent unchanged", n.ParentNode, err)
	}
}

// TestChildNodesStore: ListNodes leaves children out unless asked for.
func TestChildNodesStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedFamily(nil)(e)
	for _, tt := range []struct {
		name string
		q    store.ListNodes
		want []string
	}{
		{"default", store.ListNodes{}, []string{fieldsParentUUID}},
		{"children of the parent", store.ListNodes{ParentNode: fieldsParentUUID}, []string{fieldsChildUUID}},
		{"children of the child", store.ListNodes{ParentNode: fieldsChildUUID}, nil},
		{"all", store.ListNodes{IncludeChildren: true, ParentNode: fieldsChildUUID}, []string{fieldsParentUUID, fieldsChildUUID}},
	} {
		nodes, err := e.st.ListNodes(t.Context(), tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range nodes {
			got = append(got, n.UUID)
		}
		if len(got) != len(tt.want) || (len(got) > 0 && (got[0] != tt.want[0] || got[len(got)-1] != tt.want[len(tt.want)-1])) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
