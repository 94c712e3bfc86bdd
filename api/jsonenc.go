package api

import (
	"time"
	"unicode/utf8"
)

// Hand-rolled JSON appenders. Ironic's clients read JSON objects whose key
// order follows Ironic's own; encoding/json over maps would lose that order
// and reflection over structs would cost more than the rest of a list request.
// Everything here appends to a caller-owned buffer and allocates nothing.

const hexDigits = "0123456789abcdef"

// safeASCII[b] is true for ASCII bytes that need no escaping in a JSON string.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; HTML characters are not escaped (Ironic does not).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
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
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendASCIIString appends s as a JSON string escaping every non-ASCII rune
// (Python's json.dumps default, ensure_ascii=True). Used for error bodies.
func appendASCIIString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
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

// appendStringPtr appends *s as a JSON string, or null.
func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendStringOrNull appends s, or null when s is empty.
func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func appendBoolPtr(b []byte, v *bool) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendBool(b, *v)
}

// appendRawObject appends a stored JSON object, or {} when it is empty.
// Stored values are trusted to be valid JSON (they come from jsonb columns).
func appendRawObject(b []byte, raw []byte) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return append(b, '{', '}')
	}
	return append(b, raw...)
}

// appendTime appends t the way Python's datetime.isoformat() renders an
// aware UTC timestamp: microseconds only when non-zero, "+00:00" offset.
func appendTime(b []byte, t time.Time) []byte {
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

func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil || t.IsZero() {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendStrings appends a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendKey appends `"key":`, preceded by a comma unless first.
func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...) // keys are constants without characters to escape
	return append(b, '"', ':')
}

// appendLinks appends Ironic's [self, bookmark] link pair for
// <base>/v1/<path> and <base>/<path>.
func appendLinks(b []byte, base, path string) []byte {
	return appendLinksParts(b, escapeURL(base), path, "", "")
}

// appendLinksParts is appendLinks for <prefix><id><suffix> with an already
// JSON-escaped base, without building the path string.
func appendLinksParts(b []byte, escBase, prefix, id, suffix string) []byte {
	b = append(b, `[{"href":"`...)
	b = append(b, escBase...)
	b = append(b, "/v1/"...)
	b = appendPath(b, prefix, id, suffix)
	b = append(b, `","rel":"self"},{"href":"`...)
	b = append(b, escBase...)
	b = append(b, '/')
	b = appendPath(b, prefix, id, suffix)
	return append(b, `","rel":"bookmark"}]`...)
}

func appendPath(b []byte, prefix, id, suffix string) []byte {
	b = appendEscapedURL(b, prefix)
	b = appendEscapedURL(b, id)
	return appendEscapedURL(b, suffix)
}

// escapeURL returns s escaped for the inside of a JSON string.
func escapeURL(s string) string { return string(appendEscapedURL(nil, s)) }

// appendEscapedURL appends the inside of a JSON string holding a URL; URLs
// rarely need escaping, so this avoids the general path for the common case.
func appendEscapedURL(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !safeASCII[c] {
			q := appendString(nil, s)
			return append(b, q[1:len(q)-1]...)
		}
	}
	return append(b, s...)
}
