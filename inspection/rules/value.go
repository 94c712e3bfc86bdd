package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/pyrepr"
)

// Values the engine works on are decoded JSON: nil, bool, int64 (an
// integer literal), float64, string, []any and *Object (members in
// order), as Python's json module gives Ironic's engine.

// Object is a JSON object that keeps its members in order: jsonwire's.
type Object = jsonwire.Object

// NewObject returns an empty object.
func NewObject() *Object { return jsonwire.NewObject() }

// Decode reads one JSON document into engine values (jsonwire's decoding,
// then numbers as Python's json gives them: an integer literal as int64,
// any other as float64, out of range as ±Inf).
func Decode(raw []byte) (any, error) {
	v, err := jsonwire.DecodeStored(raw)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return engineNumbers(v), nil
}

// engineNumbers replaces v's json.Numbers (in place, for objects and
// arrays) with int64 or float64.
func engineNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(t), 64) // a range error gives ±Inf, as Python's float()
		return f
	case *Object:
		for k, e := range t.All() {
			t.Set(k, engineNumbers(e))
		}
	case []any:
		for i, e := range t {
			t[i] = engineNumbers(e)
		}
	}
	return v
}

// Encode writes an engine value as JSON, as jsonwire writes it (members in
// order, no HTML escaping) with numbers as Python's json writes them (an
// integral float keeps its ".0"); a non-finite float, which JSON cannot
// hold, is null.
func Encode(v any) json.RawMessage { return jsonwire.Encode(wireValue(v)) }

// wireValue is v with its numbers as json.Numbers (a copy where it holds
// any object or array).
func wireValue(v any) any {
	switch t := v.(type) {
	case int64:
		return json.Number(strconv.FormatInt(t, 10))
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil
		}
		return json.Number(pyFloat(t))
	case *Object:
		o := NewObject()
		for k, e := range t.All() {
			o.Set(k, wireValue(e))
		}
		return o
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = wireValue(e)
		}
		return out
	}
	return v
}

// clone returns a deep copy of v.
func clone(v any) any { return jsonwire.CloneValue(v) }

// pyStr is Python's str() of v; mask hides the members named by
// sensitiveFields as Ironic's ShallowMaskDict does.
func pyStr(v any, mask bool) string {
	if s, ok := v.(string); ok {
		return s
	}
	var sb strings.Builder
	writeRepr(&sb, v, mask)
	return sb.String()
}

// writeRepr writes Python's repr() of v.
func writeRepr(sb *strings.Builder, v any, mask bool) {
	pyrepr.Write(sb, v, func(sb *strings.Builder, v any) bool {
		switch t := v.(type) {
		case int64:
			sb.WriteString(strconv.FormatInt(t, 10))
		case float64:
			sb.WriteString(pyFloat(t))
		case *Object:
			sb.WriteByte('{')
			for i, k := range t.Keys() {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(pyQuote(k))
				sb.WriteString(": ")
				writeRepr(sb, maskedMember(t, k, mask), mask)
			}
			sb.WriteByte('}')
		default:
			return false
		}
		return true
	})
}

// pyFloat is Python's repr() of a float.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if i := strings.Index(s, "e"); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		if len(exp) < 2 {
			exp = strings.Repeat("0", 2-len(exp)) + exp
		}
		return mant + "e" + string(sign) + exp
	}
	return s
}

// pyQuote is Python's repr() of a str.
func pyQuote(s string) string { return pyrepr.Quote(s) }

// pyTypeName is Python's type(v).__name__.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case *Object:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// number returns v as a float when it is a Python number (bools are ints).
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// pyEqual is Python's ==.
func pyEqual(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		if ia, isInt := a.(int64); isInt {
			if ib, isInt := b.(int64); isInt {
				return ia == ib
			}
		}
		return ok && x == y
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for k, xv := range x.All() {
			yv, ok := y.Get(k)
			if !ok || !pyEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// errUnorderable is Python's TypeError for < between unlike types.
type errUnorderable struct {
	op   string
	a, b any
}

func (e *errUnorderable) Error() string {
	return fmt.Sprintf("'%s' not supported between instances of '%s' and '%s'", e.op, pyTypeName(e.a),
		pyTypeName(e.b))
}

// pyLess is Python's a < b.
func pyLess(a, b any, op string) (bool, error) {
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			ia, aInt := a.(int64)
			ib, bInt := b.(int64)
			if aInt && bInt {
				return ia < ib, nil
			}
			return x < y, nil
		}
		return false, &errUnorderable{op, a, b}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return lessRunes(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if pyEqual(x[i], y[i]) {
					continue
				}
				return pyLess(x[i], y[i], op)
			}
			return len(x) < len(y), nil
		}
	}
	return false, &errUnorderable{op, a, b}
}

// lessRunes compares strings by code point, as Python does.
func lessRunes(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] != rb[i] {
			return ra[i] < rb[i]
		}
	}
	return len(ra) < len(rb)
}
