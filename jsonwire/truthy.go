package jsonwire

import (
	"encoding/json"
	"strconv"
)

// Truthy is Python's bool() of a decoded JSON value, as Ironic's code
// tests one: false for None, False, zero (a json.Number, or an int64 or
// float64 as the inspection rules engine holds numbers), the empty string,
// list and object; true otherwise.
func Truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case float64:
		return t != 0
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return err != nil || f != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case *Object:
		return t.Len() > 0
	}
	return true
}
