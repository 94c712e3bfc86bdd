package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// BasicChallenge is the WWW-Authenticate header of a 401 under http_basic
// (ironic-lib's).
const BasicChallenge = `Basic realm="Baremetal API"`

// ErrBadUserFile is wrapped by NewBasic's error when the htpasswd file
// cannot be read or holds an entry Ironic would refuse.
var ErrBadUserFile = errors.New("auth: invalid htpasswd file")

// BasicConfig configures Basic.
type BasicConfig struct {
	// UserFile is the htpasswd file: "user:hash" lines, bcrypt hashes only
	// ($2y$, $2a$, $2b$), as Ironic's [DEFAULT]http_basic_auth_user_file.
	UserFile string
	// CheckInterval is how often the file is checked for a change (default
	// 1 s): a changed file is reloaded without a restart.
	CheckInterval time.Duration
	// CacheTTL bounds how long a verified user and password is remembered
	// (default 5 min). A change of the user's entry forgets it at once.
	CacheTTL time.Duration
	// CacheSize bounds the remembered credentials (default 1024).
	CacheSize int
	// Log receives reloads and refusals; nil discards.
	Log *slog.Logger
}

// Basic is the http_basic strategy: HTTP Basic credentials checked against
// an htpasswd file of bcrypt hashes, as ironic-lib's BasicAuthMiddleware
// does, with the same answers.
//
// bcrypt is slow by design (tens of milliseconds), so a verified user and
// password is remembered for CacheTTL, keyed by an HMAC of both under a
// random per-process key (no password, nor any fast hash of one an attacker
// could test guesses against without that key, is kept) and tied to the
// entry it matched: editing or removing the user's line forgets it. Wrong
// passwords are never remembered, and at most GOMAXPROCS bcrypt comparisons
// run at once, so a flood of bad credentials cannot starve the rest.
type Basic struct {
	cfg   BasicConfig
	log   *slog.Logger
	users atomic.Pointer[userFile]

	reloadMu  sync.Mutex // held while checking the file
	nextCheck atomic.Int64
	// failed identifies the file version (or stat error) that last failed
	// to load, so that it is logged once; guarded by reloadMu.
	failed string

	key   [32]byte // HMAC key of the cache
	mu    sync.Mutex
	cache map[[32]byte]basicEntry

	bcryptSlots chan struct{}
	compares    atomic.Int64 // bcrypt comparisons made (tests)
}

// userFile is one loaded version of the htpasswd file.
type userFile struct {
	hashes  map[string][]byte // user -> bcrypt hash
	modTime time.Time
	size    int64
}

type basicEntry struct {
	user    string
	hash    []byte // the entry it was verified against
	expires time.Time
}

// NewBasic loads cfg.UserFile. A file Ironic would refuse (unreadable, or
// an entry that is not bcrypt) is an error naming the line and user, never
// the hash.
func NewBasic(cfg BasicConfig) (*Basic, error) {
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = time.Second
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1024
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Basic{cfg: cfg, log: log, cache: map[[32]byte]basicEntry{},
		bcryptSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	_, _ = rand.Read(b.key[:]) // never fails
	uf, err := loadUserFile(cfg.UserFile)
	if err != nil {
		return nil, err
	}
	b.users.Store(uf)
	b.nextCheck.Store(time.Now().Add(cfg.CheckInterval).UnixNano())
	return b, nil
}

// Users returns the number of users the current file holds.
func (b *Basic) Users() int { return len(b.users.Load().hashes) }

// loadUserFile reads and checks an htpasswd file as ironic-lib's
// validate_auth_file and parse_entry do: every non-empty line with a colon
// must carry a bcrypt hash.
func loadUserFile(path string) (*userFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadUserFile, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadUserFile, err)
	}
	uf := &userFile{hashes: map[string][]byte{}, modTime: st.ModTime(), size: st.Size()}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		entry := strings.TrimSpace(sc.Text())
		if entry == "" || !strings.Contains(entry, ":") {
			continue
		}
		user, hash, _ := strings.Cut(entry, ":")
		if !isBcrypt(hash) {
			return nil, fmt.Errorf("%w: %s line %d: only bcrypt digested passwords are supported for %q "+
				"(create entries with htpasswd -B)", ErrBadUserFile, path, line, user)
		}
		if _, dup := uf.hashes[user]; !dup { // ironic-lib uses the first match
			uf.hashes[user] = []byte(hash)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadUserFile, path, err)
	}
	return uf, nil
}

// isBcrypt reports whether hash has a prefix ironic-lib accepts.
func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2y$") || strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$")
}

