package api

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/api/auth/keystonetest"
)

// keystone is this package's real Keystone, started by the first test that
// needs it and stopped by TestMain.
var keystone keystonetest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	keystone.Stop()
	os.Exit(code)
}

// TestPolicyTableKeystone runs the policy table with tokens a real Keystone
// issued to the personas, validated by the keystone strategy.
func TestPolicyTableKeystone(t *testing.T) {
	t.Parallel()
	ks := keystone.Get(t)
	ctx := t.Context()
	fx, err := ks.NewFixture(ctx, "api-")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	k, err := auth.NewKeystone(auth.KeystoneConfig{AuthURL: ks.URL, Username: fx.Service.Name,
		Password: fx.Service.Password, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t, k)
	e.srv.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.app = e.srv.App()
	tokens := map[string]string{}
	for _, p := range personaOrder {
		tok, err := fx.Accounts[p].Token(ctx, ks)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		tokens[p] = tok
	}
	runPolicyTable(t, e, tokens, fx.Projects["owner"], fx.Projects["lessee"])

	// Keystone's answers to bad tokens, in keystonemiddleware's shape.
	code, body, h := e.do(t, "not-a-token", "GET", "/v1/nodes", "")
	if code != 401 || h.Get("WWW-Authenticate") != `Keystone uri="`+ks.URL+`"` ||
		body != `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}` {
		t.Errorf("bad token: %d %q %s", code, h.Get("WWW-Authenticate"), body)
	}
	for _, tok := range tokens {
		if strings.Contains(logs.String(), tok) {
			t.Fatal("a token is in the debug log")
		}
	}
	if strings.Contains(logs.String(), fx.Service.Password) {
		t.Fatal("the service password is in the debug log")
	}
}

// TestKeystoneUnreachable checks that an API whose Keystone is away answers
// 503, not 500 (and not 401: nothing is known of the token).
func TestKeystoneUnreachable(t *testing.T) {
	t.Parallel()
	k, err := auth.NewKeystone(auth.KeystoneConfig{AuthURL: "http://127.0.0.1:1/v3", Username: "ferric",
		Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t, k)
	code, body, _ := e.do(t, "some-token", "GET", "/v1/nodes", "")
	if code != 503 || !strings.Contains(body, "The Keystone service is temporarily unavailable.") {
		t.Errorf("Keystone away: %d %s", code, body)
	}
}

// TestHTTPBasicThroughAPI checks ironic-lib's answers through the API.
func TestHTTPBasicThroughAPI(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "htpasswd")
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("admin:"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := auth.NewBasic(auth.BasicConfig{UserFile: path, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t, b)
	e.srv.Log = log
	e.app = e.srv.App()
	f := e.seed(t, staticOwner, staticLessee)
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	for _, tt := range []struct {
		header string
		set    bool
		want   int
		body   string
	}{
		{"", false, 401, `{"error":{"message":"Authorization required","code":401}}`},
		{basic("admin", "wrong"), true, 401, `{"error":{"message":"Incorrect username or password","code":401}}`},
		{basic("nobody", "s3cret-pw"), true, 401, `{"error":{"message":"Incorrect username or password","code":401}}`},
		{"Basic !!!", true, 400, `{"error":{"message":"Could not decode authorization token","code":400}}`},
		{"Basic", true, 400, `{"error":{"message":"Could not parse Authorization header","code":400}}`},
		{"Digest abc", true, 400, `{"error":{"message":"Unsupported authorization type \"Digest\"","code":400}}`},
		{basic("admin", "s3cret-pw"), true, 200, ""},
	} {
		req := func(path string) (int, string, string) {
			code, body, hdr := e.doHeaders(t, "GET", path, map[string]string{"Authorization": tt.header}, tt.set)
			return code, body, hdr.Get("WWW-Authenticate")
		}
		code, body, challenge := req("/v1/nodes/" + f.node)
		if code != tt.want || (tt.body != "" && body != tt.body) {
			t.Errorf("Authorization %q: %d %s, want %d %s", tt.header, code, body, tt.want, tt.body)
		}
		if (code == 401) != (challenge == `Basic realm="Baremetal API"`) {
			t.Errorf("Authorization %q: %d with WWW-Authenticate %q", tt.header, code, challenge)
		}
	}
	// http_basic users may do everything, as in Ironic (no policy).
	code, _, _ := e.doHeaders(t, "DELETE", "/v1/nodes/"+f.node, map[string]string{"Authorization": basic("admin", "s3cret-pw")}, true)
	if code != 204 {
		t.Errorf("http_basic delete: %d", code)
	}
	if strings.Contains(logs.String(), "s3cret-pw") {
		t.Errorf("the password is in the debug log:\n%s", logs.String())
	}
}

// doHeaders sends a request with headers (set: whether to send them).
func (e *authEnv) doHeaders(t *testing.T, method, path string, headers map[string]string, set bool) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1:6385"+path, nil)
	req.Header.Set("X-OpenStack-Ironic-API-Version", "1.81")
	if set {
		for k, v := range headers {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String(), resp.Header
}
