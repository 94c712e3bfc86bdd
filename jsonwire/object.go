// Package jsonwire reads and writes JSON the way ferric's API puts it on the
// wire.
//
// Writing: appenders (AppendString, AppendTime, AppendValue, ...) build a
// response into a caller-owned buffer, in whatever key order the caller
// writes, without reflection. AppendString is byte-for-byte encoding/json's
// encoding with HTML escaping off, which is also Python's (Ironic's).
//
// Reading: Decode parses one request body into ordered values — nil, bool,
// json.Number, string, []any and *Object, whose members keep their document
// order, so that messages quoting a client's document quote it the way it
// was sent, as Ironic does. Decode is strict where encoding/json is lenient
// and where PostgreSQL would refuse the value later: it refuses invalid
// UTF-8 (encoding/json replaces it with U+FFFD), \u0000 (jsonb and text
// columns cannot hold NUL), unpaired UTF-16 surrogate escapes (jsonb refuses
// them; encoding/json replaces them), numbers that are not finite
// double-precision values or that have more than 16383 decimal places
// (PostgreSQL's numeric scale limit), and nesting deeper than 10000 levels.
// Every document Decode accepts, encoding/json accepts with the same
// meaning; the fuzz tests check that against encoding/json.
//
// Syntax errors are reported in the words and positions of Python's json
// module (what Ironic's clients read), e.g. "Expecting value: line 1 column
// 11 (char 10)".
package jsonwire

import "iter"

// Object is a JSON object that keeps its members in document order. Setting
// an existing key replaces its value in place, as a Python dict does. The
// zero value is an empty object.
type Object struct {
	keys []string
	vals []any
	// index maps keys to positions once the object is large enough for a
	// linear search to cost more than the map.
	index map[string]int
}

// indexFrom is the size at which an Object starts keeping an index.
const indexFrom = 16

// NewObject returns an empty object.
func NewObject() *Object { return &Object{} }

// ObjectOf builds an object from key, value pairs, in order: ObjectOf("a",
// 1, "b", x). Keys must be strings (anything else is a programming error
// and panics); an odd trailing argument is ignored.
func ObjectOf(kv ...any) *Object {
	o := &Object{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// Len returns the number of members.
func (o *Object) Len() int { return len(o.keys) }

// Keys returns the member names in order. The slice belongs to o: do not
// modify it.
func (o *Object) Keys() []string { return o.keys }

// All yields the members in order.
func (o *Object) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, k := range o.keys {
			if !yield(k, o.vals[i]) {
				return
			}
		}
	}
}

func (o *Object) find(k string) int {
	if o.index != nil {
		if i, ok := o.index[k]; ok {
			return i
		}
		return -1
	}
	for i, key := range o.keys {
		if key == k {
			return i
		}
	}
	return -1
}

// Get returns the value of member k and whether it is present.
func (o *Object) Get(k string) (any, bool) {
	if i := o.find(k); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// Value returns the value of member k, nil when absent.
func (o *Object) Value(k string) any {
	v, _ := o.Get(k)
	return v
}

// Set sets member k to v, appending it when new.
func (o *Object) Set(k string, v any) {
	if i := o.find(k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	switch {
	case o.index != nil:
		o.index[k] = len(o.keys) - 1
	case len(o.keys) >= indexFrom:
		o.index = make(map[string]int, 2*len(o.keys))
		for i, key := range o.keys {
			o.index[key] = i
		}
	}
}

// Delete removes member k and reports whether it was present.
func (o *Object) Delete(k string) bool {
	i := o.find(k)
	if i < 0 {
		return false
	}
	o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
	o.vals = append(o.vals[:i:i], o.vals[i+1:]...)
	if o.index != nil {
		delete(o.index, k)
		for j := i; j < len(o.keys); j++ {
			o.index[o.keys[j]] = j
		}
	}
	return true
}

// MarshalJSON encodes o with its members in order (AppendValue), so that
// an Object inside a value given to encoding/json keeps its order.
func (o *Object) MarshalJSON() ([]byte, error) { return AppendValue(nil, o), nil }

// Clone returns a deep copy of o (nil for nil).
func (o *Object) Clone() *Object {
	if o == nil {
		return nil
	}
	c := &Object{keys: append([]string(nil), o.keys...), vals: make([]any, len(o.vals))}
	for i, v := range o.vals {
		c.vals[i] = CloneValue(v)
	}
	if o.index != nil {
		c.index = make(map[string]int, len(o.index))
		for k, i := range o.index {
			c.index[k] = i
		}
	}
	return c
}

// CloneValue returns a deep copy of a decoded value: objects and arrays
// are copied, other values (immutable) returned as they are.
func CloneValue(v any) any {
	switch t := v.(type) {
	case *Object:
		return t.Clone()
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = CloneValue(e)
		}
		return c
	}
	return v // immutable: nil, bool, json.Number, string
}
