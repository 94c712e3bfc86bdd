package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Variable interpolation: Ironic formats rule arguments with Python's
// str.format over node, inventory, plugin_data and, in a loop, item
// ("{inventory[cpu][architecture]}", "{node.properties[cpu_arch]}"). A
// string that fails to format (a missing key, a bad field) is left as it
// is, as Ironic's safe_format does. Format specifications other than the
// empty one are not supported: such a string is left as it is too.

// sensitiveFields are the members Ironic masks in the inventory and plugin
// data a rule reads (engine.SENSITIVE_FIELDS).
var sensitiveFields = []string{"password", "auth_token", "bmc_password"}

// maskedMember is o's member k as a rule reads it: "***" for a sensitive
// member when mask is on.
func maskedMember(o *Object, k string, mask bool) any {
	if mask {
		for _, s := range sensitiveFields {
			if k == s {
				return "***"
			}
		}
	}
	return o.Value(k)
}

// nodeRef is the node as format fields read it: attributes
// ({node.properties}) and items ({node[properties]}) are its fields.
type nodeRef struct{ n *Node }

// fmtContext is what a format string reads.
type fmtContext struct {
	node              *Node
	inventory, plugin any
	item              any
	hasItem           bool
	mask              bool
}

var errFormat = errors.New("format failed")

// safeFormat formats s, or returns it as it is when formatting fails.
func (c *fmtContext) safeFormat(s string) string {
	out, err := c.format(s)
	if err != nil {
		return s
	}
	return out
}

// format is Python's str.format(**context) for the supported subset.
func (c *fmtContext) format(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == '{' && i+1 < len(s) && s[i+1] == '{':
			sb.WriteByte('{')
			i += 2
		case ch == '}' && i+1 < len(s) && s[i+1] == '}':
			sb.WriteByte('}')
			i += 2
		case ch == '}':
			return "", fmt.Errorf("single '}' encountered: %w", errFormat)
		case ch == '{':
			end, err := fieldEnd(s, i+1)
			if err != nil {
				return "", err
			}
			v, err := c.field(s[i+1 : end])
			if err != nil {
				return "", err
			}
			sb.WriteString(v)
			i = end + 1
		default:
			sb.WriteByte(ch)
			i++
		}
	}
	return sb.String(), nil
}

