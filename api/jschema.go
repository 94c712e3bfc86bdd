package api

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ferric-project/ferric/jsonwire"
)

// jschema is the part of JSON Schema draft 4 that Ironic's nested schemas
// use (deploy templates and their steps, RAID configurations), validated as
// python-jsonschema 4.10 does: every error is collected and the one
// jsonschema's best_match picks is reported, with its message.
type jschema struct {
	types     []string // "object", "array", "string", "integer", "number", "boolean", "null"
	enum      []any
	minimum   *int64
	exclusive bool // exclusiveMinimum (draft 4: a flag on minimum)
	minLength int  // -1: none
	maxLength int  // -1: none
	pattern   *regexp.Regexp
	minItems  int // -1: none
	items     *jschema
	props     []jprop // in the schema's order
	required  []string
	closed    bool // additionalProperties: false
	deps      []jdep
	anyOf     []*jschema
}

type jprop struct {
	name   string
	schema *jschema
}

type jdep struct {
	prop string
	need []string
}

// js returns an empty schema (no constraint) to fill.
func js() *jschema { return &jschema{minLength: -1, maxLength: -1, minItems: -1} }

// jsString is a schema for a string, one of enum when enum is given.
func jsString(enum ...any) *jschema {
	s := js()
	s.types = []string{"string"}
	if len(enum) > 0 {
		s.enum = enum
	}
	return s
}

// jerr is one validation error with what best_match ranks it by.
type jerr struct {
	depth       int  // len(error.path)
	weak        bool // anyOf (a weak keyword)
	matchesType bool // the instance has the type of the schema that failed
	msg         string
	context     []jerr
}

// key is jsonschema's relevance: greater is more relevant.
func (e jerr) key() [3]int {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return [3]int{-e.depth, b(!e.weak), b(!e.matchesType)}
}

func keyLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// bestMatch is jsonschema.exceptions.best_match: the most relevant error
// (the first of equals), then, while it has a context, the least relevant
// of that context unless the two least are equally relevant.
func bestMatch(errs []jerr) *jerr {
	if len(errs) == 0 {
		return nil
	}
	best := errs[0]
	for _, e := range errs[1:] {
		if keyLess(best.key(), e.key()) {
			best = e
		}
	}
	for len(best.context) > 0 {
		ctx := slices.Clone(best.context)
		sort.SliceStable(ctx, func(i, j int) bool { return keyLess(ctx[i].key(), ctx[j].key()) })
		if len(ctx) >= 2 && ctx[0].key() == ctx[1].key() {
			break
		}
		best = ctx[0]
	}
	return &best
}

// validate returns jsonschema's message for v ("" when valid) and, as
// ironic.common.args adds to it, the possible root cause ("" when none).
func (s *jschema) validate(v any) (msg, cause string) {
	e := bestMatch(s.errors(v, 0))
	if e == nil {
		return "", ""
	}
	cur := e
	for len(cur.context) > 0 {
		cur = bestMatch(cur.context)
		cause = cur.msg
	}
	return e.msg, cause
}

// isType is draft 4's type check.
func isType(v any, t string) bool {
	switch t {
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return pyTypeName(v) == t
}

func (s *jschema) matches(v any) bool {
	return s.types != nil && slices.ContainsFunc(s.types, func(t string) bool { return isType(v, t) })
}

// errors yields the errors of v against s in jsonschema's keyword order
// (type, enum, bounds, pattern, items, properties, required,
// additionalProperties, dependencies, anyOf), at depth.
func (s *jschema) errors(v any, depth int) []jerr {
	var out []jerr
	add := func(msg string) {
		out = append(out, jerr{depth: depth, matchesType: s.matches(v), msg: msg})
	}
	if s.types != nil && !s.matches(v) {
		q := make([]string, len(s.types))
		for i, t := range s.types {
			q[i] = pyStr(t)
		}
		add(fmt.Sprintf("%s is not of type %s", pyRepr(v), strings.Join(q, ", ")))
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, func(e any) bool { return enumEqual(e, v) }) {
		add(fmt.Sprintf("%s is not one of %s", pyRepr(v), pyRepr(s.enum)))
	}
	if n, ok := v.(json.Number); ok && s.minimum != nil {
		if f, ok := new(big.Float).SetString(string(n)); ok {
			c := f.Cmp(new(big.Float).SetInt64(*s.minimum))
			switch {
			case s.exclusive && c <= 0:
				add(fmt.Sprintf("%s is less than or equal to the minimum of %d", pyRepr(v), *s.minimum))
			case !s.exclusive && c < 0:
				add(fmt.Sprintf("%s is less than the minimum of %d", pyRepr(v), *s.minimum))
			}
		}
	}
	if str, ok := v.(string); ok {
		n := len([]rune(str))
		if s.minLength >= 0 && n < s.minLength {
			add(pyRepr(v) + " is too short")
		}
		if s.maxLength >= 0 && n > s.maxLength {
			add(pyRepr(v) + " is too long")
		}
		if s.pattern != nil && !s.pattern.MatchString(str) {
			add(fmt.Sprintf("%s does not match %s", pyRepr(v), pyStr(s.pattern.String())))
		}
	}
	if arr, ok := v.([]any); ok {
		if s.items != nil {
			for _, e := range arr {
				out = append(out, s.items.errors(e, depth+1)...)
			}
		}
		if s.minItems >= 0 && len(arr) < s.minItems {
			add(pyRepr(v) + " is too short")
		}
	}
	if o, ok := v.(*jsonwire.Object); ok {
		for _, p := range s.props {
			if pv, present := o.Get(p.name); present {
				out = append(out, p.schema.errors(pv, depth+1)...)
			}
		}
		for _, r := range s.required {
			if _, present := o.Get(r); !present {
				add(pyStr(r) + " is a required property")
			}
		}
		if s.closed {
			var extra []string
			for _, k := range o.Keys() {
				if !slices.ContainsFunc(s.props, func(p jprop) bool { return p.name == k }) {
					extra = append(extra, pyStr(k))
				}
			}
			if len(extra) > 0 {
				verb := "was"
				if len(extra) > 1 {
					verb = "were"
				}
				add(fmt.Sprintf("Additional properties are not allowed (%s %s unexpected)",
					strings.Join(extra, ", "), verb))
			}
		}
		for _, d := range s.deps {
			if _, present := o.Get(d.prop); !present {
				continue
			}
			for _, need := range d.need {
				if _, ok := o.Get(need); !ok {
					add(fmt.Sprintf("%s is a dependency of %s", pyStr(need), pyStr(d.prop)))
				}
			}
		}
	}
	if len(s.anyOf) > 0 {
		var all []jerr
		valid := false
		for _, sub := range s.anyOf {
			errs := sub.errors(v, 0)
			if len(errs) == 0 {
				valid = true
				break
			}
			all = append(all, errs...)
		}
		if !valid {
			out = append(out, jerr{depth: depth, weak: true, matchesType: s.matches(v),
				msg: pyRepr(v) + " is not valid under any of the given schemas", context: all})
		}
	}
	return out
}

// enumEqual compares an enum member with a decoded value (enums hold strings).
func enumEqual(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	return aok && bok && as == bs
}
