package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/httpbasic"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/pagination"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/api/auth/keystonetest"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
	"github.com/ferric-project/ferric/tlsfile/tlsfiletest"
	"github.com/ferric-project/ferric/workflows/contract"
)

// keystone is this package's real Keystone, started by the first test that
// needs it and stopped by TestMain.
var keystone keystonetest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	keystone.Stop()
	os.Exit(code)
}

func TestParseAuthFlags(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string {
		return func(k string) string {
			if k == "FERRIC_DATABASE_URL" {
				return "postgres://x"
			}
			return m[k]
		}
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name, role string
		args       []string
		env        map[string]string
		err        string
	}{
		{"dev is open by default", "dev", nil, nil, ""},
		{"api on loopback, noauth", "api", nil, nil, ""},
		{"api on every address, noauth", "api", []string{"-api-address", ":6385"}, nil, "not a loopback address"},
		{"all on a LAN address, noauth", "all", []string{"-api-address", "192.0.2.10:6385"}, nil, "not a loopback address"},
		{"meant", "api", []string{"-api-address", ":6385", "-allow-insecure-noauth"}, nil, ""},
		{"meant by env", "api", []string{"-api-address", ":6385"}, map[string]string{"FERRIC_ALLOW_INSECURE_NOAUTH": "true"}, ""},
		{"ipv6 loopback", "api", []string{"-api-address", "[::1]:6385"}, nil, ""},
		{"worker does not serve the API", "worker", []string{"-api-address", ":6385"}, nil, ""},
		{"http_basic without a file", "api", []string{"-auth-strategy", "http_basic"}, nil, "-http-basic-auth-user-file"},
		{"http_basic", "api", []string{"-api-address", ":6385"}, map[string]string{"FERRIC_AUTH_STRATEGY": "http_basic",
			"FERRIC_HTTP_BASIC_AUTH_USER_FILE": filepath.Join(dir, "htpasswd")}, ""},
		{"keystone without URL", "api", []string{"-auth-strategy", "keystone"}, nil, "-keystone-auth-url"},
		{"keystone without password", "api", []string{"-auth-strategy", "keystone", "-keystone-auth-url", "http://k/v3"}, nil,
			"password"},
		{"keystone", "api", []string{"-auth-strategy", "keystone", "-keystone-auth-url", "http://k/v3"},
			map[string]string{"FERRIC_KEYSTONE_PASSWORD": "pw"}, ""},
		{"unknown strategy", "api", []string{"-auth-strategy", "oauth"}, nil, "want noauth, http_basic or keystone"},
		{"half a TLS pair", "api", []string{"-tls-cert-file", "c.pem"}, nil, "go together"},
	} {
		_, err := parse(tt.role, tt.args, env(tt.env), io.Discard)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want error %q", tt.name, err, tt.err)
		}
	}
	// An htpasswd entry that is not bcrypt stops the start, naming the line
	// and the user (never the hash).
	bad := filepath.Join(dir, "htpasswd-sha")
	if err := os.WriteFile(bad, []byte("alice:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newAuthenticator(authConfig{strategy: auth.StrategyHTTPBasic, basicUserFile: bad}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `line 1: only bcrypt digested passwords are supported for "alice"`) ||
		strings.Contains(err.Error(), "fEqNCco3") {
		t.Errorf("non-bcrypt htpasswd: %v", err)
	}
}

// baremetal runs python3-ironicclient's CLI with env (plus the process's
// PATH and HOME) and returns its output. Without the CLI it skips, or fails
// in CI.
func baremetal(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("baremetal")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the baremetal CLI is missing (apt-get install python3-ironicclient)")
		}
		t.Skip("the baremetal CLI is not installed (apt-get install python3-ironicclient)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// mustBaremetal is baremetal failing the test on error.
func mustBaremetal(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := baremetal(t, env, args...)
	if err != nil {
		t.Fatalf("baremetal %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// lastHistoryEvent returns the node's last history event as the CLI shows
// it (JSON; "node history get": ironicclient's --long list asks for a
// /history/detail path that Ironic does not serve).
func lastHistoryEvent(t *testing.T, env []string, node string) string {
	t.Helper()
	ids := strings.Fields(mustBaremetal(t, env, "--os-baremetal-api-version", "1.78", "node", "history", "list", node,
		"-f", "value", "-c", "UUID"))
	if len(ids) == 0 {
		t.Fatalf("node %s has no history", node)
	}
	return mustBaremetal(t, env, "--os-baremetal-api-version", "1.78", "node", "history", "get", node, ids[len(ids)-1],
		"-f", "json")
}

// listNames lists the node names a gophercloud client sees.
func listNames(t *testing.T, c *gophercloud.ServiceClient) []string {
	t.Helper()
	var names []string
	err := nodes.List(c, nodes.ListOpts{}).EachPage(t.Context(), func(_ context.Context, p pagination.Page) (bool, error) {
		ns, err := nodes.ExtractNodes(p)
		for _, n := range ns {
			names = append(names, n.Name)
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	return names
}

// workflowRecord returns the history (its protobuf encoding, where
// payloads' data stands as it is: see historyHolds) and memo of the node's
// last workflow run.
func (s *stack) workflowRecord(t *testing.T, nodeUUID string) (string, map[string]string) {
	t.Helper()
	ctx := t.Context()
	c := s.temporal.GetDefaultClient()
	run := c.GetWorkflow(ctx, "node/"+nodeUUID, "")
	_ = run.Get(ctx, nil)
	var h historypb.History
	it := c.GetWorkflowHistory(ctx, "node/"+nodeUUID, run.GetRunID(), false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	raw, err := proto.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, "node/"+nodeUUID, run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	memo := map[string]string{}
	for k, p := range desc.GetWorkflowExecutionInfo().GetMemo().GetFields() {
		var v string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err == nil {
			memo[k] = v
		}
	}
	return string(raw), memo
}

// assertNoSecrets fails if any secret is in the stack's log (debug level) or
// in text (Temporal history, error messages).
func assertNoSecrets(t *testing.T, s *stack, texts []string, secrets ...string) {
	t.Helper()
	logs, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		if bytes.Contains(logs, []byte(secret)) {
			t.Errorf("a secret (%.4s…) is in the debug log", secret)
		}
		for _, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("a secret (%.4s…) is in %q…", secret, firstBytes(text, 80))
			}
		}
	}
}

// firstBytes is s cut to n bytes at most.
func firstBytes(s string, n int) string { return s[:min(len(s), n)] }

// TestNoAuthClients: the open API (ferric dev's default) with the baremetal
// CLI and gophercloud's noauth client.
func TestNoAuthClients(t *testing.T) {
	s := startStack(t, "all", func(c *config) { c.auth.strategy = auth.StrategyNoAuth })
	env := []string{"OS_AUTH_TYPE=none", "OS_ENDPOINT=" + strings.TrimSuffix(s.endpoint, "/v1")}
	mustBaremetal(t, env, "node", "create", "--driver", "fake-hardware", "--name", "open-0")
	out := mustBaremetal(t, env, "node", "list", "-f", "value", "-c", "Name")
	if !strings.Contains(out, "open-0") {
		t.Errorf("baremetal node list: %s", out)
	}
	if names := listNames(t, s.client); len(names) != 1 || names[0] != "open-0" {
		t.Errorf("gophercloud noauth lists %v", names)
	}
}

// TestHTTPBasicClients: http_basic with the baremetal CLI (OS_AUTH_TYPE=
// http_basic) and gophercloud's httpbasic client; who did what; no secret
// in logs, errors or Temporal history.
func TestHTTPBasicClients(t *testing.T) {
	dir := t.TempDir()
	const user, password = "operator", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	userFile := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(userFile, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, "all", func(c *config) {
		c.auth.strategy, c.auth.basicUserFile = auth.StrategyHTTPBasic, userFile
	})
	base := strings.TrimSuffix(s.endpoint, "/v1")
	env := []string{"OS_AUTH_TYPE=http_basic", "OS_ENDPOINT=" + base, "OS_USERNAME=" + user, "OS_PASSWORD=" + password}
	mustBaremetal(t, env, "node", "create", "--driver", "fake-hardware", "--name", "basic-0")
	mustBaremetal(t, env, "node", "manage", "basic-0", "--wait", "60")
	if ev := lastHistoryEvent(t, env, "basic-0"); !strings.Contains(ev, `"user": "`+user+`"`) {
		t.Errorf("history does not name the user:\n%s", ev)
	}
	// Wrong credentials: the CLI fails with the 401.
	bad := []string{"OS_AUTH_TYPE=http_basic", "OS_ENDPOINT=" + base, "OS_USERNAME=" + user, "OS_PASSWORD=wrong"}
	out, err := baremetal(t, bad, "node", "list")
	if err == nil || !strings.Contains(out, "401") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
	// gophercloud's httpbasic client.
	gc, err := httpbasic.NewBareMetalHTTPBasic(httpbasic.EndpointOpts{IronicEndpoint: s.endpoint,
		IronicUser: user, IronicUserPassword: password})
	if err != nil {
		t.Fatal(err)
	}
	gc.Microversion = "1.78"
	n, err := nodes.Create(t.Context(), gc, nodes.CreateOpts{Name: "basic-1", Driver: "fake-hardware"}).Extract()
	if err != nil {
		t.Fatalf("gophercloud httpbasic create: %v", err)
	}
	if names := listNames(t, gc); len(names) != 2 {
		t.Errorf("gophercloud httpbasic lists %v", names)
	}
	wrong, _ := httpbasic.NewBareMetalHTTPBasic(httpbasic.EndpointOpts{IronicEndpoint: s.endpoint,
		IronicUser: user, IronicUserPassword: "nope"})
	_, err = nodes.Get(t.Context(), wrong, n.UUID).Extract()
	if statusOf(err) != http.StatusUnauthorized {
		t.Errorf("gophercloud with a wrong password: %v", err)
	}
	// The workflow the manage request started names the user.
	id := strings.TrimSpace(mustBaremetal(t, env, "node", "show", "basic-0", "-f", "value", "-c", "uuid"))
	hist, memo := s.workflowRecord(t, id)
	if memo[contract.MemoUser] != user {
		t.Errorf("workflow memo %v", memo)
	}
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	assertNoSecrets(t, s, []string{hist, errText}, password, string(hash))
}

// TestKeystoneClients: keystone with the baremetal CLI (password auth,
// endpoint from Keystone's catalog) and gophercloud (a Keystone token);
// project scoping; who did what; no token or password in logs or Temporal
// history.
func TestKeystoneClients(t *testing.T) {
	ks := keystone.Get(t)
	ctx := t.Context()
	fx, err := ks.NewFixture(ctx, "cmd-")
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "keystone-password")
	if err := os.WriteFile(pwFile, []byte(fx.Service.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, "all", func(c *config) {
		c.auth.strategy, c.auth.keystoneURL = auth.StrategyKeystone, ks.URL
		c.auth.keystoneUser, c.auth.keystonePasswordFile = fx.Service.Name, pwFile
		c.auth.keystoneCacheTime, c.auth.keystoneCacheSize = time.Minute, 100
		c.auth.projectAdminOwnNodes = true
	})
	base := strings.TrimSuffix(s.endpoint, "/v1")
	unregister, err := ks.RegisterEndpoint(ctx, "baremetal", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unregister() })

	osEnv := func(persona string) []string {
		a := fx.Accounts[persona]
		env := []string{"OS_AUTH_TYPE=password", "OS_AUTH_URL=" + ks.URL, "OS_IDENTITY_API_VERSION=3",
			"OS_USERNAME=" + a.Name, "OS_PASSWORD=" + a.Password, "OS_USER_DOMAIN_NAME=Default",
			"OS_REGION_NAME=RegionOne", "OS_INTERFACE=public", "OS_BAREMETAL_API_VERSION=1.80"}
		if a.Scope.System {
			return append(env, "OS_SYSTEM_SCOPE=all")
		}
		return append(env, "OS_PROJECT_ID="+a.Scope.ProjectID, "OS_PROJECT_DOMAIN_NAME=Default")
	}
	owner := fx.Projects["owner"]
	// A system admin enrolls a node for the owner project; a project admin
	// enrolls one for its project (owned by it: API 1.80).
	// (ironicclient 5.0.1 offers create --owner but does not send it: set it after.)
	mustBaremetal(t, osEnv("system-admin"), "node", "create", "--driver", "fake-hardware", "--name", "ks-0")
	mustBaremetal(t, osEnv("system-admin"), "node", "set", "ks-0", "--owner", owner, "--lessee", fx.Projects["lessee"])
	mustBaremetal(t, osEnv("system-admin"), "node", "create", "--driver", "fake-hardware", "--name", "ks-unowned")
	mustBaremetal(t, osEnv("other-admin"), "node", "create",
		"--driver", "fake-hardware", "--name", "ks-other")
	// Each sees what the policy lets it see.
	for persona, want := range map[string]string{
		"system-reader": "ks-0 ks-other ks-unowned", "owner-reader": "ks-0", "lessee-reader": "ks-0",
		"other-admin": "ks-other",
	} {
		out := mustBaremetal(t, osEnv(persona), "node", "list", "-f", "value", "-c", "Name", "--sort", "name")
		if got := strings.Join(strings.Fields(out), " "); got != want {
			t.Errorf("%s lists %q, want %q", persona, got, want)
		}
	}
	// A lessee member may not manage the node (403), a reader of another
	// project may not see it (404), the owner's member manages it.
	if out, err := baremetal(t, osEnv("lessee-member"), "node", "manage", "ks-0"); err == nil || !strings.Contains(out, "403") {
		t.Errorf("lessee member manages: %v\n%s", err, out)
	}
	if out, err := baremetal(t, osEnv("other-admin"), "node", "show", "ks-0"); err == nil || !strings.Contains(out, "could not be found") {
		t.Errorf("another project shows the node: %v\n%s", err, out)
	}
	mustBaremetal(t, osEnv("owner-member"), "node", "manage", "ks-0", "--wait", "60")
	ownerMember := fx.Accounts["owner-member"].UserID
	if ev := lastHistoryEvent(t, osEnv("owner-reader"), "ks-0"); !strings.Contains(ev, `"user": "`+ownerMember+`"`) {
		t.Errorf("history does not name the owner member (%s):\n%s", ownerMember, ev)
	}

	// gophercloud with a Keystone token, endpoint from the catalog.
	gcAs := func(persona string) *gophercloud.ServiceClient {
		t.Helper()
		a := fx.Accounts[persona]
		opts := gophercloud.AuthOptions{IdentityEndpoint: ks.URL, Username: a.Name, Password: a.Password,
			DomainName: "Default"}
		if a.Scope.System {
			opts.Scope = &gophercloud.AuthScope{System: true}
		} else {
			opts.Scope = &gophercloud.AuthScope{ProjectID: a.Scope.ProjectID}
		}
		pc, err := openstack.AuthenticatedClient(ctx, opts)
		if err != nil {
			t.Fatalf("keystone auth as %s: %v", persona, err)
		}
		c, err := openstack.NewBareMetalV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
		if err != nil {
			t.Fatal(err)
		}
		c.Microversion = "1.80"
		return c
	}
	if names := listNames(t, gcAs("owner-member")); strings.Join(names, " ") != "ks-0" {
		t.Errorf("gophercloud as the owner member lists %v", names)
	}
	sys := gcAs("system-member")
	if names := listNames(t, sys); len(names) != 3 {
		t.Errorf("gophercloud as a system member lists %v", names)
	}
	_, err = nodes.Create(ctx, sys, nodes.CreateOpts{Name: "ks-denied", Driver: "fake-hardware"}).Extract()
	if statusOf(err) != http.StatusForbidden {
		t.Errorf("a system member creates a node: %v (want 403)", err)
	}
	// A bogus token: 401 with Keystone's WWW-Authenticate.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"/nodes", nil)
	req.Header.Set("X-Auth-Token", "gAAAAAforged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Keystone uri="`+ks.URL+`"` {
		t.Errorf("forged token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Who did what, and no secret in the log or Temporal history.
	var shown struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal([]byte(mustBaremetal(t, osEnv("owner-reader"), "node", "show", "ks-0", "-f", "json", "-c", "uuid")), &shown); err != nil {
		t.Fatal(err)
	}
	hist, memo := s.workflowRecord(t, shown.UUID)
	if memo[contract.MemoUser] != ownerMember || memo[contract.MemoProject] != owner {
		t.Errorf("workflow memo %v, want user %s project %s", memo, ownerMember, owner)
	}
	secrets := []string{fx.Service.Password}
	for _, a := range fx.Accounts {
		secrets = append(secrets, a.Password)
	}
	for _, p := range []string{"owner-member", "system-admin"} {
		tok, err := fx.Accounts[p].Token(ctx, ks)
		if err != nil {
			t.Fatal(err)
		}
		// A token ferric has validated (and logged about, at debug level).
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"/nodes", nil)
		req.Header.Set("X-Auth-Token", tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		secrets = append(secrets, tok)
	}
	assertNoSecrets(t, s, []string{hist}, secrets...)
}

// TestAPIOverTLS: the API serves HTTPS from -tls-cert-file/-tls-key-file;
// gophercloud and the baremetal CLI trust it through the CA; plain HTTP is
// not answered.
func TestAPIOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlsfiletest.NewCA(t, "ferric test CA")
	certFile, keyFile := ca.WriteFiles(t, dir, "ferric-api")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, "api", func(c *config) { c.auth.tlsCertFile, c.auth.tlsKeyFile = certFile, keyFile })
	if !strings.HasPrefix(s.endpoint, "https://") {
		t.Fatalf("endpoint %s", s.endpoint)
	}
	gc, err := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: s.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	gc.HTTPClient = http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	gc.Microversion = "1.78"
	if _, err := nodes.Create(t.Context(), gc, nodes.CreateOpts{Name: "tls-0", Driver: "fake-hardware"}).Extract(); err != nil {
		t.Fatalf("gophercloud over https: %v", err)
	}
	// Without the CA, the certificate is refused.
	untrusted, _ := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: s.endpoint})
	var uerr *tls.CertificateVerificationError
	if _, err := nodes.Get(t.Context(), untrusted, "tls-0").Extract(); !errors.As(err, &uerr) {
		t.Errorf("a client without the CA: %v", err)
	}
	// Plain HTTP gets no API.
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.endpoint, "https://")); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served the API")
		}
	}
	env := []string{"OS_AUTH_TYPE=none", "OS_ENDPOINT=" + strings.TrimSuffix(s.endpoint, "/v1"), "OS_CACERT=" + caFile}
	if out := mustBaremetal(t, env, "node", "list", "-f", "value", "-c", "Name"); !strings.Contains(out, "tls-0") {
		t.Errorf("baremetal over https: %s", out)
	}
}

