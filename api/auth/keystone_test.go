package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferric-project/ferric/api/auth/keystonetest"
)

// keystone is this package's Keystone, started by the first test needing it.
var keystone keystonetest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	keystone.Stop()
	os.Exit(code)
}

// fixture returns the shared Keystone with this package's identities.
func fixture(t *testing.T) (*keystonetest.Server, *keystonetest.Fixture) {
	t.Helper()
	ks := keystone.Get(t)
	fixtureOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sharedFixture, fixtureErr = ks.NewFixture(ctx, "auth-")
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return ks, sharedFixture
}

var (
	fixtureOnce   sync.Once
	sharedFixture *keystonetest.Fixture
	fixtureErr    error
)

// gate is a reverse proxy in front of Keystone that counts token
// validations and can play an outage.
type gate struct {
	*httptest.Server
	validations atomic.Int64
	down        atomic.Bool
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() {
			// Keystone is gone: the connection drops without an answer.
			hj, ok := w.(http.Hijacker)
			if ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/auth/tokens") {
			g.validations.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

func newKeystone(t *testing.T, authURL string, svc keystonetest.Account, edit func(*KeystoneConfig)) (*Keystone, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	cfg := KeystoneConfig{AuthURL: authURL, Username: svc.Name, Password: svc.Password,
		Log: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if edit != nil {
		edit(&cfg)
	}
	k, err := NewKeystone(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k, logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func token(t *testing.T, ks *keystonetest.Server, a keystonetest.Account) string {
	t.Helper()
	tok, err := a.Token(t.Context(), ks)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestKeystoneCredentials(t *testing.T) {
	t.Parallel()
	ks, fx := fixture(t)
	g := newGate(t, ks.URL)
	k, logs := newKeystone(t, g.URL+"/v3", fx.Service, nil)
	ctx := t.Context()

	sys := token(t, ks, fx.Accounts["system-admin"])
	c, err := k.Authenticate(ctx, Request{AuthToken: sys})
	if err != nil {
		t.Fatal(err)
	}
	if !c.SystemScoped() || c.ProjectID != "" || !c.HasRole("admin") || !c.HasRole("reader") || c.Unrestricted ||
		c.UserID != fx.Accounts["system-admin"].UserID || c.ExpiresAt.IsZero() {
		t.Errorf("system admin credentials = %+v", c)
	}
	member := token(t, ks, fx.Accounts["owner-member"])
	c, err = k.Authenticate(ctx, Request{AuthToken: member})
	if err != nil {
		t.Fatal(err)
	}
	if c.SystemScoped() || c.ProjectID != fx.Projects["owner"] || !c.HasRole("member") || c.HasRole("admin") ||
		c.ProjectName != "auth-owner" {
		t.Errorf("project member credentials = %+v", c)
	}
	// Cached: the same tokens again do not reach Keystone.
	before := g.validations.Load()
	for range 10 {
		if _, err := k.Authenticate(ctx, Request{AuthToken: member}); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.validations.Load() - before; n != 0 {
		t.Errorf("%d validations for cached tokens", n)
	}
	// Missing and bogus tokens.
	for _, tok := range []string{"", "gAAAAAbogus", strings.Repeat("x", 300)} {
		if _, err := k.Authenticate(ctx, Request{AuthToken: tok}); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %.10q: %v, want ErrUnauthenticated", tok, err)
		}
	}
	// Invalid tokens are remembered too.
	before = g.validations.Load()
	_, _ = k.Authenticate(ctx, Request{AuthToken: "gAAAAAbogus"})
	if n := g.validations.Load() - before; n != 0 {
		t.Errorf("%d validations for a token known to be invalid", n)
	}
	for _, secret := range []string{sys, member, fx.Service.Password} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a token or password is in the debug log:\n%s", logs.String())
		}
	}
	if k.Challenge() != `Keystone uri="`+g.URL+`/v3"` {
		t.Errorf("challenge %q", k.Challenge())
	}
}

func TestKeystoneExpiredToken(t *testing.T) {
	t.Parallel()
	ks, fx := fixture(t)
	ctx := t.Context()
	a := fx.Accounts["owner-reader"]
	id, secret, err := ks.CreateAppCredential(ctx, a.UserID, a.Name, a.Password, fx.Projects["owner"],
		time.Now().Add(40*time.Second)) // room for a loaded 2-core CI machine
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := ks.AppCredentialToken(ctx, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	if exp.IsZero() || time.Until(exp) > 45*time.Second {
		t.Fatalf("token expires at %v: not capped by the credential", exp)
	}
	k, _ := newKeystone(t, ks.URL, fx.Service, func(c *KeystoneConfig) { c.CacheTTL = time.Hour })
	if _, err := k.Authenticate(ctx, Request{AuthToken: tok}); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	time.Sleep(time.Until(exp) + 1500*time.Millisecond)
	// The cache entry lapsed with the token, though CacheTTL is an hour.
	if _, err := k.Authenticate(ctx, Request{AuthToken: tok}); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after expiry: %v, want ErrUnauthenticated", err)
	}
}

func TestKeystoneRevokedToken(t *testing.T) {
	t.Parallel()
	ks, fx := fixture(t)
	ctx := t.Context()
	k, _ := newKeystone(t, ks.URL, fx.Service, func(c *KeystoneConfig) { c.CacheTTL = time.Second })
	// Revoked before first use: refused at once.
	early := token(t, ks, fx.Accounts["lessee-member"])
	if err := ks.Revoke(ctx, early); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, Request{AuthToken: early}); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("revoked token: %v, want ErrUnauthenticated", err)
	}
	// Revoked after a validation: refused once the validation lapses
	// (CacheTTL bounds how long a revoked token is still accepted).
	late := token(t, ks, fx.Accounts["lessee-member"])
	if _, err := k.Authenticate(ctx, Request{AuthToken: late}); err != nil {
		t.Fatal(err)
	}
	if err := ks.Revoke(ctx, late); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := k.Authenticate(ctx, Request{AuthToken: late}); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("revoked token after CacheTTL: %v, want ErrUnauthenticated", err)
	}
}

func TestKeystoneUnavailable(t *testing.T) {
	t.Parallel()
	ks, fx := fixture(t)
	ctx := t.Context()
	g := newGate(t, ks.URL)
	const ttl = 3 * time.Second
	k, logs := newKeystone(t, g.URL+"/v3", fx.Service, func(c *KeystoneConfig) { c.CacheTTL = ttl })
	cached := token(t, ks, fx.Accounts["system-reader"])
	fresh := token(t, ks, fx.Accounts["system-member"])
	validated := time.Now()
	if _, err := k.Authenticate(ctx, Request{AuthToken: cached}); err != nil {
		t.Fatal(err)
	}
	g.down.Store(true)
	_, err := k.Authenticate(ctx, Request{AuthToken: fresh})
	var ae *Error
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ae) || ae.Message != keystoneUnavailable {
		t.Errorf("uncached token with Keystone down: %v, want ErrUnavailable", err)
	}
	// Within its validity a cached validation still serves...
	if _, err := k.Authenticate(ctx, Request{AuthToken: cached}); err != nil && time.Since(validated) < ttl {
		t.Errorf("cached token with Keystone down: %v", err)
	}
	// ...but not beyond: no stale fallback.
	time.Sleep(time.Until(validated.Add(ttl + 100*time.Millisecond)))
	if _, err := k.Authenticate(ctx, Request{AuthToken: cached}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("lapsed token with Keystone down: %v, want ErrUnavailable", err)
	}
	g.down.Store(false)
	if _, err := k.Authenticate(ctx, Request{AuthToken: cached}); err != nil {
		t.Errorf("after Keystone is back: %v", err)
	}
	// Nothing listening at all.
	dead, _ := newKeystone(t, "http://127.0.0.1:1/v3", fx.Service, nil)
	if _, err := dead.Authenticate(ctx, Request{AuthToken: fresh}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no Keystone: %v, want ErrUnavailable", err)
	}
	for _, secret := range []string{cached, fresh, fx.Service.Password} {
		if strings.Contains(logs.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
			t.Fatal("a token or password is in a log or an error")
		}
	}
}

