// Package tlsfile serves a TLS certificate and key from PEM files, reloaded
// when the files change (a renewed certificate is picked up without a
// restart). It is used by the API's listener and the boot server's HTTP
// side.
package tlsfile

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Config names the files.
type Config struct {
	CertFile string // PEM certificate chain, leaf first
	KeyFile  string // PEM private key
	// CheckInterval is how often the files are checked for a change
	// (default 5 s); the check runs on a handshake, never in the
	// background.
	CheckInterval time.Duration
	// Log receives reloads and reload failures; nil discards.
	Log *slog.Logger
}

// Certificate is a certificate loaded from files, reloaded on change.
type Certificate struct {
	cfg       Config
	log       *slog.Logger
	cur       atomic.Pointer[loaded]
	nextCheck atomic.Int64
	mu        sync.Mutex // held while checking the files
	failed    string     // file versions that last failed to load (logged once); guarded by mu
}

type loaded struct {
	cert    *tls.Certificate
	version string // modification times and sizes of both files
}

// Load reads the certificate and key; they must form a valid pair.
func Load(cfg Config) (*Certificate, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("tlsfile: a certificate file and a key file are both needed")
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 5 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Certificate{cfg: cfg, log: log}
	version, err := c.version()
	if err != nil {
		return nil, err
	}
	l, err := c.load(version)
	if err != nil {
		return nil, err
	}
	c.cur.Store(l)
	c.nextCheck.Store(time.Now().Add(cfg.CheckInterval).UnixNano())
	return c, nil
}

// version identifies the files' current contents by modification time and
// size.
func (c *Certificate) version() (string, error) {
	var v string
	for _, f := range []string{c.cfg.CertFile, c.cfg.KeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tlsfile: %w", err)
		}
		v += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return v, nil
}

func (c *Certificate) load(version string) (*loaded, error) {
	cert, err := tls.LoadX509KeyPair(c.cfg.CertFile, c.cfg.KeyFile)
	if err != nil {
		// LoadX509KeyPair's errors name no key material.
		return nil, fmt.Errorf("tlsfile: %s and %s: %w", c.cfg.CertFile, c.cfg.KeyFile, err)
	}
	return &loaded{cert: &cert, version: version}, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate,
// reloaded first if the files changed. A pair that no longer loads (a key
// written before its certificate, say) leaves the previous one in service.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.maybeReload()
	return c.cur.Load().cert, nil
}

func (c *Certificate) maybeReload() {
	now := time.Now()
	if now.UnixNano() < c.nextCheck.Load() || !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	c.nextCheck.Store(now.Add(c.cfg.CheckInterval).UnixNano())
	version, err := c.version()
	if err != nil {
		if msg := err.Error(); msg != c.failed {
			c.failed = msg
			c.log.Error("TLS certificate files unreadable; keeping the certificate loaded before", "err", err)
		}
		return
	}
	if version == c.cur.Load().version || version == c.failed {
		return
	}
	l, err := c.load(version)
	if err != nil {
		c.failed = version
		c.log.Error("TLS certificate not reloaded; keeping the certificate loaded before", "err", err)
		return
	}
	c.failed = ""
	c.cur.Store(l)
	c.log.Info("TLS certificate reloaded", "cert", c.cfg.CertFile)
}

// ServerConfig is a server tls.Config serving the certificate (TLS 1.2 or
// later).
func (c *Certificate) ServerConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}