// reloadIfChanged reloads the file when CheckInterval has passed and its
// size or modification time changed. A file that no longer loads leaves the
// last good one in force, and is logged once.
func (b *Basic) reloadIfChanged(ctx context.Context) {
	now := time.Now()
	if now.UnixNano() < b.nextCheck.Load() || !b.reloadMu.TryLock() {
		return
	}
	defer b.reloadMu.Unlock()
	b.nextCheck.Store(now.Add(b.cfg.CheckInterval).UnixNano())
	cur := b.users.Load()
	st, err := os.Stat(b.cfg.UserFile)
	if err != nil {
		if sig := "stat: " + err.Error(); sig != b.failed {
			b.failed = sig
			b.log.ErrorContext(ctx, "htpasswd file unreadable; keeping the users loaded before", "err", err)
		}
		return
	}
	if st.ModTime().Equal(cur.modTime) && st.Size() == cur.size {
		b.failed = ""
		return
	}
	sig := fmt.Sprintf("version %d/%d", st.ModTime().UnixNano(), st.Size())
	if sig == b.failed {
		return
	}
	uf, err := loadUserFile(b.cfg.UserFile)
	if err != nil {
		b.failed = sig
		b.log.ErrorContext(ctx, "htpasswd file not reloaded; keeping the users loaded before", "err", err)
		return
	}
	b.failed = ""
	b.users.Store(uf)
	b.log.InfoContext(ctx, "htpasswd file reloaded", "file", b.cfg.UserFile, "users", len(uf.hashes))
}

// Authenticate checks r's Basic credentials. Its errors are ironic-lib's:
// a missing header or wrong credentials are ErrUnauthenticated, a header
// that cannot be parsed is ErrMalformed.
func (b *Basic) Authenticate(ctx context.Context, r Request) (*Credentials, error) {
	if !r.HasAuthorization {
		return nil, fail(ErrUnauthenticated, "Authorization required", nil)
	}
	// Python's header.strip().split(maxsplit=1).
	h := strings.TrimSpace(r.Authorization)
	i := strings.IndexFunc(h, unicode.IsSpace)
	if i < 0 {
		return nil, fail(ErrMalformed, "Could not parse Authorization header", nil)
	}
	authType, token := h[:i], strings.TrimLeftFunc(h[i:], unicode.IsSpace)
	if !strings.EqualFold(authType, "basic") {
		return nil, fail(ErrMalformed, fmt.Sprintf("Unsupported authorization type \"%s\"", authType), nil)
	}
	pair, err := base64.StdEncoding.Strict().DecodeString(token)
	if err != nil {
		return nil, fail(ErrMalformed, "Could not decode authorization token", nil)
	}
	user, password, ok := bytes.Cut(pair, []byte(":"))
	if !ok || !utf8.Valid(user) {
		return nil, fail(ErrMalformed, "Could not decode authorization token", nil)
	}
	b.reloadIfChanged(ctx)
	hash, known := b.users.Load().hashes[string(user)]
	if !known {
		b.log.InfoContext(ctx, "http_basic: user not found", "user", string(user))
		return nil, fail(ErrUnauthenticated, "Incorrect username or password", nil)
	}
	creds := &Credentials{Strategy: StrategyHTTPBasic, Unrestricted: true, UserName: string(user)}
	key := b.cacheKey(user, password)
	now := time.Now()
	b.mu.Lock()
	e, hit := b.cache[key]
	b.mu.Unlock()
	if hit && now.Before(e.expires) && e.user == string(user) && bytes.Equal(e.hash, hash) {
		return creds, nil
	}
	select {
	case b.bcryptSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fail(ErrUnavailable, "Request cancelled", ctx.Err())
	}
	b.compares.Add(1)
	err = bcrypt.CompareHashAndPassword(hash, password)
	<-b.bcryptSlots
	if err != nil {
		b.log.InfoContext(ctx, "http_basic: password does not match", "user", string(user))
		return nil, fail(ErrUnauthenticated, "Incorrect username or password", nil)
	}
	b.remember(key, basicEntry{user: string(user), hash: hash, expires: now.Add(b.cfg.CacheTTL)}, now)
	return creds, nil
}

// cacheKey is HMAC-SHA256(key, user NUL password).
func (b *Basic) cacheKey(user, password []byte) [32]byte {
	m := hmac.New(sha256.New, b.key[:])
	m.Write(user)
	m.Write([]byte{0})
	m.Write(password)
	var k [32]byte
	m.Sum(k[:0])
	return k
}

// remember caches e, making room when the cache is full: expired entries
// go first, then arbitrary ones.
func (b *Basic) remember(k [32]byte, e basicEntry, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.cache) >= b.cfg.CacheSize {
		for ck, ce := range b.cache {
			if now.After(ce.expires) {
				delete(b.cache, ck)
			}
		}
		for ck := range b.cache {
			if len(b.cache) < b.cfg.CacheSize {
				break
			}
			delete(b.cache, ck)
		}
	}
	b.cache[k] = e
}

// Reject renders a failure of Authenticate as ironic-lib does:
// {"error": {"message": ..., "code": ...}}, with WWW-Authenticate on a 401.
func (b *Basic) Reject(err error) (code int, body []byte, challenge string) {
	kind := Kind(err)
	code = status(kind)
	doc := struct {
		Error struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
		} `json:"error"`
	}{}
	doc.Error.Message, doc.Error.Code = message(err, "Authentication failed"), code
	body, _ = json.Marshal(doc)
	if kind == ErrUnauthenticated {
		challenge = BasicChallenge
	}
	return code, body, challenge
}