// TestAgentCAOnKernelCmdline: with -agent-ca-file the boot server puts the
// CA on the ramdisk's kernel command line (ferric.ca=, what ferric-agent
// decodes), serves its HTTP side over HTTPS with -boot-tls-*, and refuses to
// start when the agent API URL is plain HTTP or the CA too large.
func TestAgentCAOnKernelCmdline(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := t.Context()
	dir := t.TempDir()
	ca := tlsfiletest.NewCA(t, "ferric CA")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := ca.WriteFiles(t, dir, "boot")
	ramdisk := t.TempDir()
	for _, f := range []string{"vmlinuz", "initramfs"} {
		if err := os.WriteFile(filepath.Join(ramdisk, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config{role: "boot", bootHTTPAddr: "127.0.0.1:0", ramdiskDir: ramdisk, agentAPIURL: "https://10.0.2.2:6385",
		auth: authConfig{agentCAFile: caFile, bootTLSCertFile: certFile, bootTLSKeyFile: keyFile}}
	log := slog.New(slog.DiscardHandler)
	srv, err := newBootServer(cfg, log, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	n, err := st.CreateNode(ctx, store.Node{Driver: "ipmi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePort(ctx, store.Port{Address: "52:54:00:12:34:58", NodeUUID: n.UUID}); err != nil {
		t.Fatal(err)
	}
	if err := st.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := hc.Get("https://" + srv.HTTPAddr() + "/ipxe/52-54-00-12-34-58")
	if err != nil {
		t.Fatalf("boot script over https: %v", err)
	}
	script, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, after, ok := strings.Cut(string(script), wire.CACmdlineKey+"=")
	if !ok {
		t.Fatalf("no %s= in the script:\n%s", wire.CACmdlineKey, script)
	}
	pool, err := wire.DecodeCA(strings.Fields(after)[0])
	if err != nil || !pool.Equal(ca.Pool()) {
		t.Errorf("ferric.ca= decodes to another pool: %v", err)
	}
	if !strings.Contains(string(script), "https://"+srv.HTTPAddr()+"/images/vmlinuz") {
		t.Errorf("the script does not fetch the ramdisk over https:\n%s", script)
	}

	plain := cfg
	plain.agentAPIURL = "http://10.0.2.2:6385"
	if _, err := newBootServer(plain, log, st); err == nil || !strings.Contains(err.Error(), "not https") {
		t.Errorf("CA with an http agent API URL: %v", err)
	}
	var bundle []byte
	for range 4 {
		bundle = append(bundle, tlsfiletest.NewCA(t, strings.Repeat("a long CA name ", 10)).PEM...)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	large := cfg
	large.auth.agentCAFile = big
	if _, err := newBootServer(large, log, st); err == nil || !strings.Contains(err.Error(), "kernel command line") {
		t.Errorf("CA bundle too large for the kernel command line: %v", err)
	}
}
