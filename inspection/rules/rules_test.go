package rules

import (
	"errors"
	"slices"
	"testing"
)

func obj(kv ...any) *Object {
	o := NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// TestValidate: each operator's and action's signature, with Ironic's
// messages (taken from Ironic 29's answers, see api/testdata/ironic29-wire
// rules_create_args_*.txt).
func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action bool
		op     string
		args   any
		want   string // "" = valid
	}{
		{"eq dict", false, "eq", obj("values", []any{1, 1}), ""},
		{"eq list", false, "!eq", []any{[]any{1}}, ""},
		{"eq force_strings", false, "eq", []any{[]any{1}, true}, ""},
		{"eq extra list items ignored", false, "eq", []any{1, 2, 3}, ""},
		{"eq empty list", false, "eq", []any{}, "Not enough arguments provided. Missing: values"},
		{"eq missing", false, "eq", obj(), "missing required argument(s): values"},
		{"in-net short", false, "in-net", []any{"1.1.1.1"}, "Not enough arguments provided. Missing: subnet"},
		{"in-net missing", false, "in-net", obj("address", "x"), "missing required argument(s): subnet"},
		{"one-of unexpected", false, "one-of", obj("value", 1, "nope", 2),
			"unexpected argument(s): nope"},
		{"both", false, "matches", obj("nope", 2), "missing required argument(s): value, regex; unexpected argument(s): nope"},
		{"not list or dict", false, "is-none", "x", "args must be either a list or dictionary"},
		{"double bang", false, "!!eq", []any{[]any{}}, "Multiple exclamation marks are not allowed. To apply the " +
			"invert of an operation, simply add an exclamation mark (with an optional space) before the operator, " +
			"e.g. eq - !eq."},
		{"unknown operator", false, "nope", []any{}, "Unsupported operator 'nope'."},
		{"log", true, "log", obj("msg", "x"), ""},
		{"log level", true, "log", []any{"x", "info"}, ""},
		{"log empty", true, "log", []any{}, "Not enough arguments provided. Missing: msg"},
		{"log extra", true, "log", obj("msg", "x", "foo", 1), "unexpected argument(s): foo"},
		{"set-attribute", true, "set-attribute", obj("path", "x"), "missing required argument(s): value"},
		{"set-plugin-data dict", true, "set-plugin-data", obj("path", "a", "value", 1), ""},
		{"set-plugin-data list", true, "set-plugin-data", []any{"a", 1}, ""},
		// The appended {} stands for the value: Ironic names plugin_data.
		{"set-plugin-data short", true, "set-plugin-data", []any{"a"}, "Not enough arguments provided. Missing: plugin_data"},
		{"unset-plugin-data", true, "unset-plugin-data", obj("path", "a"), ""},
		{"port", true, "set-port-attribute", []any{"p", "extra.x"}, "Not enough arguments provided. Missing: value"},
		{"unknown action", true, "nope", obj(), "Unsupported action 'nope'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.action {
				err = ValidateAction(tt.op, tt.args)
			} else {
				err = ValidateCondition(tt.op, tt.args)
			}
			if tt.want == "" {
				if err != nil {
					t.Errorf("err = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalidArgs) {
				t.Errorf("err = %v, want %q (ErrInvalidArgs)", err, tt.want)
			}
		})
	}
	if !slices.Equal(OperatorNames()[:3], []string{"eq", "lt", "gt"}) || len(ActionNames()) != 15 {
		t.Errorf("names: %v %v", OperatorNames(), ActionNames())
	}
	if !TakesPluginData("extend-plugin-data") || TakesPluginData("log") {
		t.Error("TakesPluginData")
	}
}

func TestStored(t *testing.T) {
	t.Parallel()
	main := PhaseMain
	r, err := Stored("u", 3, true, &main, []byte(`[{"op":"eq","args":[[1,1]],"loop":[1],"multiple":"all"}]`),
		[]byte(`[{"op":"log","args":{"msg":"m"}}]`))
	if err != nil || r.Phase != main || !r.Sensitive || r.Priority != 3 || len(r.Conditions) != 1 ||
		r.Conditions[0].Multiple != "all" || r.Actions[0].Op != "log" {
		t.Fatalf("%+v, %v", r, err)
	}
	if r, err := Stored("u", 0, false, nil, nil, []byte(`[]`)); err != nil || r.Phase != "" {
		t.Errorf("no phase: %+v, %v", r, err)
	}
	if _, err := Stored("u", 0, false, nil, []byte(`{}`), nil); err == nil {
		t.Error("conditions that are not a list were read")
	}
}

