package activities

import (
	"encoding/json"
	"testing"

	"github.com/ferric-project/ferric/inspection/rules"
	"github.com/ferric-project/ferric/store"
)

// TestRuleFields: the fields inspection rules read and set come from the
// store's field table, each of the 31 node and 8 port fields with a type
// the rules handle, and reading and setting reach the row's own field.
func TestRuleFields(t *testing.T) {
	t.Parallel()
	nf, pf := ruleNodeFields(), rulePortFields()
	if len(nf) != 31 || len(pf) != 8 {
		t.Fatalf("%d node and %d port fields, want 31 and 8 (a named field the store lacks or types otherwise?)",
			len(nf), len(pf))
	}
	byName := map[string]ruleField[store.Node]{}
	for _, f := range nf {
		byName[f.name] = f
	}
	name := "n1"
	n := store.Node{Name: &name, Driver: "ipmi", Extra: json.RawMessage(`{"a":1}`), Protected: true}
	n.Interfaces.Power = "ipmitool"
	if byName["name"].get(&n) != "n1" || byName["driver"].get(&n) != "ipmi" || byName["protected"].get(&n) != true ||
		byName["power_interface"].get(&n) != "ipmitool" || byName["resource_class"].get(&n) != nil {
		t.Errorf("read %v %v %v %v %v", byName["name"].get(&n), byName["driver"].get(&n), byName["protected"].get(&n),
			byName["power_interface"].get(&n), byName["resource_class"].get(&n))
	}
	extra := rules.NewObject()
	extra.Set("b", "x")
	for f, v := range map[string]any{"name": nil, "driver": "redfish", "retired": true, "extra": extra,
		"deploy_interface": "direct"} {
		if err := byName[f].set(&n, v); err != nil {
			t.Fatalf("set %s: %v", f, err)
		}
	}
	if n.Name != nil || n.Driver != "redfish" || !n.Retired || string(n.Extra) != `{"b":"x"}` ||
		n.Interfaces.Deploy != "direct" {
		t.Errorf("after setting: %+v", n)
	}
	if err := byName["protected"].set(&n, "yes"); err == nil {
		t.Error("a string set a boolean field")
	}
	if err := byName["properties"].set(&n, "x"); err == nil {
		t.Error("a string set an object field")
	}
}
