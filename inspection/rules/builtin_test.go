package rules

import (
	"strings"
	"testing"
)

func TestParseBuiltIn(t *testing.T) {
	t.Parallel()
	rules, err := ParseBuiltIn([]byte(`
- uuid: 3c0ab1d4-0000-4000-8000-000000000001
  description: the CPU architecture
  priority: -10
  conditions:
    - op: "!is-empty"
      args: {value: "{inventory[cpu][architecture]}"}
  actions:
    - op: set-attribute
      args: {path: /properties/cpu_arch, value: "{inventory[cpu][architecture]}"}
- actions:
    - {op: add-trait, args: [CUSTOM_INSPECTED]}
    - {op: extend-plugin-data, args: [macs, "{item[mac_address]}"], loop: [{mac_address: a}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Priority != -10 || !rules[0].BuiltIn || rules[0].Phase != PhaseMain ||
		rules[1].UUID != "built-in-2" || len(rules[1].Actions) != 2 || rules[0].Conditions[0].Op != "!is-empty" {
		t.Fatalf("rules = %+v", rules)
	}
	node := Node{UUID: "n", Fields: map[string]any{"properties": NewObject()}}
	inv := obj("cpu", obj("architecture", "aarch64"))
	res, err := Apply(rules, node, inv, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if string(Encode(res.Node.Fields["properties"])) != `{"cpu_arch":"aarch64"}` ||
		string(Encode(res.PluginData)) != `{"macs":["a"]}` || len(res.Node.Traits) != 1 {
		t.Errorf("result %+v %s", res.Node, Encode(res.PluginData))
	}

	for _, tt := range []struct{ doc, want string }{
		{`{a: 1}`, "not a list of rules"},
		{`- {actions: []}`, "rule 1: no actions"},
		{`- {actions: [{op: log, args: {msg: x}}], built_in: true}`, `unknown member "built_in"`},
		{`- {actions: [{op: log, args: {msg: x}}], phase: other}`, "invalid phase: other"},
		{`- {actions: [{op: log, args: {}}]}`, "actions 1 (log): missing required argument(s): msg"},
		{`- {actions: [{op: nope, args: {}}]}`, "Unsupported action 'nope'."},
		{`- {actions: [{op: log, args: [x]}], conditions: [{op: eq, args: [[1]], multiple: some}]}`, "multiple"},
		{`- {actions: [{op: log, args: [x]}], priority: high}`, "priority: not an integer"},
		{"- [", "built-in inspection rules: yaml"},
	} {
		if _, err := ParseBuiltIn([]byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.doc, err, tt.want)
		}
	}
}
