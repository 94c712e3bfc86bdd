package jsonwire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The messages are Python 3.11's json.loads on the same input (Debian 12,
// what Ironic 21.4 runs on).
func TestDecodeSyntaxErrorsReadAsPython(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"driver":`, "Expecting value: line 1 column 11 (char 10)"},
		{``, "Expecting value: line 1 column 1 (char 0)"},
		{`   `, "Expecting value: line 1 column 4 (char 3)"},
		{`{"a" 1}`, "Expecting ':' delimiter: line 1 column 6 (char 5)"},
		{`{"a":1 "b"}`, "Expecting ',' delimiter: line 1 column 8 (char 7)"},
		{`{"a":1,}`, "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"},
		{`[1,]`, "Expecting value: line 1 column 4 (char 3)"},
		{`[1 2]`, "Expecting ',' delimiter: line 1 column 4 (char 3)"},
		{`{1:2}`, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
		{`"abc`, "Unterminated string starting at: line 1 column 1 (char 0)"},
		{"\"a\x01b\"", "Invalid control character at: line 1 column 3 (char 2)"},
		{"\"\t\"", "Invalid control character at: line 1 column 2 (char 1)"},
		{`"\x"`, "Invalid \\escape: line 1 column 2 (char 1)"},
		{`"a\u12"`, "Invalid \\uXXXX escape: line 1 column 4 (char 3)"},
		{`"a\u12x4"xx`, "Invalid \\uXXXX escape: line 1 column 4 (char 3)"},
		{`"\u1234`, "Invalid \\uXXXX escape: line 1 column 3 (char 2)"},
		{`"\ud800\u00"`, "Invalid \\uXXXX escape: line 1 column 9 (char 8)"},
		{`"\`, "Unterminated string starting at: line 1 column 1 (char 0)"},
		{`{"a":"b\`, "Unterminated string starting at: line 1 column 6 (char 5)"},
		{`{"a":1}{`, "Extra data: line 1 column 8 (char 7)"},
		{` [1] x`, "Extra data: line 1 column 6 (char 5)"},
		{"\n\n  {\"a\" 1}", "Expecting ':' delimiter: line 3 column 8 (char 9)"},
		{`{"éé": 1 2}`, "Expecting ',' delimiter: line 1 column 10 (char 9)"},
		{`[01]`, "Expecting ',' delimiter: line 1 column 3 (char 2)"},
		{`1.`, "Extra data: line 1 column 2 (char 1)"},
		{`-`, "Expecting value: line 1 column 1 (char 0)"},
		{`[-]`, "Expecting value: line 1 column 2 (char 1)"},
		{`nul`, "Expecting value: line 1 column 1 (char 0)"},
		{`[1,2`, "Expecting ',' delimiter: line 1 column 5 (char 4)"},
		{`{"a"`, "Expecting ':' delimiter: line 1 column 5 (char 4)"},
		{`{`, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
		{`[`, "Expecting value: line 1 column 2 (char 1)"},
		{`[1,,2]`, "Expecting value: line 1 column 4 (char 3)"},
		{`NaN`, "Expecting value: line 1 column 1 (char 0)"}, // Python takes NaN; JSON does not
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%q) = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if se.Error() != tt.want {
			t.Errorf("Decode(%q) = %q, want %q", tt.in, se.Error(), tt.want)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"NUL escape", `{"a":"x\u0000y"}`, ErrNUL},
		{"NUL in a key", `{"\u0000":1}`, ErrNUL},
		{"invalid UTF-8", "{\"a\":\"x\xffy\"}", ErrInvalidUTF8},
		{"invalid UTF-8 after an escape", "{\"a\":\"\\n\xc3\"}", ErrInvalidUTF8},
		{"overlong encoding", "\"\xc0\xaf\"", ErrInvalidUTF8},
		{"encoded surrogate", "\"\xed\xa0\x80\"", ErrInvalidUTF8},
		{"lone high surrogate", `"\ud800"`, ErrLoneSurrogate},
		{"high surrogate then a letter", `"\ud800\u0041"`, ErrLoneSurrogate},
		{"lone low surrogate", `"\uDC00x"`, ErrLoneSurrogate},
		{"number beyond a double", `{"x":1e1000000}`, ErrNumberRange},
		{"just beyond a double", `2e308`, ErrNumberRange},
		{"negative beyond a double", `-1.8e308`, ErrNumberRange},
		{"too many decimal places", `1.5e-16383`, ErrNumberRange},
		{"a huge negative exponent", `1e-99999999999999999999999`, ErrNumberRange},
		{"zero with a huge scale", `0e-20000`, ErrNumberRange},
		{"too deep", deep, ErrTooDeep},
		{"trailing data", `{} {}`, ErrTrailingData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%T is not a *SyntaxError", err)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{`1e308`, json.Number("1e308")},
		{`-0`, json.Number("-0")},
		{`1e-400`, json.Number("1e-400")}, // a double's 0; PostgreSQL keeps all 400 places
		{`1e-16383`, json.Number("1e-16383")},
		{`123.456e-16380`, json.Number("123.456e-16380")},
		{`123456789012345678901234567890`, json.Number("123456789012345678901234567890")},
		{`1E+2`, json.Number("1E+2")},
		{`"\ud83d\ude00 \u00e9 \u2028"`, "😀 é \u2028"},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{"\"\x7f\"", "\x7f"},
		{` {"b": [true, false, null], "a": {}} `, func() any {
			o := NewObject()
			o.Set("b", []any{true, false, nil})
			o.Set("a", NewObject())
			return o
		}()},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	// DecodeStored reads what PostgreSQL may hold.
	if _, err := DecodeStored([]byte(`{"x":1e400}`)); err != nil {
		t.Errorf("DecodeStored: %v", err)
	}
	// MaxDepth levels are fine.
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Decode([]byte(deep)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
}

func TestDecodeKeepsOrderAndLastDuplicate(t *testing.T) {
	t.Parallel()
	v, err := Decode([]byte(`{"z":1,"a":2,"m":{"y":1,"b":2},"a":3}`))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	if got := strings.Join(o.Keys(), ","); got != "z,a,m" {
		t.Errorf("keys %s", got)
	}
	if o.Value("a") != json.Number("3") {
		t.Errorf("a = %v, want the last duplicate", o.Value("a"))
	}
	if got := string(Encode(o)); got != `{"z":1,"a":3,"m":{"y":1,"b":2}}` {
		t.Errorf("Encode = %s", got)
	}
}

func TestObjectIndexedAndSmall(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, indexFrom - 1, indexFrom, 3 * indexFrom} {
		o := NewObject()
		for i := range n {
			o.Set(string(rune('A'+i%26))+strings.Repeat("x", i/26), i)
		}
		if o.Len() != n {
			t.Fatalf("Len = %d, want %d", o.Len(), n)
		}
		c := o.Clone()
		for i := 0; i < n; i += 2 {
			k := o.Keys()[0]
			if !o.Delete(k) || o.Delete(k) {
				t.Fatalf("n=%d: Delete(%s) twice", n, k)
			}
			if _, ok := o.Get(k); ok {
				t.Fatalf("n=%d: %s still present", n, k)
			}
		}
		for i, k := range o.Keys() {
			v, ok := o.Get(k)
			if !ok || v != c.Value(k) {
				t.Fatalf("n=%d: key %d %s = %v, %v", n, i, k, v, ok)
			}
		}
		o.Set("new", 1)
		if o.Keys()[o.Len()-1] != "new" || c.Len() != n {
			t.Fatalf("n=%d: Set after Delete or Clone shares state", n)
		}
		var seen []string
		for k := range c.All() {
			seen = append(seen, k)
		}
		if !reflect.DeepEqual(seen, c.Keys()) {
			t.Fatalf("All = %v, Keys = %v", seen, c.Keys())
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	t.Parallel()
	v, _ := Decode([]byte(`{"a":{"b":[1,{"c":2}]}}`))
	o := v.(*Object)
	c := o.Clone()
	c.Value("a").(*Object).Value("b").([]any)[1].(*Object).Set("c", 3)
	if string(Encode(o)) != `{"a":{"b":[1,{"c":2}]}}` {
		t.Errorf("the original changed: %s", Encode(o))
	}
}

func TestAppenders(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 0, 23, 6, 984815000, time.UTC)
	tests := []struct{ got, want string }{
		{string(AppendString(nil, "a\"\\\b\f\n\r\t\x01<>&\u2028\u2029é\xff")), `"a\"\\\b\f\n\r\t\u0001<>&\u2028\u2029é\ufffd"`},
		// Python's json.dumps("é😀\b\x7f") with ensure_ascii.
		{string(AppendASCIIString(nil, "é😀\b\x7f")), `"\u00e9\ud83d\ude00\b` + "\x7f" + `"`},
		{string(AppendTime(nil, at)), `"2026-11-25T00:23:06.984815+00:00"`},
		{string(AppendTime(nil, at.Truncate(time.Second).In(time.FixedZone("x", 3600)))), `"2026-11-25T00:23:06+00:00"`},
		{string(AppendTimePtr(nil, &time.Time{})), `null`},
		{string(AppendStrings(AppendKey(AppendKey(nil, "a", true), "b", false), []string{"x", "y"})), `"a":,"b":["x","y"]`},
		{string(AppendRawObject(nil, []byte("null"))), `{}`},
		{string(AppendStringOrNull(nil, "")), `null`},
		{string(AppendValue(nil, []any{1, json.RawMessage(`{"r":1}`), map[string]int{"m": 1}, func() {}})), `[1,{"r":1},{"m":1},null]`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}
