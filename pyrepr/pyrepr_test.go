package pyrepr

import (
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    any
		want string
	}{
		{nil, "None"},
		{true, "True"},
		{[]any{false, "a", []any{}}, "[False, 'a', []]"},
		{"it's", `"it's"`},
		{`it's "x"`, `'it\'s "x"'`},
		{"tab\there\x01\\", `'tab\there\x01\\'`},
		{"né", "'né'"},
		{3, "3"},
	} {
		var sb strings.Builder
		Write(&sb, tt.v, nil)
		if sb.String() != tt.want {
			t.Errorf("Write(%#v) = %s, want %s", tt.v, sb.String(), tt.want)
		}
	}
	var sb strings.Builder
	Write(&sb, []any{1.5, "s"}, func(sb *strings.Builder, v any) bool {
		if f, ok := v.(float64); ok {
			sb.WriteString(strings.Repeat("f", int(f*2)))
			return true
		}
		return false
	})
	if sb.String() != "[fff, 's']" {
		t.Errorf("ext: %s", sb.String())
	}
}
