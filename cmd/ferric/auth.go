package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/api"
	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/tlsfile"
)

// authConfig is the API's authentication, policy and TLS configuration,
// and the CA handed to ramdisk agents.
type authConfig struct {
	strategy      string // auth.StrategyNoAuth, StrategyHTTPBasic or StrategyKeystone
	allowOpenAPI  bool   // noauth on a non-loopback address is meant
	basicUserFile string

	keystoneURL           string
	keystoneWWWAuthURI    string
	keystoneUser          string
	keystonePasswordFile  string
	keystonePassword      string // FERRIC_KEYSTONE_PASSWORD only: a flag would show in ps
	keystoneUserDomain    string
	keystoneProject       string
	keystoneProjectDomain string
	keystoneCacheTime     time.Duration
	keystoneCacheSize     int

	serviceRoleElevated  bool
	serviceProject       string
	projectAdminOwnNodes bool

	tlsCertFile, tlsKeyFile         string // the API's HTTPS
	bootTLSCertFile, bootTLSKeyFile string // the boot server's HTTPS
	agentCAFile                     string // ferric.ca= on the ramdisk's kernel command line
}

// authFlags declares the flags of authConfig with the parse helpers.
func authFlags(a *authConfig,
	str func(p *string, name, env, def, usage string),
	boolean func(p *bool, name, env string, def bool, usage string),
	duration func(p *time.Duration, name, env string, def time.Duration, usage string),
	integer func(p *int, name, env string, def int, usage string),
	getenv func(string) string,
) {
	str(&a.strategy, "auth-strategy", "FERRIC_AUTH_STRATEGY", auth.StrategyNoAuth,
		"API authentication, as Ironic's [DEFAULT]auth_strategy: noauth (no authentication at all), http_basic or keystone")
	boolean(&a.allowOpenAPI, "allow-insecure-noauth", "FERRIC_ALLOW_INSECURE_NOAUTH", false,
		"let roles api and all serve an unauthenticated API (noauth) on a non-loopback address")
	str(&a.basicUserFile, "http-basic-auth-user-file", "FERRIC_HTTP_BASIC_AUTH_USER_FILE", "",
		"http_basic: Apache htpasswd file of bcrypt entries (htpasswd -B), reloaded when it changes")
	str(&a.keystoneURL, "keystone-auth-url", "FERRIC_KEYSTONE_AUTH_URL", "",
		"keystone: Keystone's identity v3 endpoint, e.g. http://keystone:5000/v3")
	str(&a.keystoneWWWAuthURI, "keystone-www-authenticate-uri", "FERRIC_KEYSTONE_WWW_AUTHENTICATE_URI", "",
		"keystone: the public identity endpoint named in 401 answers (default: -keystone-auth-url)")
	str(&a.keystoneUser, "keystone-username", "FERRIC_KEYSTONE_USERNAME", "ironic",
		"keystone: the service user validating tokens (service role in -keystone-project-name)")
	str(&a.keystonePasswordFile, "keystone-password-file", "FERRIC_KEYSTONE_PASSWORD_FILE", "",
		"keystone: file holding the service user's password (or set FERRIC_KEYSTONE_PASSWORD)")
	a.keystonePassword = getenv("FERRIC_KEYSTONE_PASSWORD")
	str(&a.keystoneUserDomain, "keystone-user-domain-name", "FERRIC_KEYSTONE_USER_DOMAIN_NAME", "Default",
		"keystone: the service user's domain")
	str(&a.keystoneProject, "keystone-project-name", "FERRIC_KEYSTONE_PROJECT_NAME", "service",
		"keystone: the service user's project")
	str(&a.keystoneProjectDomain, "keystone-project-domain-name", "FERRIC_KEYSTONE_PROJECT_DOMAIN_NAME", "Default",
		"keystone: the service project's domain")
	duration(&a.keystoneCacheTime, "keystone-token-cache-time", "FERRIC_KEYSTONE_TOKEN_CACHE_TIME", 5*time.Minute,
		"keystone: how long a validated token is trusted before Keystone is asked again (a revoked token is refused within this time)")
	integer(&a.keystoneCacheSize, "keystone-token-cache-size", "FERRIC_KEYSTONE_TOKEN_CACHE_SIZE", 10000,
		"keystone: validated tokens remembered at most")
	boolean(&a.serviceRoleElevated, "rbac-service-role-elevated-access", "FERRIC_RBAC_SERVICE_ROLE_ELEVATED_ACCESS", false,
		"policy: the service role in -rbac-service-project-name acts as a system member and reader (Ironic's option)")
	str(&a.serviceProject, "rbac-service-project-name", "FERRIC_RBAC_SERVICE_PROJECT_NAME", "service",
		"policy: the project of -rbac-service-role-elevated-access")
	boolean(&a.projectAdminOwnNodes, "project-admin-can-manage-own-nodes", "FERRIC_PROJECT_ADMIN_CAN_MANAGE_OWN_NODES", true,
		"policy: project admins may create nodes owned by their project and delete them (API 1.80)")
	str(&a.tlsCertFile, "tls-cert-file", "FERRIC_TLS_CERT_FILE", "",
		"serve the API over HTTPS with this PEM certificate chain (reloaded when it changes)")
	str(&a.tlsKeyFile, "tls-key-file", "FERRIC_TLS_KEY_FILE", "", "the API certificate's PEM private key")
	str(&a.bootTLSCertFile, "boot-tls-cert-file", "FERRIC_BOOT_TLS_CERT_FILE", "",
		"serve the boot server's HTTP side over HTTPS with this PEM certificate chain (reloaded when it changes; iPXE must trust its CA)")
	str(&a.bootTLSKeyFile, "boot-tls-key-file", "FERRIC_BOOT_TLS_KEY_FILE", "", "the boot certificate's PEM private key")
	str(&a.agentCAFile, "agent-ca-file", "FERRIC_AGENT_CA_FILE", "",
		"PEM CA the ramdisk agent verifies the API's certificate with, passed on its kernel command line (ferric.ca=); the agent then refuses plain HTTP")
}

