package rules

import (
	"fmt"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Built-in rules: ferric's equivalent of Ironic's
// [inspection_rules]built_in_rules, a YAML (or JSON) file holding a list
// of rules with uuid, priority, description, sensitive, phase, conditions
// and actions. They run after the stored rules of equal priority, may
// have any priority (negative ones run last), and are not stored: the API
// neither lists nor changes them (as Ironic's, whose API only shows the
// database's rules). Ironic 29 checks each against its API schema, which
// refuses the built_in and scope members its own loader adds, so no
// built-in rule ever loads there; ferric checks what the schema means:
// the members, the phase, the operators and actions and their arguments.

// builtInMembers are the members a built-in rule may have.
var builtInMembers = []string{"uuid", "priority", "description", "scope", "sensitive", "phase", "conditions",
	"actions"}

// ParseBuiltIn reads a file of built-in rules; the error names the first
// rule that is not valid and why.
func ParseBuiltIn(data []byte) ([]Rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("built-in inspection rules: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	v, err := fromYAML(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("built-in inspection rules: %w", err)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("built-in inspection rules: not a list of rules")
	}
	out := make([]Rule, 0, len(list))
	for i, e := range list {
		r, err := builtInRule(e)
		if err != nil {
			return nil, fmt.Errorf("built-in inspection rule %d: %w", i+1, err)
		}
		if r.UUID == "" {
			r.UUID = "built-in-" + strconv.Itoa(i+1)
		}
		out = append(out, r)
	}
	return out, nil
}

func builtInRule(v any) (Rule, error) {
	o, ok := v.(*Object)
	if !ok {
		return Rule{}, fmt.Errorf("not a mapping")
	}
	for _, k := range o.Keys() {
		if !slices.Contains(builtInMembers, k) {
			return Rule{}, fmt.Errorf("unknown member %q", k)
		}
	}
	r := Rule{BuiltIn: true, Phase: PhaseMain}
	str := func(k string) (string, error) {
		x, has := o.Get(k)
		if !has || x == nil {
			return "", nil
		}
		s, ok := x.(string)
		if !ok {
			return "", fmt.Errorf("%s: not a string", k)
		}
		return s, nil
	}
	var err error
	if r.UUID, err = str("uuid"); err != nil {
		return r, err
	}
	if p, has := o.Get("phase"); has {
		if r.Phase, err = str("phase"); err != nil {
			return r, err
		}
		if p == nil || !slices.Contains(Phases, r.Phase) {
			return r, fmt.Errorf("invalid phase: %s; valid phases are: %s", pyStr(p, false), PhaseMain)
		}
	}
	if p, has := o.Get("priority"); has {
		n, ok := p.(int64)
		if !ok {
			return r, fmt.Errorf("priority: not an integer")
		}
		r.Priority = int(n)
	}
	if s, has := o.Get("sensitive"); has && s != nil {
		b, ok := s.(bool)
		if !ok {
			return r, fmt.Errorf("sensitive: not a boolean")
		}
		r.Sensitive = b
	}
	steps := func(k string, condition bool) ([]Step, error) {
		x, has := o.Get(k)
		if !has || x == nil {
			return nil, nil
		}
		list, ok := x.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: not a list", k)
		}
		var out []Step
		for i, e := range list {
			so, ok := e.(*Object)
			if !ok {
				return nil, fmt.Errorf("%s %d: not a mapping", k, i+1)
			}
			var st Step
			op, _ := so.Get("op")
			st.Op, ok = op.(string)
			if !ok {
				return nil, fmt.Errorf("%s %d: op: not a string", k, i+1)
			}
			st.Args, _ = so.Get("args")
			st.Loop, _ = so.Get("loop")
			switch st.Loop.(type) {
			case nil, []any, *Object:
			default:
				return nil, fmt.Errorf("%s %d: loop: not a list or mapping", k, i+1)
			}
			if m, has := so.Get("multiple"); has {
				st.Multiple, _ = m.(string)
				if !condition || !slices.Contains([]string{"any", "all", "first", "last"}, st.Multiple) {
					return nil, fmt.Errorf("%s %d: multiple: not one of any, all, first, last", k, i+1)
				}
			}
			if condition {
				err = ValidateCondition(st.Op, st.Args)
			} else {
				err = ValidateAction(st.Op, st.Args)
			}
			if err != nil {
				return nil, fmt.Errorf("%s %d (%s): %w", k, i+1, st.Op, err)
			}
			out = append(out, st)
		}
		return out, nil
	}
	if r.Conditions, err = steps("conditions", true); err != nil {
		return r, err
	}
	if r.Actions, err = steps("actions", false); err != nil {
		return r, err
	}
	if len(r.Actions) == 0 {
		return r, fmt.Errorf("no actions")
	}
	return r, nil
}

// fromYAML converts a YAML node to an engine value.
func fromYAML(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		o := NewObject()
		for i := 0; i+1 < len(n.Content); i += 2 {
			var k string
			if err := n.Content[i].Decode(&k); err != nil {
				return nil, fmt.Errorf("line %d: key: %w", n.Content[i].Line, err)
			}
			v, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			o.Set(k, v)
		}
		return o, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case nil, bool, string, float64, int64:
			return x, nil
		}
		var s string
		if err := n.Decode(&s); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML", n.Line)
}
