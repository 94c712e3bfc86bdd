package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// KeystoneConfig configures Keystone: where Keystone is and the service
// user ferric validates tokens with (keystonemiddleware's
// [keystone_authtoken] auth_url, username, password, ...).
type KeystoneConfig struct {
	// AuthURL is Keystone's identity v3 endpoint, e.g.
	// "http://keystone.example.com:5000/v3".
	AuthURL string
	// WWWAuthenticateURI is the public identity endpoint a 401 names in
	// WWW-Authenticate (default AuthURL).
	WWWAuthenticateURI string
	// The service user. It needs the service role in its project (or
	// reader on the system) to validate other users' tokens.
	Username          string
	Password          string
	UserDomainName    string // default "Default"
	ProjectName       string // default "service"
	ProjectDomainName string // default "Default"
	// SystemScope asks for a system-scoped service token instead of a
	// project-scoped one.
	SystemScope bool
	// HTTPClient talks to Keystone (default: 10 s timeout).
	HTTPClient *http.Client
	// CacheTTL bounds how long a validation is trusted: a token is
	// revalidated after CacheTTL, or when it expires if that is sooner
	// (keystonemiddleware's token_cache_time, default 5 min). A revoked
	// token is refused within CacheTTL. Invalid tokens are remembered as
	// long.
	CacheTTL time.Duration
	// CacheSize bounds the remembered tokens (default 10000).
	CacheSize int
	// Log receives validation failures; tokens are never logged (a short
	// fingerprint is).
	Log *slog.Logger
}

// Keystone is the keystone strategy: a request's X-Auth-Token is validated
// by Keystone (GET /v3/auth/tokens with a service token), and the token's
// user, project or system scope and roles become its Credentials.
//
// Validations are cached, keyed by the token's SHA-256, until the token
// expires or CacheTTL passes, whichever is first; the cache is bounded.
// When Keystone cannot be reached, a token that is not cached (or whose
// entry has lapsed) gets ErrUnavailable: no stale entry is served.
type Keystone struct {
	cfg KeystoneConfig
	hc  *http.Client
	log *slog.Logger

	svcMu      sync.Mutex
	svcToken   string
	svcExpires time.Time

	mu    sync.Mutex
	cache map[[32]byte]tokenEntry
}

type tokenEntry struct {
	creds *Credentials // nil: invalid token
	until time.Time
}

// Messages keystonemiddleware answers with.
const (
	keystoneUnauthorized = "The request you have made requires authentication."
	keystoneUnavailable  = "The Keystone service is temporarily unavailable."
)

// NewKeystone checks cfg and returns a Keystone. It does not contact
// Keystone: the service token is obtained with the first validation.
func NewKeystone(cfg KeystoneConfig) (*Keystone, error) {
	cfg.AuthURL = strings.TrimRight(cfg.AuthURL, "/")
	if cfg.AuthURL == "" {
		return nil, errors.New("keystone: no auth URL")
	}
	if !strings.HasPrefix(cfg.AuthURL, "http://") && !strings.HasPrefix(cfg.AuthURL, "https://") {
		return nil, fmt.Errorf("keystone: auth URL %q is not http(s)", cfg.AuthURL)
	}
	if !strings.HasSuffix(cfg.AuthURL, "/v3") {
		cfg.AuthURL += "/v3"
	}
	if cfg.Username == "" || cfg.Password == "" {
		return nil, errors.New("keystone: the service user's name and password are required")
	}
	if cfg.WWWAuthenticateURI == "" {
		cfg.WWWAuthenticateURI = cfg.AuthURL
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.UserDomainName, "Default")
	def(&cfg.ProjectName, "service")
	def(&cfg.ProjectDomainName, "Default")
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keystone{cfg: cfg, hc: hc, log: log, cache: map[[32]byte]tokenEntry{}}, nil
}

// Challenge is the WWW-Authenticate header of a 401 (keystonemiddleware's).
func (k *Keystone) Challenge() string {
	return `Keystone uri="` + k.cfg.WWWAuthenticateURI + `"`
}

// fingerprint names a token in logs without revealing it.
func fingerprint(sum [32]byte) string { return hex.EncodeToString(sum[:4]) }

