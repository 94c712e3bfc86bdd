package jsonwire

import (
	"encoding/json"
	"testing"
)

func TestTruthy(t *testing.T) {
	t.Parallel()
	full := NewObject()
	full.Set("a", nil)
	for _, tt := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {int64(0), false}, {int64(-1), true}, {0.0, false}, {0.5, true},
		{json.Number("0"), false}, {json.Number("0.0"), false}, {json.Number("2"), true}, {"", false}, {"x", true},
		{[]any{}, false}, {[]any{nil}, true}, {NewObject(), false}, {full, true},
	} {
		if got := Truthy(tt.v); got != tt.want {
			t.Errorf("Truthy(%#v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