// check validates the configuration for role, whose API listens on
// apiAddr.
func (a *authConfig) check(role, apiAddr string) error {
	switch a.strategy {
	case auth.StrategyNoAuth:
		if (role == "api" || role == "all") && !isLoopback(apiAddr) && !a.allowOpenAPI {
			return fmt.Errorf("refusing to serve an unauthenticated API (-auth-strategy=noauth) on %s, "+
				"which is not a loopback address: anyone reaching it could power off, wipe and redeploy every node; "+
				"choose -auth-strategy=http_basic or keystone, or pass -allow-insecure-noauth if that is meant", apiAddr)
		}
	case auth.StrategyHTTPBasic:
		if a.basicUserFile == "" {
			return errors.New("-auth-strategy=http_basic needs -http-basic-auth-user-file")
		}
	case auth.StrategyKeystone:
		if a.keystoneURL == "" {
			return errors.New("-auth-strategy=keystone needs -keystone-auth-url")
		}
		if a.keystonePasswordFile == "" && a.keystonePassword == "" {
			return errors.New("-auth-strategy=keystone needs the service user's password: -keystone-password-file or FERRIC_KEYSTONE_PASSWORD")
		}
	default:
		return fmt.Errorf("-auth-strategy %q: want noauth, http_basic or keystone", a.strategy)
	}
	if (a.tlsCertFile == "") != (a.tlsKeyFile == "") {
		return errors.New("-tls-cert-file and -tls-key-file go together")
	}
	if (a.bootTLSCertFile == "") != (a.bootTLSKeyFile == "") {
		return errors.New("-boot-tls-cert-file and -boot-tls-key-file go together")
	}
	return nil
}

