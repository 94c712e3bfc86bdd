package inventory

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
)

// SchemaID is the $id of the document's JSON Schema (draft 2020-12). The
// version in it changes when a change to the schema could reject a
// document that an earlier version accepted.
const SchemaID = "https://github.com/ferric-project/ferric/raw/main/drivers/inventory/schema/inventory.v1.json"

// SchemaFile is the schema's file name (the API serves it as
// /schemas/<SchemaFile>).
const SchemaFile = "inventory.v1.json"

//go:embed schema/inventory.v1.json
var schemaJSON []byte

// Schema returns the document's JSON Schema (a copy: callers may keep or
// change it).
func Schema() []byte { return bytes.Clone(schemaJSON) }

// schema is one compiled JSON Schema object. The interpreter knows the
// keywords below and nothing else: compile refuses a schema that uses any
// other assertion, so the embedded schema cannot say more than is checked.
type schema struct {
	ref           *schema
	types         []string // nil: any type
	enum          []any
	properties    map[string]*schema
	required      []string
	additional    *schema // nil: anything
	propertyNames *schema
	maxProperties int // -1: no limit
	prefixItems   []*schema
	items         *schema
	minItems      int
	maxItems      int // -1: no limit
	minimum       *big.Rat
	maximum       *big.Rat
	minLength     int
	maxLength     int // -1: no limit
	pattern       *regexp.Regexp
}

// compileSchema compiles a JSON Schema document that keeps its
// definitions in $defs and refers to them as "#/$defs/name".
func compileSchema(doc []byte) (*schema, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := compiler{defs: map[string]*schema{}}
	rawDefs, _ := root["$defs"].(map[string]any)
	for name := range rawDefs {
		c.defs[name] = &schema{}
	}
	for name, raw := range rawDefs {
		if err := c.compileInto(c.defs[name], raw, "#/$defs/"+name); err != nil {
			return nil, err
		}
	}
	delete(root, "$defs")
	s := &schema{}
	if err := c.compileInto(s, root, "#"); err != nil {
		return nil, err
	}
	return s, nil
}

type compiler struct{ defs map[string]*schema }

func (c *compiler) compile(raw any, at string) (*schema, error) {
	s := &schema{}
	return s, c.compileInto(s, raw, at)
}

func (c *compiler) compileInto(s *schema, raw any, at string) error {
	m, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("schema %s: not an object", at)
	}
	s.maxProperties, s.maxItems, s.maxLength = -1, -1, -1
	for k, v := range m {
		var err error
		switch k {
		case "$ref":
			ref, _ := v.(string)
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			if s.ref = c.defs[name]; !ok || s.ref == nil {
				err = fmt.Errorf("unknown reference %q", ref)
			}
		case "type":
			s.types, err = stringList(v)
		case "enum":
			s.enum, ok = v.([]any)
			if !ok {
				err = fmt.Errorf("enum is not an array")
			}
		case "properties":
			pm, ok := v.(map[string]any)
			if !ok {
				err = fmt.Errorf("properties is not an object")
				break
			}
			s.properties = map[string]*schema{}
			for name, sub := range pm {
				if s.properties[name], err = c.compile(sub, at+"/properties/"+name); err != nil {
					return err
				}
			}
		case "required":
			s.required, err = stringList(v)
		case "additionalProperties":
			s.additional, err = c.compileBoolOr(v, at+"/additionalProperties")
		case "propertyNames":
			s.propertyNames, err = c.compile(v, at+"/propertyNames")
		case "maxProperties":
			s.maxProperties, err = count(v)
		case "prefixItems":
			list, ok := v.([]any)
			if !ok {
				err = fmt.Errorf("prefixItems is not an array")
				break
			}
			for i, sub := range list {
				ps, err := c.compile(sub, fmt.Sprintf("%s/prefixItems/%d", at, i))
				if err != nil {
					return err
				}
				s.prefixItems = append(s.prefixItems, ps)
			}
		case "items":
			s.items, err = c.compile(v, at+"/items")
		case "minItems":
			s.minItems, err = count(v)
		case "maxItems":
			s.maxItems, err = count(v)
		case "minimum":
			s.minimum, err = rat(v)
		case "maximum":
			s.maximum, err = rat(v)
		case "minLength":
			s.minLength, err = count(v)
		case "maxLength":
			s.maxLength, err = count(v)
		case "pattern":
			p, _ := v.(string)
			s.pattern, err = regexp.Compile(p)
		case "$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated":
			// annotations: they assert nothing
		default:
			err = fmt.Errorf("keyword %q is not supported", k)
		}
		if err != nil {
			return fmt.Errorf("schema %s: %s: %w", at, k, err)
		}
	}
	return nil
}

// compileBoolOr compiles a schema that may be true (anything) or false
// (nothing).
func (c *compiler) compileBoolOr(v any, at string) (*schema, error) {
	switch b := v.(type) {
	case bool:
		if b {
			return nil, nil
		}
		return &schema{types: []string{}}, nil // no type matches
	}
	return c.compile(v, at)
}

