package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/store"
)

// TestInspectionRuleValidation: every refusal of a rule body is a 400 with
// Ironic's message, and stores nothing.
func TestInspectionRuleValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hdr := map[string]string{hdrVersion: "1.96"}
	log := `"actions":[{"op":"log","args":{"msg":"x"}}]`
	tests := []struct{ name, body, want string }{
		{"not json", `{`, "Invalid JSON in request body"},
		{"string", `"x"`, "Schema error for inspection_rule: 'x' is not of type 'object'"},
		{"no actions", `{"description":"d"}`, "'actions' is a required property"},
		{"actions empty", `{"actions":[]}`, "[] is too short"},
		{"action not object", `{"actions":[1]}`, "1 is not of type 'object'"},
		{"action op unknown", `{"actions":[{"op":"nope","args":[]}]}`, "'nope' is not one of ['fail', 'set-attribute'"},
		{"action op missing", `{"actions":[{"args":[]}]}`, "'op' is a required property"},
		{"action args type", `{"actions":[{"op":"log","args":1}]}`, "1 is not of type 'array', 'object'"},
		{"action loop type", `{"actions":[{"op":"log","args":["x"],"loop":"abc"}]}`, "'abc' is not of type 'array', 'object'"},
		{"action args missing", `{"actions":[{"op":"fail","args":{}}]}`, "missing required argument(s): msg"},
		{"action args unexpected", `{"actions":[{"op":"fail","args":{"msg":"x","y":1}}]}`, "unexpected argument(s): y"},
		{"action args short", `{"actions":[{"op":"set-port-attribute","args":["p"]}]}`,
			"Not enough arguments provided. Missing: path, value"},
		{"condition op", `{` + log + `,"conditions":[{"op":"!!eq","args":[[1]]}]}`, "'!!eq' is not one of ['eq'"},
		{"condition multiple", `{` + log + `,"conditions":[{"op":"eq","args":[[1]],"multiple":1}]}`,
			"1 is not one of ['any', 'all', 'first', 'last']"},
		{"condition args", `{` + log + `,"conditions":[{"op":"matches","args":{"value":"x"}}]}`,
			"missing required argument(s): regex"},
		{"condition not list", `{` + log + `,"conditions":"x"}`, "'x' is not of type 'array'"},
		{"priority float", `{` + log + `,"priority":1.5}`, "1.5 is not of type 'integer'"},
		{"priority negative", `{` + log + `,"priority":-1}`, "-1 is less than the minimum of 0"},
		{"priority big", `{` + log + `,"priority":123456789012345678901234567890}`,
			"Priority must be between 0 and 9999 for user-defined rules."},
		{"phase", `{` + log + `,"phase":"x"}`, "Invalid phase: x. Valid phases are: main"},
		{"phase type", `{` + log + `,"phase":1}`, "1 is not of type 'string', 'null'"},
		{"phase and priority", `{` + log + `,"phase":"x","priority":10000}`,
			"Multiple validation errors occurred: Invalid phase: x. Valid phases are: main; Priority must be"},
		{"description long", `{` + log + `,"description":"` + strings.Repeat("d", 256) + `"}`, "is too long"},
		{"sensitive", `{` + log + `,"sensitive":1}`, "1 is not of type 'boolean', 'null'"},
		{"uuid", `{` + log + `,"uuid":"x"}`, "Expected UUID for uuid: x"},
		{"unknown member", `{` + log + `,"scope":"x"}`, "Additional properties are not allowed ('scope' was unexpected)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, "POST", "/v1/inspection_rules", tt.body, hdr)
			if resp.StatusCode != 400 || !strings.Contains(body, tt.want) || !strings.Contains(body, `\"Client\"`) {
				t.Errorf("status %d body %s, want 400 with %q", resp.StatusCode, body, tt.want)
			}
		})
	}
	if list := must(e.st.ListInspectionRules(context.Background(), store.ListInspectionRules{}))(t); len(list) != 0 {
		t.Errorf("refused bodies stored %d rules", len(list))
	}
	// A rule without conditions is stored with none, and answered as Ironic
	// shows it afterwards (Ironic's create answers 500 there).
	resp, body := e.do(t, "POST", "/v1/inspection_rules", `{`+log+`}`, hdr)
	if resp.StatusCode != 201 || !strings.Contains(body, `"conditions":[]`) {
		t.Errorf("create without conditions: %d %s", resp.StatusCode, body)
	}
}

// TestInspectionRuleSensitivePatch: a sensitive rule's flag can be neither
// unset nor removed (Ironic 29 lets a removal through, which shows the
// rule's conditions and actions).
func TestInspectionRuleSensitivePatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedRules(ruleState{cpuDesc: "d", cpuPrio: 1, cpuExtra: 1, secretPrio: 10})(e)
	hdr := map[string]string{hdrVersion: "1.96"}
	for _, p := range []string{`[{"op":"remove","path":"/sensitive"}]`,
		`[{"op":"replace","path":"/sensitive","value":false}]`, `[{"op":"add","path":"/sensitive","value":0}]`} {
		resp, body := e.do(t, "PATCH", "/v1/inspection_rules/"+ruleSecret, p, hdr)
		if resp.StatusCode != 400 || !strings.Contains(body, "cannot have the sensitive flag unset") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	r := must(e.st.InspectionRule(context.Background(), ruleSecret))(t)
	if !r.Sensitive || r.UpdatedAt != nil {
		t.Errorf("rule changed: %+v", r)
	}
}