// TestApplyResult: what Apply reports besides the new values, and that it
// changes nothing it was given.
func TestApplyResult(t *testing.T) {
	t.Parallel()
	props := obj("cpu_arch", "aarch64")
	node := Node{UUID: "n", Fields: map[string]any{"properties": props, "extra": obj(), "name": "a"},
		Traits: []string{"CUSTOM_OLD"},
		Ports:  []Port{{UUID: "p1", Fields: map[string]any{"extra": obj()}}}}
	inv := obj("cpu", obj("architecture", "x86_64"))
	pd := obj("k", int64(1))
	rules := []Rule{
		{UUID: "b", Priority: 1, Phase: PhaseMain, Actions: []Step{
			{Op: "log", Args: []any{"arch {inventory[cpu][architecture]}"}},
			{Op: "set-port-attribute", Args: []any{"p1", "extra.x", "y"}},
		}},
		{UUID: "a", Priority: 2, Phase: PhaseMain, Conditions: []Step{
			{Op: "eq", Args: obj("values", []any{"{item}", "x86_64"}), Loop: []any{"{inventory[cpu][architecture]}"}},
		}, Actions: []Step{{Op: "add-trait", Args: []any{"CUSTOM_NEVER"}}}},
		{UUID: "c", Priority: 2, Phase: PhaseMain, Actions: []Step{
			{Op: "set-attribute", Args: obj("path", "/properties/cpu_arch", "value", "{inventory[cpu][architecture]}")},
			{Op: "add-trait", Args: []any{"CUSTOM_NEW"}},
			{Op: "set-plugin-data", Args: obj("path", "k", "value", int64(2))},
		}},
		{UUID: "phaseless", Priority: 9, Actions: []Step{{Op: "fail", Args: []any{"never"}}}},
		{UUID: "builtin", Priority: -5, BuiltIn: true, Actions: []Step{{Op: "add-trait", Args: []any{"CUSTOM_BUILTIN"}}}},
	}
	res, err := Apply(rules, node, inv, pd, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Applied, []string{"c", "b", "builtin"}) {
		t.Errorf("applied %v", res.Applied)
	}
	if !slices.Equal(res.ChangedFields, []string{"properties"}) || !res.TraitsChanged ||
		!slices.Equal(res.Node.Traits, []string{"CUSTOM_OLD", "CUSTOM_NEW", "CUSTOM_BUILTIN"}) {
		t.Errorf("changed %v traits %v (%v)", res.ChangedFields, res.Node.Traits, res.TraitsChanged)
	}
	if got := string(Encode(res.Node.Fields["properties"])); got != `{"cpu_arch":"x86_64"}` {
		t.Errorf("properties %s", got)
	}
	if !slices.Equal(res.ChangedPorts["p1"], []string{"extra"}) || string(Encode(res.Node.Ports[0].Fields["extra"])) != `{"x":"y"}` {
		t.Errorf("ports %v %s", res.ChangedPorts, Encode(res.Node.Ports[0].Fields["extra"]))
	}
	if string(Encode(res.PluginData)) != `{"k":2}` {
		t.Errorf("plugin data %s", Encode(res.PluginData))
	}
	if len(res.Logs) != 1 || res.Logs[0] != (LogEntry{Rule: "b", Level: "info", Msg: "arch x86_64"}) {
		t.Errorf("logs %+v", res.Logs)
	}
	if string(Encode(props)) != `{"cpu_arch":"aarch64"}` || string(Encode(pd)) != `{"k":1}` ||
		len(node.Traits) != 1 || string(Encode(node.Ports[0].Fields["extra"])) != `{}` {
		t.Error("Apply changed its input")
	}

	_, err = Apply([]Rule{{UUID: "f", Phase: PhaseMain, Actions: []Step{{Op: "fail", Args: obj("msg", "bad disk")}}}},
		node, inv, pd, Config{})
	var re *Error
	if !errors.As(err, &re) || !re.Fail || re.Rule != "f" || re.Message != "Failed to inspect hardware. Reason: bad disk" {
		t.Errorf("fail: %#v", err)
	}
}