// isLoopback reports whether a listen address (host:port) binds loopback
// only; an empty host (all interfaces) does not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// newAuthenticator builds the API's authenticator (nil for noauth).
func newAuthenticator(a authConfig, log *slog.Logger) (api.Authenticator, error) {
	switch a.strategy {
	case auth.StrategyHTTPBasic:
		b, err := auth.NewBasic(auth.BasicConfig{UserFile: a.basicUserFile, Log: log.With("component", "auth")})
		if err != nil {
			return nil, err
		}
		log.Info("API authentication: http_basic", "user_file", a.basicUserFile, "users", b.Users())
		return b, nil
	case auth.StrategyKeystone:
		password := a.keystonePassword
		if a.keystonePasswordFile != "" {
			raw, err := os.ReadFile(a.keystonePasswordFile)
			if err != nil {
				return nil, fmt.Errorf("-keystone-password-file: %w", err)
			}
			password = strings.TrimRight(string(raw), "\r\n")
		}
		k, err := auth.NewKeystone(auth.KeystoneConfig{AuthURL: a.keystoneURL,
			WWWAuthenticateURI: a.keystoneWWWAuthURI, Username: a.keystoneUser, Password: password,
			UserDomainName: a.keystoneUserDomain, ProjectName: a.keystoneProject,
			ProjectDomainName: a.keystoneProjectDomain, CacheTTL: a.keystoneCacheTime,
			CacheSize: a.keystoneCacheSize, Log: log.With("component", "auth")})
		if err != nil {
			return nil, err
		}
		log.Info("API authentication: keystone", "auth_url", a.keystoneURL, "service_user", a.keystoneUser)
		return k, nil
	}
	return nil, nil
}

// policy is the API's policy configuration.
func (a *authConfig) policy() auth.Policy {
	return auth.Policy{ServiceRoleElevated: a.serviceRoleElevated, ServiceProject: a.serviceProject,
		NoProjectAdminOwnNodes: !a.projectAdminOwnNodes}
}

// warnOpen says loudly that the API is open (noauth).
func warnOpen(log *slog.Logger, addr string) {
	log.Warn("API AUTHENTICATION IS OFF (-auth-strategy=noauth): anyone who can reach " + addr +
		" can power off, wipe and redeploy every node ferric manages; use -auth-strategy=http_basic or keystone")
}

// apiTLS is the API's TLS configuration (nil without -tls-cert-file).
func apiTLS(a authConfig, log *slog.Logger) (*tls.Config, error) {
	return loadTLS(a.tlsCertFile, a.tlsKeyFile, log)
}

// bootTLS is the boot server's TLS configuration (nil without
// -boot-tls-cert-file).
func bootTLS(a authConfig, log *slog.Logger) (*tls.Config, error) {
	return loadTLS(a.bootTLSCertFile, a.bootTLSKeyFile, log)
}

func loadTLS(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	c, err := tlsfile.Load(tlsfile.Config{CertFile: certFile, KeyFile: keyFile, Log: log})
	if err != nil {
		return nil, err
	}
	return c.ServerConfig(), nil
}

// maxKernelCmdline bounds the ramdisk's kernel command line: x86's
// COMMAND_LINE_SIZE is 2048 bytes, and the boot server appends initrd= and
// BOOTIF= (under 64 bytes).
const maxKernelCmdline = 2048 - 64

// agentCA returns the ferric.ca= value for agentCAFile ("" without one). A
// CA needs an https agent API URL (the agent refuses plain HTTP with one).
func agentCA(a authConfig, agentAPIURL string) (string, error) {
	if a.agentCAFile == "" {
		return "", nil
	}
	pemBytes, err := os.ReadFile(a.agentCAFile)
	if err != nil {
		return "", fmt.Errorf("-agent-ca-file: %w", err)
	}
	enc, err := wire.EncodeCA(pemBytes)
	if err != nil {
		return "", fmt.Errorf("-agent-ca-file %s: %w", a.agentCAFile, err)
	}
	if !strings.HasPrefix(agentAPIURL, "https://") {
		return "", fmt.Errorf("-agent-ca-file is set but -agent-api-url %q is not https: the agent would refuse it", agentAPIURL)
	}
	return enc, nil
}
