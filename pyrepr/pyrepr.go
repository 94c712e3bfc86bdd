// Package pyrepr renders decoded JSON values as Python's repr() does.
// Ironic builds many of its messages from Python's repr() and str() of what
// the client or the ramdisk sent; ferric's messages must read the same.
package pyrepr

import (
	"fmt"
	"strings"
)

// Ext renders the values a caller's decoder produces beyond nil, bool,
// string and []any (numbers, objects), or overrides how a string is
// written; it reports false for a value it does not render.
type Ext func(sb *strings.Builder, v any) bool

// Write writes Python's repr() of v: None, True, False, quoted strings and
// lists; ext (nil: none) comes first, and what neither knows is written
// with fmt.Fprint.
func Write(sb *strings.Builder, v any, ext Ext) {
	if ext != nil && ext(sb, v) {
		return
	}
	switch t := v.(type) {
	case nil:
		sb.WriteString("None")
	case bool:
		if t {
			sb.WriteString("True")
		} else {
			sb.WriteString("False")
		}
	case string:
		sb.WriteString(Quote(t))
	case []any:
		sb.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				sb.WriteString(", ")
			}
			Write(sb, e, ext)
		}
		sb.WriteByte(']')
	default:
		fmt.Fprint(sb, t)
	}
}

// Quote is Python's repr() of a str: single quotes unless the text holds a
// single quote and no double quote.
func Quote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var sb strings.Builder
	sb.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r == rune(q):
			sb.WriteByte('\\')
			sb.WriteByte(q)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte(q)
	return sb.String()
}