// Authenticate validates r.AuthToken.
func (k *Keystone) Authenticate(ctx context.Context, r Request) (*Credentials, error) {
	if r.AuthToken == "" {
		return nil, fail(ErrUnauthenticated, keystoneUnauthorized, nil)
	}
	sum := sha256.Sum256([]byte(r.AuthToken))
	now := time.Now()
	k.mu.Lock()
	e, hit := k.cache[sum]
	k.mu.Unlock()
	if hit && now.Before(e.until) {
		if e.creds == nil {
			return nil, fail(ErrUnauthenticated, keystoneUnauthorized, nil)
		}
		return e.creds, nil
	}
	creds, err := k.validate(ctx, r.AuthToken)
	switch {
	case errors.Is(err, errInvalidToken):
		k.log.InfoContext(ctx, "keystone: token refused", "token", fingerprint(sum), "reason", err)
		k.remember(sum, tokenEntry{until: now.Add(k.cfg.CacheTTL)}, now)
		return nil, fail(ErrUnauthenticated, keystoneUnauthorized, nil)
	case err != nil:
		k.log.ErrorContext(ctx, "keystone: cannot validate token", "token", fingerprint(sum), "err", err)
		return nil, fail(ErrUnavailable, keystoneUnavailable, err)
	}
	until := now.Add(k.cfg.CacheTTL)
	if !creds.ExpiresAt.IsZero() && creds.ExpiresAt.Before(until) {
		until = creds.ExpiresAt
	}
	k.remember(sum, tokenEntry{creds: creds, until: until}, now)
	k.log.DebugContext(ctx, "keystone: token validated", "token", fingerprint(sum), "user", creds.UserID,
		"project", creds.ProjectID, "system", creds.System, "roles", creds.Roles)
	return creds, nil
}

// remember caches e, making room when the cache is full: lapsed entries go
// first, then arbitrary ones.
func (k *Keystone) remember(sum [32]byte, e tokenEntry, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= k.cfg.CacheSize {
		for key, ce := range k.cache {
			if !now.Before(ce.until) {
				delete(k.cache, key)
			}
		}
		for key := range k.cache {
			if len(k.cache) < k.cfg.CacheSize {
				break
			}
			delete(k.cache, key)
		}
	}
	k.cache[sum] = e
}

// cached returns the number of cached validations (tests).
func (k *Keystone) cached() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.cache)
}

// errInvalidToken is Keystone saying the token is not (or no longer) valid.
var errInvalidToken = errors.New("keystone: invalid token")

// errServiceAuth is Keystone refusing the service token.
var errServiceAuth = errors.New("keystone: service token refused")

// validate asks Keystone about token, getting a new service token once if
// Keystone refuses the one it has.
func (k *Keystone) validate(ctx context.Context, token string) (*Credentials, error) {
	for attempt := 0; ; attempt++ {
		svc, err := k.serviceToken(ctx)
		if err != nil {
			return nil, err
		}
		creds, err := k.validateWith(ctx, svc, token)
		if errors.Is(err, errServiceAuth) && attempt == 0 {
			k.dropServiceToken(svc)
			continue
		}
		return creds, err
	}
}

func (k *Keystone) validateWith(ctx context.Context, svc, token string) (*Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.cfg.AuthURL+"/auth/tokens?nocatalog", nil)
	if err != nil {
		return nil, fmt.Errorf("keystone: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Auth-Token", svc)
	req.Header.Set("X-Subject-Token", token)
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("keystone: validate token: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("keystone: validate token: read answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w (keystone answered 404)", errInvalidToken)
	case http.StatusUnauthorized:
		return nil, errServiceAuth
	case http.StatusForbidden:
		return nil, fmt.Errorf("keystone: validate token: 403: the service user %q may not validate tokens "+
			"(it needs the service role, or reader on the system)", k.cfg.Username)
	default:
		return nil, fmt.Errorf("keystone: validate token: HTTP %d", resp.StatusCode)
	}
	var doc tokenDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("keystone: validate token: decode answer: %w", err)
	}
	creds := doc.Token.credentials()
	if !creds.ExpiresAt.IsZero() && !time.Now().Before(creds.ExpiresAt) {
		return nil, fmt.Errorf("%w: expired at %s", errInvalidToken, creds.ExpiresAt.Format(time.RFC3339))
	}
	return creds, nil
}

// tokenDoc is a Keystone v3 token document ({"token": {...}}).
type tokenDoc struct {
	Token tokenBody `json:"token"`
}

