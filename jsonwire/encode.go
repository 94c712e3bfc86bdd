package jsonwire

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Appenders. Each appends to a caller-owned buffer and returns it; none
// allocates beyond growing that buffer.

const hexDigits = "0123456789abcdef"

// safeASCII[b] is true for the ASCII bytes that need no escaping in a JSON
// string: everything from space on but '"' and '\\' (HTML characters
// included: Ironic does not escape them). A read-only table.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string, byte for byte as encoding/json
// writes it with HTML escaping off: invalid UTF-8 becomes \ufffd, U+2028 and
// U+2029 are escaped, control characters use \b \f \n \r \t or \u00XX.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendEscaped(b, s)
	return append(b, '"')
}

// AppendEscaped appends the inside of a JSON string holding s (AppendString
// without the quotes).
func AppendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendASCIIEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendASCIIEscape appends the escape of an ASCII byte that is not safe.
func appendASCIIEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}

// AppendASCIIString appends s as a JSON string escaping every non-ASCII
// rune, as Python's json.dumps does by default (ensure_ascii=True); Ironic's
// error bodies are written that way. Invalid UTF-8 becomes \ufffd.
func AppendASCIIString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && safeASCII[r]:
			b = append(b, byte(r))
		case r < utf8.RuneSelf:
			b = appendASCIIEscape(b, byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			b = appendU4(b, 0xD800+(r>>10))
			b = appendU4(b, 0xDC00+(r&0x3FF))
		default:
			b = appendU4(b, r)
		}
	}
	return append(b, '"')
}

func appendU4(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// AppendStringPtr appends *s as a JSON string, or null.
func AppendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendString(b, *s)
}

// AppendStringOrNull appends s, or null when s is empty.
func AppendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return AppendString(b, s)
}

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// AppendBoolPtr appends *v, or null.
func AppendBoolPtr(b []byte, v *bool) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return AppendBool(b, *v)
}

// AppendRawObject appends a stored JSON object as it is, or {} when raw is
// empty or null. raw is trusted to be valid JSON (it comes from a jsonb
// column).
func AppendRawObject(b []byte, raw []byte) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return append(b, '{', '}')
	}
	return append(b, raw...)
}

// AppendTime appends t the way Python's datetime.isoformat() renders an
// aware UTC timestamp, as Ironic's clients read it: microseconds only when
// non-zero, a "+00:00" offset.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	if year < 0 || year > 9999 {
		b = t.AppendFormat(b, "2006")
	} else {
		b = appendDigits(b, year, 4)
	}
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if us := t.Nanosecond() / 1000; us != 0 {
		b = append(b, '.')
		b = appendDigits(b, us, 6)
	}
	return append(b, `+00:00"`...)
}

// appendDigits appends v zero-padded to n digits.
func appendDigits(b []byte, v, n int) []byte {
	var d [8]byte
	for i := n - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:n]...)
}

// AppendTimePtr appends *t as AppendTime does, or null for nil or the zero
// time.
func AppendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil || t.IsZero() {
		return append(b, "null"...)
	}
	return AppendTime(b, *t)
}

// AppendStrings appends a JSON array of strings.
func AppendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// AppendKey appends `"key":`, preceded by a comma unless first. key is
// written as it is: it must be a constant that needs no escaping.
func AppendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// AppendValue appends v as compact JSON. v is a decoded value (nil, bool,
// json.Number, string, []any, *Object), a json.RawMessage (appended as it
// is) or an int; anything else is encoded by encoding/json (null if it
// cannot be).
func AppendValue(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return AppendBool(b, t)
	case json.Number:
		return append(b, t...)
	case string:
		return AppendString(b, t)
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendValue(b, e)
		}
		return append(b, ']')
	case *Object:
		b = append(b, '{')
		for i, k := range t.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			b = AppendValue(b, t.vals[i])
		}
		return append(b, '}')
	case json.RawMessage:
		return append(b, t...)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// Encode returns v as compact JSON (AppendValue into a new buffer).
func Encode(v any) json.RawMessage { return AppendValue(nil, v) }
