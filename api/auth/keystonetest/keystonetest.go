// Package keystonetest runs a real Keystone for tests: Debian's keystone
// package, bootstrapped with keystone-manage on SQLite in a temporary
// folder and served by keystone-wsgi-public on a free loopback port.
//
// Starting one takes tens of seconds: start it once per test package (in
// TestMain, or behind a sync.Once) and Stop it at the end. Tests that need
// it skip when keystone is not installed, and fail when CI is set.
package keystonetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// ErrNotInstalled is returned by Start when keystone-manage or
// keystone-wsgi-public is missing.
var ErrNotInstalled = errors.New("keystonetest: keystone is not installed (apt-get install keystone)")

// AdminPassword is the bootstrap admin's password (admin, domain Default,
// admin role on the system and on project admin).
const AdminPassword = "ferric-keystone-admin"

// Server is a running Keystone.
type Server struct {
	// URL is the identity v3 endpoint, e.g. "http://127.0.0.1:40123/v3".
	URL    string
	dir    string
	cmd    *exec.Cmd
	exited chan error // keystone-wsgi-public's exit
	log    *os.File
	hc     *http.Client

	mu         sync.Mutex
	adminToken string
	roles      map[string]string // role name -> ID
}

// Start bootstraps a Keystone in a new temporary folder and serves it. The
// folder is removed by Stop.
func Start(ctx context.Context) (*Server, error) {
	manage, err1 := exec.LookPath("keystone-manage")
	wsgi, err2 := exec.LookPath("keystone-wsgi-public")
	if err1 != nil || err2 != nil {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "ferric-keystone-")
	if err != nil {
		return nil, fmt.Errorf("keystonetest: %w", err)
	}
	s := &Server{dir: dir, hc: &http.Client{Timeout: 30 * time.Second}}
	if err := s.start(ctx, manage, wsgi); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, manage, wsgi string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d/v3", port)
	conf := filepath.Join(s.dir, "keystone.conf")
	for _, d := range []string{"fernet-keys", "credential-keys"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o700); err != nil {
			return fmt.Errorf("keystonetest: %w", err)
		}
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///%[1]s/keystone.db
[fernet_tokens]
key_repository = %[1]s/fernet-keys
[fernet_receipts]
key_repository = %[1]s/fernet-keys
[credential]
key_repository = %[1]s/credential-keys
[token]
expiration = 3600
`, s.dir)), 0o600); err != nil {
		return fmt.Errorf("keystonetest: %w", err)
	}
	if s.log, err = os.Create(filepath.Join(s.dir, "keystone.log")); err != nil {
		return fmt.Errorf("keystonetest: %w", err)
	}
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("keystonetest: %w", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return fmt.Errorf("keystonetest: %w", err)
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, manage, append([]string{"--config-file", conf}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("keystonetest: keystone-manage %s: %w\n%s", args[0], err, tail(out.String(), 3000))
		}
		return nil
	}
	// The key repositories do not depend on the database: set them up
	// alongside db_sync.
	var eg errgroup.Group
	eg.Go(func() error { return run("db_sync") })
	eg.Go(func() error { return run("fernet_setup", "--keystone-user", u.Username, "--keystone-group", g.Name) })
	eg.Go(func() error {
		return run("credential_setup", "--keystone-user", u.Username, "--keystone-group", g.Name)
	})
	if err := eg.Wait(); err != nil {
		return err
	}
	if err := run("bootstrap", "--bootstrap-password", AdminPassword, "--bootstrap-public-url", s.URL+"/",
		"--bootstrap-region-id", "RegionOne"); err != nil {
		return err
	}
	// Keystone's SQL backends keep read transactions open on their own
	// connections; in SQLite's default journal mode a later write then
	// fails with "database is locked". WAL lets writers commit past readers.
	py, err := exec.LookPath("python3")
	if err != nil {
		return fmt.Errorf("keystonetest: %w", err)
	}
	wal := exec.CommandContext(ctx, py, "-c", "import sqlite3, sys; "+
		"print(sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL').fetchone()[0])",
		filepath.Join(s.dir, "keystone.db"))
	if out, err := wal.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "wal" {
		return fmt.Errorf("keystonetest: journal_mode=WAL: %v: %s", err, out)
	}
	s.cmd = exec.Command(wsgi, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--", "--config-file", conf)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	setParentDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("keystonetest: start keystone-wsgi-public: %w", err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := s.hc.Get(s.URL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s.createRoles(ctx)
			}
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("keystonetest: keystone-wsgi-public exited: %v\n%s", err, s.Log())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keystonetest: keystone did not answer on %s\n%s", s.URL, s.Log())
		}
	}
}

// Log returns the end of Keystone's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "keystone.log"))
	return tail(string(b), 5000)
}

// Stop stops Keystone and removes its folder.
func (s *Server) Stop() error {
	if s == nil {
		return nil
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if s.log != nil {
		s.log.Close()
	}
	return os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("keystonetest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Scope is what a token is scoped to: a project (by ID or name, in domain
// Default) or the system.
type Scope struct {
	ProjectID   string
	ProjectName string
	System      bool
}

func (sc Scope) doc() map[string]any {
	switch {
	case sc.System:
		return map[string]any{"system": map[string]any{"all": true}}
	case sc.ProjectID != "":
		return map[string]any{"project": map[string]any{"id": sc.ProjectID}}
	case sc.ProjectName != "":
		return map[string]any{"project": map[string]any{"name": sc.ProjectName, "domain": map[string]any{"id": "default"}}}
	}
	return nil
}

// Token issues a token for user (domain Default) with password, scoped as
// sc, and returns it with its expiry.
func (s *Server) Token(ctx context.Context, user, password string, sc Scope) (string, time.Time, error) {
	auth := map[string]any{"identity": map[string]any{"methods": []string{"password"},
		"password": map[string]any{"user": map[string]any{"name": user, "password": password,
			"domain": map[string]any{"id": "default"}}}}}
	if d := sc.doc(); d != nil {
		auth["scope"] = d
	}
	return s.issue(ctx, map[string]any{"auth": auth})
}

// AppCredentialToken issues a token from an application credential: such a
// token expires when the credential does, which lets tests hold a token
// that expires within seconds.
func (s *Server) AppCredentialToken(ctx context.Context, id, secret string) (string, time.Time, error) {
	return s.issue(ctx, map[string]any{"auth": map[string]any{"identity": map[string]any{
		"methods":                []string{"application_credential"},
		"application_credential": map[string]any{"id": id, "secret": secret}}}})
}

func (s *Server) issue(ctx context.Context, body map[string]any) (string, time.Time, error) {
	var doc struct {
		Token struct {
			ExpiresAt string `json:"expires_at"`
		} `json:"token"`
	}
	h, err := s.call(ctx, "", http.MethodPost, "/auth/tokens?nocatalog", body, &doc, http.StatusCreated)
	if err != nil {
		return "", time.Time{}, err
	}
	exp, err := time.Parse(time.RFC3339Nano, doc.Token.ExpiresAt)
	if err != nil { // an application credential's cap: isoformat(), UTC
		exp, _ = time.ParseInLocation("2006-01-02T15:04:05.999999999", doc.Token.ExpiresAt, time.UTC)
	}
	return h.Get("X-Subject-Token"), exp, nil
}

// AdminToken returns a system-scoped token of the bootstrap admin.
func (s *Server) AdminToken(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adminToken != "" {
		return s.adminToken, nil
	}
	tok, _, err := s.Token(ctx, "admin", AdminPassword, Scope{System: true})
	if err != nil {
		return "", err
	}
	s.adminToken = tok
	return tok, nil
}

// Revoke revokes token.
func (s *Server) Revoke(ctx context.Context, token string) error {
	admin, err := s.AdminToken(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.URL+"/auth/tokens", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", admin)
	req.Header.Set("X-Subject-Token", token)
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("keystonetest: revoke: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("keystonetest: revoke: HTTP %d", resp.StatusCode)
	}
	return nil
}

// call makes an admin API call (token "" for token issuance) and decodes
// the answer into out.
func (s *Server) call(ctx context.Context, token, method, path string, body, out any, want int) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("keystonetest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		err := fmt.Errorf("keystonetest: %s %s: HTTP %d: %s", method, path, resp.StatusCode, tail(string(raw), 500))
		if resp.StatusCode >= 500 {
			err = fmt.Errorf("%w\nkeystone log:\n%s", err, s.Log())
		}
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("keystonetest: %s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// admin makes an admin API call with the bootstrap admin's token.
func (s *Server) admin(ctx context.Context, method, path string, body, out any, want int) error {
	tok, err := s.AdminToken(ctx)
	if err != nil {
		return err
	}
	_, err = s.call(ctx, tok, method, path, body, out, want)
	return err
}

// CreateProject creates a project in domain Default and returns its ID.
func (s *Server) CreateProject(ctx context.Context, name string) (string, error) {
	var out struct{ Project struct{ ID string } }
	err := s.admin(ctx, http.MethodPost, "/projects", map[string]any{"project": map[string]any{
		"name": name, "domain_id": "default"}}, &out, http.StatusCreated)
	return out.Project.ID, err
}

// CreateUser creates a user in domain Default and returns its ID.
func (s *Server) CreateUser(ctx context.Context, name, password string) (string, error) {
	var out struct{ User struct{ ID string } }
	err := s.admin(ctx, http.MethodPost, "/users", map[string]any{"user": map[string]any{
		"name": name, "password": password, "domain_id": "default"}}, &out, http.StatusCreated)
	return out.User.ID, err
}

// createRoles creates the role tests use beyond bootstrap's (service) and
// learns every role's ID.
func (s *Server) createRoles(ctx context.Context) error {
	s.roles = map[string]string{}
	for _, role := range []string{"service"} {
		var out struct{ Role struct{ ID string } }
		if err := s.admin(ctx, http.MethodPost, "/roles", map[string]any{"role": map[string]any{"name": role}},
			&out, http.StatusCreated); err != nil {
			return err
		}
		s.roles[role] = out.Role.ID
	}
	var list struct{ Roles []struct{ ID, Name string } }
	if err := s.admin(ctx, http.MethodGet, "/roles", nil, &list, http.StatusOK); err != nil {
		return err
	}
	for _, r := range list.Roles {
		s.roles[r.Name] = r.ID
	}
	return nil
}

// RoleID returns the ID of role name (bootstrap's admin, member, reader,
// and service).
func (s *Server) RoleID(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.roles[name]
	if !ok {
		return "", fmt.Errorf("keystonetest: no role %q", name)
	}
	return id, nil
}

// GrantProject gives user role on project.
func (s *Server) GrantProject(ctx context.Context, projectID, userID, role string) error {
	rid, err := s.RoleID(ctx, role)
	if err != nil {
		return err
	}
	return s.admin(ctx, http.MethodPut, "/projects/"+projectID+"/users/"+userID+"/roles/"+rid, nil, nil,
		http.StatusNoContent)
}

// GrantSystem gives user role on the system.
func (s *Server) GrantSystem(ctx context.Context, userID, role string) error {
	rid, err := s.RoleID(ctx, role)
	if err != nil {
		return err
	}
	return s.admin(ctx, http.MethodPut, "/system/users/"+userID+"/roles/"+rid, nil, nil, http.StatusNoContent)
}

// CreateAppCredential creates an application credential of user (who must
// authenticate with password, scoped to project) expiring at expires, and
// returns its ID and secret.
func (s *Server) CreateAppCredential(ctx context.Context, userID, user, password, projectID string, expires time.Time) (id, secret string, err error) {
	tok, _, err := s.Token(ctx, user, password, Scope{ProjectID: projectID})
	if err != nil {
		return "", "", err
	}
	var out struct {
		ApplicationCredential struct{ ID, Secret string } `json:"application_credential"`
	}
	_, err = s.call(ctx, tok, http.MethodPost, "/users/"+userID+"/application_credentials", map[string]any{
		"application_credential": map[string]any{"name": "ferric-test-" + strconv.FormatInt(time.Now().UnixNano(), 36),
			"expires_at": expires.UTC().Format("2006-01-02T15:04:05")}}, &out, http.StatusCreated)
	return out.ApplicationCredential.ID, out.ApplicationCredential.Secret, err
}

// RegisterEndpoint adds a public endpoint for a service of type svcType
// (created if needed) to the catalog, e.g. ("baremetal", ferric's URL).
// It returns a function removing the endpoint.
func (s *Server) RegisterEndpoint(ctx context.Context, svcType, url string) (func() error, error) {
	var list struct{ Services []struct{ ID string } }
	if err := s.admin(ctx, http.MethodGet, "/services?type="+svcType, nil, &list, http.StatusOK); err != nil {
		return nil, err
	}
	var svcID string
	if len(list.Services) > 0 {
		svcID = list.Services[0].ID
	} else {
		var out struct{ Service struct{ ID string } }
		if err := s.admin(ctx, http.MethodPost, "/services", map[string]any{"service": map[string]any{
			"type": svcType, "name": svcType}}, &out, http.StatusCreated); err != nil {
			return nil, err
		}
		svcID = out.Service.ID
	}
	var ep struct{ Endpoint struct{ ID string } }
	if err := s.admin(ctx, http.MethodPost, "/endpoints", map[string]any{"endpoint": map[string]any{
		"service_id": svcID, "interface": "public", "url": url, "region_id": "RegionOne"}}, &ep,
		http.StatusCreated); err != nil {
		return nil, err
	}
	return func() error {
		return s.admin(context.Background(), http.MethodDelete, "/endpoints/"+ep.Endpoint.ID, nil, nil,
			http.StatusNoContent)
	}, nil
}

// Account is a user with a password and the scope its tokens take.
type Account struct {
	Name, Password, UserID string
	Scope                  Scope
}

// Token issues a token for the account.
func (a Account) Token(ctx context.Context, s *Server) (string, error) {
	tok, _, err := s.Token(ctx, a.Name, a.Password, a.Scope)
	return tok, err
}

// Fixture is the identities the policy tests use: system-scoped admin,
// member and reader; admin, member and reader of an owner project and of a
// lessee project; an admin of an unrelated project; and ferric's service
// user (service role in project "service").
type Fixture struct {
	Accounts map[string]Account // by persona: "system-admin", "owner-member", ...
	// Projects by name: "owner", "lessee", "other", "service".
	Projects map[string]string
	// Service is ferric's service user.
	Service Account
}

// NewFixture creates the fixture's projects, users and role assignments.
// Names carry prefix, so that several fixtures can share one Keystone.
func (s *Server) NewFixture(ctx context.Context, prefix string) (*Fixture, error) {
	f := &Fixture{Accounts: map[string]Account{}, Projects: map[string]string{}}
	for _, p := range []string{"owner", "lessee", "other"} {
		id, err := s.CreateProject(ctx, prefix+p)
		if err != nil {
			return nil, err
		}
		f.Projects[p] = id
	}
	svcProject, err := s.serviceProject(ctx)
	if err != nil {
		return nil, err
	}
	f.Projects["service"] = svcProject
	add := func(persona, role string, grant func(userID string) error, sc Scope) error {
		name, password := prefix+persona, "pw-"+prefix+persona
		id, err := s.CreateUser(ctx, name, password)
		if err != nil {
			return err
		}
		if err := grant(id); err != nil {
			return err
		}
		f.Accounts[persona] = Account{Name: name, Password: password, UserID: id, Scope: sc}
		return nil
	}
	for _, role := range []string{"admin", "member", "reader"} {
		if err := add("system-"+role, role, func(id string) error { return s.GrantSystem(ctx, id, role) },
			Scope{System: true}); err != nil {
			return nil, err
		}
		for _, p := range []string{"owner", "lessee"} {
			pid := f.Projects[p]
			if err := add(p+"-"+role, role, func(id string) error { return s.GrantProject(ctx, pid, id, role) },
				Scope{ProjectID: pid}); err != nil {
				return nil, err
			}
		}
	}
	other := f.Projects["other"]
	if err := add("other-admin", "admin", func(id string) error { return s.GrantProject(ctx, other, id, "admin") },
		Scope{ProjectID: other}); err != nil {
		return nil, err
	}
	if err := add("service", "service", func(id string) error { return s.GrantProject(ctx, svcProject, id, "service") },
		Scope{ProjectName: "service"}); err != nil {
		return nil, err
	}
	f.Service = f.Accounts["service"]
	delete(f.Accounts, "service")
	return f, nil
}

// serviceProject returns the ID of project "service", creating it once.
func (s *Server) serviceProject(ctx context.Context) (string, error) {
	var list struct{ Projects []struct{ ID string } }
	if err := s.admin(ctx, http.MethodGet, "/projects?name=service&domain_id=default", nil, &list,
		http.StatusOK); err != nil {
		return "", err
	}
	if len(list.Projects) > 0 {
		return list.Projects[0].ID, nil
	}
	return s.CreateProject(ctx, "service")
}

// Shared starts one Keystone for a test package, the first time a test
// asks: a package's tests share it, and its TestMain calls Stop.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Begin starts the shared Keystone in the background, so that a test can
// set up other things meanwhile; Get and Server wait for it.
func (sh *Shared) Begin() {
	go sh.once.Do(sh.start)
}

func (sh *Shared) start() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sh.srv, sh.err = Start(ctx)
}

// Server returns the shared Keystone, starting it if needed, or why there
// is none (ErrNotInstalled when keystone is not installed), for a test
// that goes on without it.
func (sh *Shared) Server() (*Server, error) {
	sh.once.Do(sh.start)
	return sh.srv, sh.err
}

// Get returns the shared Keystone, starting it if needed. Without keystone
// installed it skips t, or fails it when CI is set.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	srv, err := sh.Server()
	if errors.Is(err, ErrNotInstalled) {
		if Required() {
			t.Fatalf("%v; CI must run the Keystone tests", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("keystone: %v", err)
	}
	return srv
}

// Required reports whether the Keystone tests must run (CI is set): then
// a missing keystone fails them rather than skipping them.
func Required() bool {
	return os.Getenv("CI") != ""
}

// Stop stops the shared Keystone if it was started, waiting for a start
// in progress (Begin) to finish first.
func (sh *Shared) Stop() {
	sh.once.Do(func() {})
	if sh.srv != nil {
		_ = sh.srv.Stop()
	}
}
