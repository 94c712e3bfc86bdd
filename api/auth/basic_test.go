package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// htpasswdLine returns "user:bcrypt(password)" (cost 4: tests only).
func htpasswdLine(t testing.TB, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// htpasswd -B writes $2y$; Go writes $2a$: both are accepted.
	return user + ":" + strings.Replace(string(h), "$2a$", "$2y$", 1)
}

// writeFile writes content to path and moves its modification time forward
// (file systems with coarse timestamps would otherwise hide the change).
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	old, _ := os.Stat(path)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if old != nil {
		mt := old.ModTime().Add(time.Second)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

func basicHeader(user, password string) Request {
	return Request{HasAuthorization: true,
		Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

func TestBasicAuthenticate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, path, htpasswdLine(t, "alice", "wonderland")+"\n\n# comment without colon\n"+
		htpasswdLine(t, "bob", "builder:with:colons")+"\n")
	var logs bytes.Buffer
	b, err := NewBasic(BasicConfig{UserFile: path, Log: slog.New(slog.NewTextHandler(&logs,
		&slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if b.Users() != 2 {
		t.Fatalf("users = %d", b.Users())
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		req  Request
		kind error
		msg  string
	}{
		{"missing", Request{}, ErrUnauthenticated, "Authorization required"},
		{"empty", Request{HasAuthorization: true}, ErrMalformed, "Could not parse Authorization header"},
		{"type only", Request{HasAuthorization: true, Authorization: "Basic"}, ErrMalformed, "Could not parse Authorization header"},
		{"bearer", Request{HasAuthorization: true, Authorization: "Bearer abc"}, ErrMalformed, `Unsupported authorization type "Bearer"`},
		{"not base64", Request{HasAuthorization: true, Authorization: "Basic %%%"}, ErrMalformed, "Could not decode authorization token"},
		{"unpadded", Request{HasAuthorization: true, Authorization: "Basic YWxpY2U6d29uZGVybGFuZA"}, ErrMalformed, "Could not decode authorization token"},
		{"no colon", Request{HasAuthorization: true, Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))},
			ErrMalformed, "Could not decode authorization token"},
		{"unknown user", basicHeader("carol", "wonderland"), ErrUnauthenticated, "Incorrect username or password"},
		{"wrong password", basicHeader("alice", "looking-glass"), ErrUnauthenticated, "Incorrect username or password"},
		{"ok", basicHeader("alice", "wonderland"), nil, ""},
		{"ok, lower-case type", Request{HasAuthorization: true, Authorization: "  basic   " +
			base64.StdEncoding.EncodeToString([]byte("alice:wonderland"))}, nil, ""},
		{"password with colons", basicHeader("bob", "builder:with:colons"), nil, ""},
	} {
		c, err := b.Authenticate(ctx, tt.req)
		if tt.kind == nil {
			if err != nil || c == nil || !c.Unrestricted || c.Strategy != StrategyHTTPBasic || c.User() == "" {
				t.Errorf("%s: %+v, %v", tt.name, c, err)
			}
			continue
		}
		var ae *Error
		if !errors.Is(err, tt.kind) || !errors.As(err, &ae) || ae.Message != tt.msg {
			t.Errorf("%s: %v, want %v %q", tt.name, err, tt.kind, tt.msg)
		}
	}
	for _, secret := range []string{"wonderland", "looking-glass", "builder"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a password is in the debug log:\n%s", logs.String())
		}
	}
}

func TestBasicCache(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, path, htpasswdLine(t, "alice", "one")+"\n")
	b, err := NewBasic(BasicConfig{UserFile: path, CheckInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 {
		if _, err := b.Authenticate(ctx, basicHeader("alice", "one")); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.compares.Load(); n != 1 {
		t.Errorf("bcrypt compared %d times for 5 requests with the same credentials, want 1", n)
	}
	// Wrong passwords are never remembered.
	for range 2 {
		if _, err := b.Authenticate(ctx, basicHeader("alice", "two")); !errors.Is(err, ErrUnauthenticated) {
			t.Fatal(err)
		}
	}
	if n := b.compares.Load(); n != 3 {
		t.Errorf("bcrypt compared %d times, want 3", n)
	}
	// A new password in the file: the old one is refused at once, though
	// it is cached.
	writeFile(t, path, htpasswdLine(t, "alice", "two")+"\n")
	if _, err := b.Authenticate(ctx, basicHeader("alice", "one")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("old password after the change: %v", err)
	}
	if _, err := b.Authenticate(ctx, basicHeader("alice", "two")); err != nil {
		t.Errorf("new password: %v", err)
	}
	// Removed from the file: refused.
	writeFile(t, path, htpasswdLine(t, "bob", "x")+"\n")
	if _, err := b.Authenticate(ctx, basicHeader("alice", "two")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("removed user: %v", err)
	}
	// The cache stays bounded.
	small, err := NewBasic(BasicConfig{UserFile: path, CacheSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		small.remember([32]byte{byte(i)}, basicEntry{expires: time.Now().Add(time.Hour)}, time.Now())
	}
	if len(small.cache) > 2 {
		t.Errorf("cache holds %d entries, bound 2", len(small.cache))
	}
}

func TestBasicReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, path, htpasswdLine(t, "alice", "a")+"\n")
	var logs bytes.Buffer
	b, err := NewBasic(BasicConfig{UserFile: path, CheckInterval: time.Nanosecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	writeFile(t, path, htpasswdLine(t, "alice", "a")+"\n"+htpasswdLine(t, "bob", "b")+"\n")
	if _, err := b.Authenticate(ctx, basicHeader("bob", "b")); err != nil {
		t.Fatalf("user added to the file: %v", err)
	}
	// A broken file is refused and the users loaded before stay.
	writeFile(t, path, "carol:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\n")
	for range 3 {
		if _, err := b.Authenticate(ctx, basicHeader("bob", "b")); err != nil {
			t.Fatalf("after a broken file: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "not reloaded"); n != 1 {
		t.Errorf("broken file logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "fEqNCco3") {
		t.Error("a hash is in the log")
	}
	// Deleted: the same.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, basicHeader("alice", "a")); err != nil {
		t.Fatalf("after the file was removed: %v", err)
	}
}

func TestBasicRefusesNonBcrypt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"sha1":  "alice:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\n",
		"md5":   htpasswdLine(t, "ok", "x") + "\nbob:$apr1$Zw2T7sXr$hH7sS1mNHg9kq2pIEbzPn/\n",
		"crypt": "carol:rqXexS6ZhobKA\n",
	} {
		path := filepath.Join(dir, name)
		writeFile(t, path, content)
		_, err := NewBasic(BasicConfig{UserFile: path})
		if !errors.Is(err, ErrBadUserFile) || !strings.Contains(err.Error(), "only bcrypt") {
			t.Errorf("%s: %v, want ErrBadUserFile saying only bcrypt", name, err)
			continue
		}
		for _, frag := range []string{"fEqNCco3", "Zw2T7sXr", "rqXexS6"} {
			if strings.Contains(err.Error(), frag) {
				t.Errorf("%s: the error shows the hash: %v", name, err)
			}
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := NewBasic(BasicConfig{UserFile: filepath.Join(dir, "missing")}); !errors.Is(err, ErrBadUserFile) {
		t.Errorf("missing file: %v", err)
	}
}