func TestKeystoneServiceToken(t *testing.T) {
	t.Parallel()
	ks, fx := fixture(t)
	ctx := t.Context()
	k, _ := newKeystone(t, ks.URL, fx.Service, nil)
	user := token(t, ks, fx.Accounts["owner-admin"])
	if _, err := k.Authenticate(ctx, Request{AuthToken: user}); err != nil {
		t.Fatal(err)
	}
	// The service token is revoked: ferric gets a new one and carries on.
	k.svcMu.Lock()
	svc := k.svcToken
	k.svcMu.Unlock()
	if err := ks.Revoke(ctx, svc); err != nil {
		t.Fatal(err)
	}
	other := token(t, ks, fx.Accounts["lessee-admin"])
	if _, err := k.Authenticate(ctx, Request{AuthToken: other}); err != nil {
		t.Errorf("after the service token was revoked: %v", err)
	}
	// Wrong service credentials: 503 (ferric cannot validate), and the
	// password is in no error.
	bad, logs := newKeystone(t, ks.URL, keystonetest.Account{Name: fx.Service.Name, Password: "not-the-password"}, nil)
	_, err := bad.Authenticate(ctx, Request{AuthToken: other})
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "not-the-password") ||
		strings.Contains(logs.String(), "not-the-password") {
		t.Errorf("wrong service password: %v", err)
	}
	// A service user without the right to validate: 503 too.
	noRight, _ := newKeystone(t, ks.URL, fx.Accounts["owner-reader"], func(c *KeystoneConfig) { c.ProjectName = "auth-owner" })
	if _, err := noRight.Authenticate(ctx, Request{AuthToken: other}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("service user without the right: %v", err)
	}
}

func TestKeystoneCacheBounded(t *testing.T) {
	t.Parallel()
	ks, fx := fixture(t)
	ctx := t.Context()
	k, _ := newKeystone(t, ks.URL, fx.Service, func(c *KeystoneConfig) { c.CacheSize = 2 })
	var roles []string
	for _, p := range []string{"system-reader", "owner-reader", "lessee-reader", "owner-admin"} {
		c, err := k.Authenticate(ctx, Request{AuthToken: token(t, ks, fx.Accounts[p])})
		if err != nil {
			t.Fatal(err)
		}
		roles = append(roles, c.Roles...)
		if n := k.cached(); n > 2 {
			t.Fatalf("cache holds %d validations, bound 2", n)
		}
	}
	if !slices.Contains(roles, "reader") {
		t.Errorf("roles %v", roles)
	}
}

func TestNewKeystoneConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []KeystoneConfig{
		{},
		{AuthURL: "ftp://x/v3", Username: "u", Password: "p"},
		{AuthURL: "http://x/v3"},
	} {
		if _, err := NewKeystone(cfg); err == nil {
			t.Errorf("NewKeystone(%+v) accepted", cfg)
		}
	}
	k, err := NewKeystone(KeystoneConfig{AuthURL: "http://x:5000/", Username: "u", Password: "p"})
	if err != nil || k.cfg.AuthURL != "http://x:5000/v3" {
		t.Errorf("auth URL normalised to %q, %v", k.cfg.AuthURL, err)
	}
	ctx := context.Background()
	if _, err := k.Authenticate(ctx, Request{}); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("no token: %v", err)
	}
}
