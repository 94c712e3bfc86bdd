package jsonwire

// Differential fuzz tests against encoding/json. `go test` runs the seed
// corpus in testdata/fuzz (and make test with it); to search for longer:
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s ./jsonwire/
//	go test -run '^$' -fuzz '^FuzzAppendString$' -fuzztime 60s ./jsonwire/
//	go test -run '^$' -fuzz '^FuzzAppendASCIIString$' -fuzztime 60s ./jsonwire/
//
// (make fuzz runs every fuzz target of the API in turn.)

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdDecode is encoding/json's reading of data: one value, numbers as text,
// nothing after it.
func stdDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

// tokenDecode is encoding/json's reading of data in document order (its
// Token stream), with the last of duplicate keys winning at the place of
// the first: the order oracle.
func tokenDecode(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := tokenDecode(dec)
				if err != nil {
					return nil, err
				}
				o.Set(kt.(string), v)
			}
			_, err := dec.Token()
			return o, err
		}
		a := []any{}
		for dec.More() {
			v, err := tokenDecode(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// plain converts ordered values to encoding/json's map representation.
func plain(v any) any {
	switch t := v.(type) {
	case *Object:
		m := make(map[string]any, t.Len())
		for k, e := range t.All() {
			m[k] = plain(e)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// walk calls f on every string (keys included) and number text of data, in
// encoding/json's token stream: values a later duplicate key replaces are
// seen too.
func walk(data []byte, f func(s string, number bool)) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case string:
			f(t, false)
		case json.Number:
			f(string(t), true)
		}
	}
}

var (
	surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)
	numberParts     = regexp.MustCompile(`^-?[0-9]+(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?$`)
)

// outOfRange is an independent statement of the number rule: not a finite
// double, or more than MaxScale decimal places.
func outOfRange(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return true
	}
	m := numberParts.FindStringSubmatch(s)
	scale := len(m[1])
	if m[2] != "" {
		e, err := strconv.Atoi(m[2])
		if err != nil { // beyond int: only a negative one can matter here
			return strings.HasPrefix(m[2], "-")
		}
		scale -= e
	}
	return scale > MaxScale
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0,1e308,"x\u00e9\n"],"b":null}`, `[]`, `"\ud83d\ude00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, err := Decode(data)
		std, stdErr := stdDecode(data)
		if stdErr != nil {
			if err == nil {
				t.Fatalf("accepted what encoding/json refuses (%v): %q", stdErr, data)
			}
			return
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError", err)
			}
			// A refusal of a document encoding/json takes must be one
			// of the documented ones, and true of the document.
			justified := false
			switch {
			case errors.Is(err, ErrInvalidUTF8):
				justified = !utf8.Valid(data)
			case errors.Is(err, ErrNUL):
				walk(data, func(s string, _ bool) { justified = justified || strings.ContainsRune(s, 0) })
			case errors.Is(err, ErrLoneSurrogate):
				walk(data, func(s string, _ bool) { justified = justified || strings.ContainsRune(s, utf8.RuneError) })
				justified = justified && surrogateEscape.Match(data)
			case errors.Is(err, ErrNumberRange):
				walk(data, func(s string, n bool) { justified = justified || (n && outOfRange(s)) })
			}
			if !justified {
				t.Fatalf("refused what encoding/json takes: %v: %q", err, data)
			}
			return
		}
		// Same values as encoding/json, in the same order as its tokens.
		if !reflect.DeepEqual(plain(ours), std) {
			t.Fatalf("values differ from encoding/json: %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		ordered, err := tokenDecode(dec)
		if err != nil {
			t.Fatalf("token stream: %v", err)
		}
		if !reflect.DeepEqual(ours, ordered) {
			t.Fatalf("order differs from encoding/json's tokens: %q", data)
		}
		// What AppendValue writes reads back the same, here and there.
		out := AppendValue(nil, ours)
		again, err := Decode(out)
		if err != nil || !reflect.DeepEqual(again, ours) {
			t.Fatalf("round trip of %q through %q: %v", data, out, err)
		}
		if back, err := stdDecode(out); err != nil || !reflect.DeepEqual(back, std) {
			t.Fatalf("encoding/json reads %q differently: %v", out, err)
		}
		if !compactEqual(out) {
			t.Fatalf("AppendValue wrote non-compact or invalid JSON: %q", out)
		}
	})
}

// compactEqual reports whether b is valid, compact JSON.
func compactEqual(b []byte) bool {
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return false
	}
	return bytes.Equal(c.Bytes(), b)
}

// stdString is encoding/json's encoding of s with HTML escaping off.
func stdString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"plain", "\x00\x1f\"\\<>&", "\u2028\u2029", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString([]byte("prefix"), s)
		want := append([]byte("prefix"), stdString(s)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if esc := AppendEscaped(nil, s); !bytes.Equal(esc, want[len("prefix")+1:len(want)-1]) {
			t.Fatalf("AppendEscaped(%q) = %s", s, esc)
		}
		// What is written reads back: exactly, when s is storable.
		v, err := Decode(got[len("prefix"):])
		switch {
		case utf8.ValidString(s) && !strings.ContainsRune(s, 0):
			if err != nil || v != s {
				t.Fatalf("Decode(AppendString(%q)) = %q, %v", s, v, err)
			}
		case err == nil && strings.ContainsRune(s, 0):
			t.Fatalf("Decode took a NUL back: %q", s)
		}
	})
}

func FuzzAppendASCIIString(f *testing.F) {
	for _, s := range []string{"plain", "\x00\b\f\x7f", "é😀\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendASCIIString(nil, s)
		for _, c := range got {
			if c >= utf8.RuneSelf {
				t.Fatalf("AppendASCIIString(%q) = %q is not ASCII", s, got)
			}
		}
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendASCIIString(%q) = %q: %v", s, got, err)
		}
		if err := json.Unmarshal(stdString(s), &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Fatalf("AppendASCIIString(%q) reads back %q, want %q", s, back, want)
		}
	})
}
