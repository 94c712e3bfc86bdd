package api

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestServiceAndUnhold covers the service and unhold verbs' answers and
// what they start or signal, and refusals of malformed requests (4xx,
// never 5xx, nothing started).
func TestServiceAndUnhold(t *testing.T) {
	t.Parallel()
	u := "/v1/nodes/" + sampleUUID + "/states/provision"
	log := `{"interface":"vendor","step":"log_passthrough"}`
	tests := []struct {
		name    string
		state   node.ProvisionState
		running bool
		version string
		body    string
		status  int
		wantIn  string
		start   string // workflow started
		signal  string // signal sent
	}{
		{"service from active", node.Active, false, "1.87", `{"target":"service","service_steps":[` + log + `]}`,
			202, "", contract.ServiceName, ""},
		{"service from service failed", node.ServiceFail, false, "1.87",
			`{"target":"service","service_steps":[` + log + `]}`, 202, "", contract.ServiceName, ""},
		{"service below 1.87", node.Active, false, "1.86", `{"target":"service","service_steps":[` + log + `]}`,
			406, "", "", ""},
		{"service while servicing", node.ServiceState, true, "1.87",
			`{"target":"service","service_steps":[` + log + `]}`, 409, "locked", "", ""},
		{"service from available", node.Available, false, "1.87",
			`{"target":"service","service_steps":[` + log + `]}`, 400, "can not be performed", "", ""},
		{"service steps not a list", node.Active, false, "1.87", `{"target":"service","service_steps":"x"}`,
			400, "for service_steps", "", ""},
		{"service step not an object", node.Active, false, "1.87", `{"target":"service","service_steps":[1]}`,
			400, "is not of type 'object'", "", ""},
		{"service step without step", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"vendor"}]}`, 400, "'step' is a required property", "", ""},
		{"service step empty name", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"vendor","step":""}]}`, 400, "non-empty", "", ""},
		{"service step bad order", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"vendor","step":"x","order":"-1"}]}`, 400,
			"is not valid under any of the given schemas", "", ""},
		{"service step bad child flag", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"vendor","step":"x","execute_on_child_nodes":"y"}]}`,
			400, "is not of type 'boolean'", "", ""},
		{"service step args not an object", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"vendor","step":"x","args":[]}]}`, 400,
			"is not of type 'object'", "", ""},
		{"runbook not a string", node.Active, false, "1.92", `{"target":"service","runbook":5}`, 400, "", "", ""},
		{"runbook bad ident", node.Active, false, "1.92", `{"target":"service","runbook":"a b"}`, 400,
			"Expected a logical name or UUID", "", ""},
		{"body not an object", node.Active, false, "1.87", `[1]`, 400, "", "", ""},
		{"unhold from clean hold", node.CleanHold, true, "1.85", `{"target":"unhold"}`, 202, "", "",
			contract.SignalUnhold},
		{"unhold from service hold", node.ServiceHold, true, "1.87", `{"target":"unhold"}`, 202, "", "",
			contract.SignalUnhold},
		{"unhold below 1.85", node.CleanHold, true, "1.84", `{"target":"unhold"}`, 406, "", "", ""},
		{"unhold with no operation held", node.CleanHold, false, "1.85", `{"target":"unhold"}`, 400,
			"can not be performed", "", ""},
		{"unhold while cleaning", node.Cleaning, true, "1.85", `{"target":"unhold"}`, 409, "locked", "", ""},
		{"abort from service wait", node.ServiceWait, true, "1.87", `{"target":"abort"}`, 202, "", "",
			contract.SignalAbort},
		{"abort from service hold", node.ServiceHold, true, "1.87", `{"target":"abort"}`, 202, "", "",
			contract.SignalAbort},
		{"abort from clean hold", node.CleanHold, true, "1.85", `{"target":"abort"}`, 202, "", "",
			contract.SignalAbort},
		{"hold clean step at 1.85", node.Manageable, false, "1.85",
			`{"target":"clean","clean_steps":[{"interface":"deploy","step":"hold"}]}`, 202, "", contract.CleanName, ""},
		{"hold deploy step at 1.85", node.Available, false, "1.85",
			`{"target":"active","deploy_steps":[{"interface":"deploy","step":"hold","priority":50,"args":{}}]}`, 202, "",
			contract.DeployName, ""},
		{"hold deploy step below 1.83", node.Available, false, "1.82",
			`{"target":"active","deploy_steps":[{"interface":"deploy","step":"hold","priority":50,"args":{}}]}`, 400,
			"node does not support this deploy step", "", ""},
		{"unhold from deploy hold", node.DeployHold, true, "1.85", `{"target":"unhold"}`, 202, "", "",
			contract.SignalUnhold},
		{"hold clean step below 1.83", node.Manageable, false, "1.82",
			`{"target":"clean","clean_steps":[{"interface":"deploy","step":"hold"}]}`, 400,
			"node does not support this clean step", "", ""},
		// The other flow steps Ironic 29's conductor runs itself (power_on,
		// power_off, reboot, wait), under any interface.
		{"flow clean steps at 1.85", node.Manageable, false, "1.85",
			`{"target":"clean","clean_steps":[{"interface":"power","step":"power_off"},` +
				`{"interface":"deploy","step":"wait","args":{"seconds":5}},{"interface":"raid","step":"power_on"}]}`,
			202, "", contract.CleanName, ""},
		{"reboot clean step below 1.83", node.Manageable, false, "1.82",
			`{"target":"clean","clean_steps":[{"interface":"deploy","step":"reboot"}]}`, 400,
			"node does not support this clean step", "", ""},
		{"reboot deploy step at 1.85", node.Available, false, "1.85",
			`{"target":"active","deploy_steps":[{"interface":"deploy","step":"reboot","priority":50,"args":{}}]}`, 202, "",
			contract.DeployName, ""},
		{"reboot service step", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"deploy","step":"reboot"}]}`, 202, "",
			contract.ServiceName, ""},
		{"flow service step under an interface the schema lacks", node.Active, false, "1.87",
			`{"target":"service","service_steps":[{"interface":"rescue","step":"reboot"}]}`, 400,
			"Invalid service_steps: 'rescue' is not one of", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = tt.state })
			if tt.running {
				e.wf.running[contract.WorkflowID(sampleUUID)] = true
			}
			runSteps(t, e, []step{{tt.name, "PUT", u, tt.body, ver(tt.version), tt.status, tt.wantIn}})
			if got := e.wf.last(); got.name != tt.start {
				t.Errorf("started %q, want %q", got.name, tt.start)
			}
			wantSignals := []string{}
			if tt.signal != "" {
				wantSignals = []string{contract.WorkflowID(sampleUUID) + " " + tt.signal}
			}
			if got := append([]string{}, e.wf.signals...); !slices.Equal(got, wantSignals) {
				t.Errorf("signals %q, want %q", got, wantSignals)
			}
		})
	}
}

