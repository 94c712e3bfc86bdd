package auth

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkBasic compares http_basic with its cache of verified credentials
// (every request after the first) against a bcrypt comparison per request
// (cost 10, htpasswd -B's default).
func BenchmarkBasic(b *testing.B) {
	path := filepath.Join(b.TempDir(), "htpasswd")
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("admin:"+string(h)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := basicHeader("admin", "pw")
	b.Run("cached", func(b *testing.B) {
		bs, err := NewBasic(BasicConfig{UserFile: path})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bs.Authenticate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bcrypt-every-request", func(b *testing.B) {
		for b.Loop() {
			if err := bcrypt.CompareHashAndPassword(h, []byte("pw")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
