// Package auth authenticates API requests and decides what they may do.
//
// It offers OpenStack Ironic's three strategies, under Ironic's names:
// noauth (NoAuth: everyone may do everything), http_basic (Basic: an Apache
// htpasswd file of bcrypt entries, as ironic-lib reads it) and keystone
// (Keystone: X-Auth-Token validated against Keystone v3, as
// keystonemiddleware does). Each turns a request's headers into Credentials.
//
// Policy holds Ironic's default policy (ironic/common/policy.py, 2023.1, with
// the new defaults enforced) as code: rules by name, evaluated against
// Credentials and a Target (a node's owner and lessee). As in Ironic, policy
// applies only to Keystone credentials: noauth and http_basic credentials are
// Unrestricted.
//
// The package knows nothing of HTTP servers: the API adapts requests to
// Request and errors to responses.
package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Strategy names, as Ironic's [DEFAULT]auth_strategy spells them.
const (
	StrategyNoAuth    = "noauth"
	StrategyHTTPBasic = "http_basic"
	StrategyKeystone  = "keystone"
)

// Request is what authentication reads of an HTTP request.
type Request struct {
	// Authorization is the Authorization header (http_basic).
	Authorization string
	// HasAuthorization tells an empty header from a missing one.
	HasAuthorization bool
	// AuthToken is the X-Auth-Token header (keystone).
	AuthToken string
}

// Credentials are who made a request, as policy sees them. They hold
// identifiers and names only, never a password or token.
type Credentials struct {
	// Strategy is the strategy that authenticated the request.
	Strategy string
	// Unrestricted credentials pass every policy check: noauth and
	// http_basic, where Ironic does not enforce policy either.
	Unrestricted bool

	UserID, UserName, UserDomainID string
	// ProjectID and ProjectName are set for a project-scoped token.
	ProjectID, ProjectName, ProjectDomainID string
	// DomainID is set for a domain-scoped token.
	DomainID string
	// System is "all" for a system-scoped token.
	System string
	// Roles are the token's role names (implied roles included, as Keystone
	// expands them), lower case.
	Roles []string
	// ExpiresAt is when the token expires (zero: never, or not a token).
	ExpiresAt time.Time
}

// HasRole reports whether c holds role (case-insensitive, as oslo.policy).
func (c *Credentials) HasRole(role string) bool {
	return slices.Contains(c.Roles, strings.ToLower(role))
}

// SystemScoped reports whether c comes from a system-scoped token.
func (c *Credentials) SystemScoped() bool { return c.System == "all" }

// User is who history entries and workflow memos name: the user ID, or the
// user name when there is no ID (http_basic), or "" (noauth).
func (c *Credentials) User() string {
	if c == nil {
		return ""
	}
	if c.UserID != "" {
		return c.UserID
	}
	return c.UserName
}

// Project is the caller's project ID ("" when not project-scoped).
func (c *Credentials) Project() string {
	if c == nil {
		return ""
	}
	return c.ProjectID
}

// Anonymous are the credentials of every request under noauth.
func Anonymous() *Credentials {
	return &Credentials{Strategy: StrategyNoAuth, Unrestricted: true}
}

type credentialsKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c *Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// FromContext returns the credentials ctx carries, or nil.
func FromContext(ctx context.Context) *Credentials {
	c, _ := ctx.Value(credentialsKey{}).(*Credentials)
	return c
}

// Errors. Authentication failures are *Error values wrapping one of these;
// classify with errors.Is.
var (
	// ErrUnauthenticated: missing, wrong, expired or revoked credentials
	// (401).
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrMalformed: an Authorization header that cannot be parsed (400, as
	// ironic-lib answers).
	ErrMalformed = errors.New("auth: malformed credentials")
	// ErrUnavailable: the identity service cannot be reached or fails
	// (503); nothing is known about the credentials.
	ErrUnavailable = errors.New("auth: identity service unavailable")
)

// Error is an authentication failure with what the client is told. Message
// never holds a secret; Err (for logs) never does either.
type Error struct {
	Kind    error  // ErrUnauthenticated, ErrMalformed or ErrUnavailable
	Message string // for the client
	Err     error  // the cause, for logs (may be nil)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Kind.Error() + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Kind.Error() + ": " + e.Message
}

// Is makes errors.Is(err, ErrUnauthenticated) and its siblings work.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func fail(kind error, msg string, cause error) *Error {
	return &Error{Kind: kind, Message: msg, Err: cause}
}

// Kind returns the kind of an authentication failure: ErrUnauthenticated,
// ErrMalformed or ErrUnavailable (anything else counts as unavailable).
func Kind(err error) error {
	for _, k := range []error{ErrUnauthenticated, ErrMalformed, ErrUnavailable} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrUnavailable
}

// message is the client message of err, or def.
func message(err error, def string) string {
	var ae *Error
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return def
}

// status is the HTTP status of a failure kind.
func status(kind error) int {
	switch kind {
	case ErrUnauthenticated:
		return 401
	case ErrMalformed:
		return 400
	}
	return 503
}