// TestRunbookRequests covers the runbook endpoints' refusals: every
// malformed request is a 4xx with Ironic's error shape.
func TestRunbookRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedSvcRunbook(nil)(e)
	v := ver("1.92")
	rb := "/v1/runbooks/" + svcRunbookUUID
	st := `{"interface":"vendor","step":"log_passthrough","order":1}`
	runSteps(t, e, []step{
		{"empty body", "POST", "/v1/runbooks", ``, v, 400, "Missing mandatory parameter: runbook"},
		{"not an object", "POST", "/v1/runbooks", `[1]`, v, 400, "Schema error for runbook"},
		{"not JSON", "POST", "/v1/runbooks", `{"name":`, v, 400, ""},
		{"no name", "POST", "/v1/runbooks", `{"steps":[` + st + `]}`, v, 400, "'name' is a required property"},
		{"empty steps", "POST", "/v1/runbooks", `{"name":"CUSTOM_X","steps":[]}`, v, 400, "Schema error"},
		{"bad interface", "POST", "/v1/runbooks",
			`{"name":"CUSTOM_X","steps":[{"interface":"boot","step":"x","order":1}]}`, v, 400, "is not one of"},
		{"bad order", "POST", "/v1/runbooks",
			`{"name":"CUSTOM_X","steps":[{"interface":"vendor","step":"x","order":-1}]}`, v, 400, "Schema error"},
		{"unknown member", "POST", "/v1/runbooks", `{"name":"CUSTOM_X","steps":[` + st + `],"x":1}`, v, 400,
			"Additional properties are not allowed"},
		{"bad uuid", "POST", "/v1/runbooks", `{"uuid":"nope","name":"CUSTOM_X","steps":[` + st + `]}`, v, 400, ""},
		{"duplicate steps", "POST", "/v1/runbooks", `{"name":"CUSTOM_X","steps":[` + st + `,` + st + `]}`, v, 400,
			"Duplicate deploy steps"},
		{"public not a boolean", "POST", "/v1/runbooks", `{"name":"CUSTOM_X","public":"y","steps":[` + st + `]}`,
			v, 400, "Schema error"},
		{"sort by steps", "GET", "/v1/runbooks?sort_key=steps", "", v, 400, "invalid field for sorting"},
		{"bad limit", "GET", "/v1/runbooks?limit=-1", "", v, 400, ""},
		{"unknown marker", "GET", "/v1/runbooks?marker=" + sampleUUID, "", v, 404, "could not be found"},
		{"bad field", "GET", "/v1/runbooks?fields=nope", "", v, 400, ""},
		{"bad ident", "GET", "/v1/runbooks/a%20b", "", v, 400, "Expected a logical name or UUID"},
		{"patch not a list", "PATCH", rb, `{}`, v, 400, ""},
		{"patch unknown op", "PATCH", rb, `[{"op":"move","path":"/extra"}]`, v, 400, ""},
		{"patch bad steps", "PATCH", rb, `[{"op":"replace","path":"/steps","value":[{"step":"x"}]}]`, v, 400, ""},
		{"patch bad name", "PATCH", rb, `[{"op":"replace","path":"/name","value":"lower"}]`, v, 400, "Schema error"},
		{"owner on a public runbook", "PATCH", rb,
			`[{"op":"replace","path":"/owner","value":"p"},{"op":"replace","path":"/public","value":true}]`, v, 400,
			"There cannot be an owner for a public runbook"},
		{"delete without ident", "DELETE", "/v1/runbooks", "", v, 400, ""},
		{"delete unknown", "DELETE", "/v1/runbooks/CUSTOM_NONE", "", v, 404, "Runbook CUSTOM_NONE could not be found."},
		{"below 1.92", "DELETE", rb, "", ver("1.91"), 405, ""},
		{"set the owner", "PATCH", rb, `[{"op":"add","path":"/owner","value":"proj"}]`, v, 200, `"owner":"proj"`},
		{"delete", "DELETE", rb, "", v, 204, ""},
		{"gone", "GET", rb, "", v, 404, ""},
	})
}