// FuzzInspectionRule sends arbitrary rule bodies (POST) and patches
// (PATCH of a stored rule) at an arbitrary microversion: never a 5xx, an
// Ironic-shaped answer, and a refused request changes nothing.
func FuzzInspectionRule(f *testing.F) {
	for _, s := range []string{
		`{"actions":[{"op":"log","args":{"msg":"x"}}]}`,
		`{"uuid":"7c6e1f0a-2222-4a4a-9a9a-000000000009","priority":5,"sensitive":true,"conditions":[{"op":"!eq","args":[[1,2]],"loop":[1],"multiple":"all"}],"actions":[{"op":"extend-plugin-data","args":["a","{item}"],"loop":{"x":1}}]}`,
		`{"actions":[{"op":"set-plugin-data","args":{"path":"a","value":1,"plugin_data":7}}],"phase":null}`,
		`{"actions":[{"op":"log","args":[]}],"conditions":[{"op":"in-net","args":{}}]}`,
	} {
		f.Add([]byte(s), false, "1.96")
	}
	for _, s := range []string{
		`[{"op":"replace","path":"/priority","value":7},{"op":"remove","path":"/phase"}]`,
		`[{"op":"add","path":"/actions/-","value":{"op":"extend-plugin-data","args":["k","v"]}}]`,
		`[{"op":"remove","path":"/conditions/1/args/0"},{"op":"replace","path":"/uuid","value":"7c6e1f0a-2222-4a4a-9a9a-000000000009"}]`,
		`[{"op":"add","path":"/conditions/0/args/values/-","value":{"password":"p"}}]`,
	} {
		f.Add([]byte(s), true, "1.96")
	}
	f.Add([]byte(`[]`), true, "1.95")
	e := newEnv(f)
	h := e.app.Handler()
	f.Fuzz(func(t *testing.T, body []byte, patch bool, version string) {
		ctx := context.Background()
		for _, id := range []string{ruleCPU, "7c6e1f0a-2222-4a4a-9a9a-000000000009"} {
			if err := e.st.DeleteInspectionRule(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		main := "main"
		if _, err := e.st.CreateInspectionRule(ctx, store.InspectionRule{UUID: ruleCPU, Priority: 50, Phase: &main,
			Conditions: json.RawMessage(ruleCPUConditions), Actions: json.RawMessage(ruleCPUActions(1, ""))}); err != nil {
			t.Fatal(err)
		}
		method, path := "POST", "/v1/inspection_rules"
		if patch {
			method, path = "PATCH", "/v1/inspection_rules/"+ruleCPU
		}
		_, before, _ := serve(h, "GET", "/v1/inspection_rules?detail=true", nil, "1.96")
		status, out, ct := serve(h, method, path, body, version)
		checkAnswer(t, method+" "+path, status, out, ct)
		if status >= 400 {
			if _, after, _ := serve(h, "GET", "/v1/inspection_rules?detail=true", nil, "1.96"); !bytes.Equal(before, after) {
				t.Fatalf("refused %s %q changed the rules:\nbefore %s\nafter  %s", method, body, before, after)
			}
		}
	})
}

// TestInspectionRulePatchDifferences: where Ironic 29 answers 500 after
// saving, ferric answers what Ironic then shows.
func TestInspectionRulePatchDifferences(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedRules(ruleState{cpuDesc: "d", cpuPrio: 1, cpuExtra: 1, secretPrio: 10})(e)
	hdr := map[string]string{hdrVersion: "1.96"}
	resp, body := e.do(t, "PATCH", "/v1/inspection_rules/"+ruleCPU, `[{"op":"remove","path":"/conditions"}]`, hdr)
	if resp.StatusCode != 200 || !strings.Contains(body, `"conditions":[]`) {
		t.Errorf("remove conditions: %d %s", resp.StatusCode, body)
	}
	// A patch of the UUID saves under a UUID no rule has: Ironic's 404.
	resp, body = e.do(t, "PATCH", "/v1/inspection_rules/"+ruleCPU,
		`[{"op":"replace","path":"/uuid","value":"7c6e1f0a-2222-4a4a-9a9a-000000000099"}]`, hdr)
	if resp.StatusCode != 404 || !strings.Contains(body, "Rule 7c6e1f0a-2222-4a4a-9a9a-000000000099 could not be found.") {
		t.Errorf("uuid: %d %s", resp.StatusCode, body)
	}
	// A patch naming a missing member quotes the rule as Ironic's as_dict.
	resp, body = e.do(t, "PATCH", "/v1/inspection_rules/"+ruleLog, `[{"op":"replace","path":"/bogus/x","value":1}]`, hdr)
	if resp.StatusCode != 400 || !strings.Contains(body, `'scope': None, 'actions': [{'op': 'log', 'args': ['hello', 'warning']}], `+
		`'conditions': [], 'created_at': datetime.datetime(2026, 12, 3, 19, 6, 58, 398313, tzinfo=datetime.timezone.utc), `+
		`'updated_at': None}`) {
		t.Errorf("missing member: %d %s", resp.StatusCode, body)
	}
}