// tokenBody is what ferric reads of a Keystone v3 token.
type tokenBody struct {
	ExpiresAt string `json:"expires_at"`
	User      struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain struct {
			ID string `json:"id"`
		} `json:"domain"`
	} `json:"user"`
	Roles []struct {
		Name string `json:"name"`
	} `json:"roles"`
	Project *struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain struct {
			ID string `json:"id"`
		} `json:"domain"`
	} `json:"project"`
	Domain *struct {
		ID string `json:"id"`
	} `json:"domain"`
	System map[string]bool `json:"system"`
}

// credentials maps a token to Credentials: its scope (system, project or
// domain) and its role names, lower case.
func (t *tokenBody) credentials() *Credentials {
	c := &Credentials{Strategy: StrategyKeystone, UserID: t.User.ID, UserName: t.User.Name,
		UserDomainID: t.User.Domain.ID, Roles: make([]string, 0, len(t.Roles))}
	for _, r := range t.Roles {
		c.Roles = append(c.Roles, strings.ToLower(r.Name))
	}
	switch {
	case t.System["all"]:
		c.System = "all"
	case t.Project != nil:
		c.ProjectID, c.ProjectName, c.ProjectDomainID = t.Project.ID, t.Project.Name, t.Project.Domain.ID
	case t.Domain != nil:
		c.DomainID = t.Domain.ID
	}
	c.ExpiresAt, _ = parseKeystoneTime(t.ExpiresAt)
	return c
}

// parseKeystoneTime reads a Keystone timestamp: RFC 3339, or Python's
// isoformat() without a zone (UTC), which tokens capped by an application
// credential carry ("2026-12-03T09:40:12").
func parseKeystoneTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
}

// serviceToken returns a valid service token, getting one from Keystone
// when there is none or it expires within a minute.
func (k *Keystone) serviceToken(ctx context.Context) (string, error) {
	k.svcMu.Lock()
	defer k.svcMu.Unlock()
	if k.svcToken != "" && time.Until(k.svcExpires) > time.Minute {
		return k.svcToken, nil
	}
	scope := map[string]any{"project": map[string]any{"name": k.cfg.ProjectName,
		"domain": map[string]any{"name": k.cfg.ProjectDomainName}}}
	if k.cfg.SystemScope {
		scope = map[string]any{"system": map[string]any{"all": true}}
	}
	body, err := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": k.cfg.Username, "password": k.cfg.Password,
				"domain": map[string]any{"name": k.cfg.UserDomainName}}}},
		"scope": scope,
	}})
	if err != nil {
		return "", fmt.Errorf("keystone: service token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.cfg.AuthURL+"/auth/tokens?nocatalog",
		bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("keystone: service token: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("keystone: service token: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("keystone: service token: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		// The answer may echo nothing secret, but keep it out anyway.
		return "", fmt.Errorf("keystone: service token for user %q: HTTP %d", k.cfg.Username, resp.StatusCode)
	}
	tok := resp.Header.Get("X-Subject-Token")
	var doc tokenDoc
	if err := json.Unmarshal(raw, &doc); err != nil || tok == "" {
		return "", fmt.Errorf("keystone: service token: malformed answer")
	}
	exp, err := parseKeystoneTime(doc.Token.ExpiresAt)
	if err != nil {
		exp = time.Now().Add(5 * time.Minute)
	}
	k.svcToken, k.svcExpires = tok, exp
	return tok, nil
}

// dropServiceToken forgets svc if it is still the current service token.
func (k *Keystone) dropServiceToken(svc string) {
	k.svcMu.Lock()
	defer k.svcMu.Unlock()
	if k.svcToken == svc {
		k.svcToken = ""
	}
}

// redactURLError strips the request URL from a transport error (it holds
// no secret here, but keeps messages short and stable).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Reject renders a failure of Authenticate as keystonemiddleware does:
// {"error": {"code": ..., "title": ..., "message": ...}}, with
// WWW-Authenticate on a 401. keystonemiddleware's 503 is webob's plain
// page; ferric answers it in the same JSON shape.
func (k *Keystone) Reject(err error) (code int, body []byte, challenge string) {
	kind := Kind(err)
	code = status(kind)
	def := keystoneUnavailable
	if kind == ErrUnauthenticated {
		def = keystoneUnauthorized
		challenge = k.Challenge()
	}
	// jsonutils.dumps' spelling: ", " and ": " separators.
	title, _ := json.Marshal(http.StatusText(code))
	msg, _ := json.Marshal(message(err, def))
	body = fmt.Appendf(nil, `{"error": {"code": %d, "title": %s, "message": %s}}`, code, title, msg)
	return code, body, challenge
}