// TestCleanRunbook: a runbook's steps (in their order) become the
// operation's clean steps; the node must carry the runbook's name.
func TestCleanRunbook(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) {
		n.ProvisionState, n.Traits = node.Manageable, []string{"CUSTOM_SVC_RB"}
	})
	seedSvcRunbook(func(r *store.Runbook) {
		r.Steps = json.RawMessage(`[{"interface":"deploy","step":"erase_devices","args":{},"order":"2"},` +
			`{"interface":"deploy","step":"erase_devices_metadata","args":{},"order":1}]`)
	})(e)
	u := "/v1/nodes/" + sampleUUID + "/states/provision"
	runSteps(t, e, []step{{"clean by runbook", "PUT", u, `{"target":"clean","runbook":"CUSTOM_SVC_RB"}`, ver("1.92"),
		202, ""}})
	got := e.wf.last()
	in, _ := got.input.(contract.ProvisionInput)
	if got.name != contract.CleanName || in.OperationID == "" {
		t.Fatalf("started %q %+v", got.name, got.input)
	}
	op, err := e.st.Operation(t.Context(), in.OperationID)
	if err != nil || !jsonEqual(t, op.CleanSteps, `[{"interface":"deploy","step":"erase_devices_metadata","args":{}},`+
		`{"interface":"deploy","step":"erase_devices","args":{}}]`) {
		t.Errorf("clean steps %s (%v)", op.CleanSteps, err)
	}
}

// TestV1ListsRunbooks: the v1 document links runbooks from 1.92, as Ironic
// 29's does.
func TestV1ListsRunbooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		version string
		want    bool
	}{{"1.91", false}, {"1.92", true}} {
		_, body := e.do(t, "GET", "/v1", "", ver(tt.version))
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		if _, got := doc["runbooks"]; got != tt.want {
			t.Errorf("%s: runbooks listed %v, want %v", tt.version, got, tt.want)
		}
	}
}