// fieldEnd finds the "}" closing the field that starts at i ("[...]"
// may hold braces; nested fields in a spec are counted).
func fieldEnd(s string, i int) (int, error) {
	depth := 1
	inIndex := false
	for ; i < len(s); i++ {
		switch s[i] {
		case '[':
			inIndex = true
		case ']':
			inIndex = false
		case '{':
			if !inIndex {
				depth++
			}
		case '}':
			if !inIndex {
				depth--
				if depth == 0 {
					return i, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("expected '}' before end of string: %w", errFormat)
}

// field renders one replacement field: name, lookups, !conversion, :spec.
func (c *fmtContext) field(f string) (string, error) {
	name, conv, spec := f, "", ""
	// The field name ends at the first "!" or ":" outside brackets.
	inIndex := false
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '[':
			inIndex = true
		case ']':
			inIndex = false
		case '!', ':':
			if inIndex {
				continue
			}
			name = f[:i]
			rest := f[i:]
			if rest[0] == '!' {
				if len(rest) < 2 {
					return "", errFormat
				}
				conv, rest = rest[1:2], rest[2:]
				if rest != "" && rest[0] != ':' {
					return "", errFormat
				}
			}
			if rest != "" {
				spec = rest[1:]
			}
			i = len(f)
		}
	}
	if spec != "" {
		return "", fmt.Errorf("format spec %q: %w", spec, errFormat)
	}
	v, err := c.lookup(name)
	if err != nil {
		return "", err
	}
	switch conv {
	case "", "s":
		return c.str(v), nil
	case "r", "a":
		var sb strings.Builder
		writeRepr(&sb, v, c.mask)
		return sb.String(), nil
	}
	return "", errFormat
}

// str is Python's str() of a value a field read.
func (c *fmtContext) str(v any) string {
	if n, ok := v.(nodeRef); ok {
		return fmt.Sprintf("Node(uuid=%s)", n.n.UUID)
	}
	return pyStr(v, c.mask)
}

// lookup resolves a field name: an argument name, then .attr and [key]
// parts.
func (c *fmtContext) lookup(name string) (any, error) {
	i := strings.IndexAny(name, ".[")
	if i < 0 {
		i = len(name)
	}
	var v any
	switch arg := name[:i]; arg {
	case "node":
		v = nodeRef{c.node}
	case "inventory":
		v = c.inventory
	case "plugin_data":
		v = c.plugin
	case "item":
		if !c.hasItem {
			return nil, errFormat
		}
		v = c.item
	default:
		return nil, fmt.Errorf("key %q: %w", arg, errFormat)
	}
	rest := name[i:]
	for rest != "" {
		switch rest[0] {
		case '.':
			j := strings.IndexAny(rest[1:], ".[")
			if j < 0 {
				j = len(rest) - 1
			}
			attr := rest[1 : j+1]
			if attr == "" {
				return nil, errFormat
			}
			n, ok := v.(nodeRef)
			if !ok {
				return nil, fmt.Errorf("attribute %q: %w", attr, errFormat)
			}
			var err error
			if v, err = n.get(attr); err != nil {
				return nil, err
			}
			rest = rest[j+1:]
		case '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil, errFormat
			}
			key := rest[1:j]
			if key == "" {
				return nil, errFormat
			}
			var err error
			if v, err = c.index(v, key); err != nil {
				return nil, err
			}
			rest = rest[j+1:]
			if rest != "" && rest[0] != '.' && rest[0] != '[' {
				return nil, errFormat
			}
		default:
			return nil, errFormat
		}
	}
	return v, nil
}

// index is v[key], key an int when it is all digits.
func (c *fmtContext) index(v any, key string) (any, error) {
	n, err := strconv.Atoi(key)
	isInt := err == nil && key[0] != '+' && key[0] != '-'
	switch t := v.(type) {
	case nodeRef:
		if isInt {
			return nil, errFormat
		}
		return t.get(key)
	case *Object:
		if isInt { // JSON keys are strings: d[0] is a KeyError
			return nil, errFormat
		}
		if _, ok := t.Get(key); !ok {
			return nil, fmt.Errorf("key %q: %w", key, errFormat)
		}
		return maskedMember(t, key, c.mask), nil
	case []any:
		if !isInt || n >= len(t) {
			return nil, errFormat
		}
		return t[n], nil
	case string:
		r := []rune(t)
		if !isInt || n >= len(r) {
			return nil, errFormat
		}
		return string(r[n]), nil
	}
	return nil, errFormat
}

// get is a node attribute: uuid or a field.
func (n nodeRef) get(attr string) (any, error) {
	if attr == "uuid" {
		return n.n.UUID, nil
	}
	if v, ok := n.n.Fields[attr]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("node attribute %q: %w", attr, errFormat)
}

// interpolate is Ironic's interpolate_variables: strings are formatted,
// objects' keys and values and lists' items recursively, other values
// kept. In a loop a string that is an argument or an object's value is
// formatted twice (an item may hold a field: "{item[value]}" giving
// "{inventory[bmc_address]}"), a list's string items once, as Ironic's.
func (c *fmtContext) interpolate(v any, loop bool) any {
	if s, ok := v.(string); ok && loop {
		v = c.safeFormat(s)
	}
	switch t := v.(type) {
	case string:
		return c.safeFormat(t)
	case *Object:
		o := NewObject()
		for k, v := range t.All() {
			o.Set(c.safeFormat(k), c.interpolate(v, loop))
		}
		return o
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			if s, ok := e.(string); ok {
				out[i] = c.safeFormat(s)
			} else {
				out[i] = c.interpolate(e, loop)
			}
		}
		return out
	}
	return v
}
