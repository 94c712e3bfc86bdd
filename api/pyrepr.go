package api

import (
	"encoding/json"
	"strings"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/pyrepr"
)

// Python renderings of decoded values. Ironic builds many messages with
// Python's repr() and str() of what the client sent ("'x' is not of type
// 'object'"); these reproduce them.

// pyRepr renders v the way Python's repr() renders the decoded value.
func pyRepr(v any) string {
	var sb strings.Builder
	writePyRepr(&sb, v)
	return sb.String()
}

func writePyRepr(sb *strings.Builder, v any) {
	pyrepr.Write(sb, v, wireRepr)
}

// wireRepr renders what jsonwire decodes beyond pyrepr's values: numbers
// as sent, objects in order, and strings cut (clipEcho).
func wireRepr(sb *strings.Builder, v any) bool {
	switch t := v.(type) {
	case json.Number:
		sb.WriteString(string(t))
	case string:
		sb.WriteString(pyStr(t))
	case *jsonwire.Object:
		sb.WriteByte('{')
		i := 0
		for k, e := range t.All() {
			if i > 0 {
				sb.WriteString(", ")
			}
			i++
			sb.WriteString(pyStr(k))
			sb.WriteString(": ")
			writePyRepr(sb, e)
		}
		sb.WriteByte('}')
	default:
		return false
	}
	return true
}

// maxEcho is how many characters of a client's string a message quotes;
// longer ones are cut and marked with "...", as Python's reprlib does.
const maxEcho = 256

// clipEcho returns s, or its first maxEcho characters and "...".
func clipEcho(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	n := 0
	for i := range s {
		if n == maxEcho {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

// pyStr is Python's repr() of a str: single quotes unless the text holds a
// single quote and no double quote. Long strings are cut (clipEcho).
func pyStr(s string) string {
	return pyrepr.Quote(clipEcho(s))
}

// pyTypeName names v's JSON type in jsonschema's words.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *jsonwire.Object:
		return "object"
	}
	return "unknown"
}
