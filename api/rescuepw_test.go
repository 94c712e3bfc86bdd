package api

import (
	"strings"
	"testing"
)

// The test vectors of Drepper's specification (default rounds).
func TestSHA512Crypt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ pw, salt, want string }{
		{"Hello world!", "saltstring",
			"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	} {
		if got := sha512Crypt(tt.pw, tt.salt); got != tt.want {
			t.Errorf("sha512Crypt(%q, %q) = %s, want %s", tt.pw, tt.salt, got, tt.want)
		}
	}
	h := hashRescuePassword("s3cret")
	if !strings.HasPrefix(h, "$6$") || len(h) != 3+16+1+86 || strings.Contains(h, "s3cret") {
		t.Errorf("hashRescuePassword = %q", h)
	}
}