func stringList(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a string or a list of strings")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("not a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

func count(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	i, err := n.Int64()
	if err != nil || i < 0 {
		return 0, fmt.Errorf("not a non-negative integer: %s", n)
	}
	return int(i), nil
}

func rat(v any) (*big.Rat, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("not a number")
	}
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		return nil, fmt.Errorf("not a number: %s", n)
	}
	return r, nil
}

// validate checks v against s; the first violation is returned.
func (s *schema) validate(v *value, path string) *FieldError {
	if s.ref != nil {
		if err := s.ref.validate(v, path); err != nil {
			return err
		}
	}
	if s.types != nil && len(s.types) == 0 {
		return &FieldError{Path: path, Message: "is not allowed"}
	}
	if s.types != nil && !slices.ContainsFunc(s.types, v.is) {
		return &FieldError{Path: path, Message: fmt.Sprintf("is %s, want %s", v.describe(), strings.Join(s.types, " or "))}
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, v.equals) {
		want := make([]string, len(s.enum))
		for i, e := range s.enum {
			b, _ := json.Marshal(e)
			want[i] = string(b)
		}
		return &FieldError{Path: path, Message: fmt.Sprintf("is %s, want one of %s", v.describe(), strings.Join(want, ", "))}
	}
	switch v.kind {
	case kindString:
		return s.validateString(v.str, path)
	case kindNumber:
		return s.validateNumber(v.str, path)
	case kindArray:
		return s.validateArray(v.arr, path)
	case kindObject:
		return s.validateObject(v.obj, path)
	}
	return nil
}

func (s *schema) validateString(str, path string) *FieldError {
	if s.pattern != nil && !s.pattern.MatchString(str) {
		if strings.IndexByte(str, 0) >= 0 {
			return &FieldError{Path: path, Message: "contains a NUL character"}
		}
		return &FieldError{Path: path, Message: fmt.Sprintf("%s does not match %s", abbreviate(str), s.pattern)}
	}
	if s.maxLength >= 0 || s.minLength > 0 {
		n := len([]rune(str))
		if s.maxLength >= 0 && n > s.maxLength {
			return &FieldError{Path: path, Message: fmt.Sprintf("is %d characters long, more than %d", n, s.maxLength)}
		}
		if n < s.minLength {
			return &FieldError{Path: path, Message: fmt.Sprintf("is %d characters long, fewer than %d", n, s.minLength)}
		}
	}
	return nil
}

func (s *schema) validateNumber(lit, path string) *FieldError {
	if s.minimum == nil && s.maximum == nil {
		return nil
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		return &FieldError{Path: path, Message: fmt.Sprintf("%s is not a number", lit)}
	}
	if s.minimum != nil && r.Cmp(s.minimum) < 0 {
		return &FieldError{Path: path, Message: fmt.Sprintf("is %s, less than the minimum %s", lit, s.minimum.RatString())}
	}
	if s.maximum != nil && r.Cmp(s.maximum) > 0 {
		return &FieldError{Path: path, Message: fmt.Sprintf("is %s, more than the maximum %s", lit, s.maximum.RatString())}
	}
	return nil
}

func (s *schema) validateArray(arr []*value, path string) *FieldError {
	if len(arr) < s.minItems {
		return &FieldError{Path: path, Message: fmt.Sprintf("has %d items, want at least %d", len(arr), s.minItems)}
	}
	if s.maxItems >= 0 && len(arr) > s.maxItems {
		return &FieldError{Path: path, Message: fmt.Sprintf("has %d items, more than %d", len(arr), s.maxItems)}
	}
	for i, e := range arr {
		sub := s.items
		if i < len(s.prefixItems) {
			sub = s.prefixItems[i]
		}
		if sub == nil {
			continue
		}
		if err := sub.validate(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *schema) validateObject(obj []member, path string) *FieldError {
	for _, name := range s.required {
		if !slices.ContainsFunc(obj, func(m member) bool { return m.key == name }) {
			return &FieldError{Path: join(path, name), Message: "is required"}
		}
	}
	if s.maxProperties >= 0 && len(obj) > s.maxProperties {
		return &FieldError{Path: path, Message: fmt.Sprintf("has %d members, more than %d", len(obj), s.maxProperties)}
	}
	for _, m := range obj {
		p := join(path, m.key)
		if s.propertyNames != nil {
			if err := s.propertyNames.validate(&value{kind: kindString, str: m.key}, p); err != nil {
				err.Message = "member name " + err.Message
				return err
			}
		}
		sub, ok := s.properties[m.key]
		if !ok {
			sub = s.additional
		}
		if sub == nil {
			continue
		}
		if err := sub.validate(m.val, p); err != nil {
			return err
		}
	}
	return nil
}

// join appends a member name to a path: "inventory.cpu"; names that are
// not plain identifiers are quoted: `plugin_data["a b"]`.
func join(path, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	switch {
	case !plain:
		return fmt.Sprintf("%s[%q]", path, key)
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// abbreviate quotes s, cut to a readable length.
func abbreviate(s string) string {
	if r := []rune(s); len(r) > 64 {
		return fmt.Sprintf("%q…", string(r[:64]))
	}
	return fmt.Sprintf("%q", s)
}
