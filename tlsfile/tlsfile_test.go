package tlsfile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/tlsfile/tlsfiletest"
)

func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlsfiletest.NewCA(t, "test CA")
	certFile, keyFile := ca.WriteFiles(t, dir, "first")
	var logs bytes.Buffer
	c, err := Load(Config{CertFile: certFile, KeyFile: keyFile, CheckInterval: time.Nanosecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// A plain server over a TLS listener (httptest's StartTLS installs its
	// own certificate, which tls prefers to GetCertificate).
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	get := func(pool *x509.CertPool) (string, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
			DisableKeepAlives: true}}
		resp, err := hc.Get("https://" + ln.Addr().String())
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.CommonName, nil
	}
	if cn, err := get(ca.Pool()); err != nil || cn != "first" {
		t.Fatalf("first certificate: %q, %v", cn, err)
	}
	// Renewed by another CA: served at the next handshake.
	ca2 := tlsfiletest.NewCA(t, "second CA")
	ca2.WriteFiles(t, dir, "second")
	if cn, err := get(ca2.Pool()); err != nil || cn != "second" {
		t.Fatalf("after renewal: %q, %v", cn, err)
	}
	// A broken key keeps the last good pair in service, logged once.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if cn, err := get(ca2.Pool()); err != nil || cn != "second" {
			t.Fatalf("after a broken key: %q, %v", cn, err)
		}
	}
	if n := strings.Count(logs.String(), "not reloaded"); n != 1 {
		t.Errorf("broken pair logged %d times:\n%s", n, logs.String())
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir, other := t.TempDir(), t.TempDir()
	if _, err := Load(Config{}); err == nil {
		t.Error("no files accepted")
	}
	if _, err := Load(Config{CertFile: filepath.Join(dir, "x"), KeyFile: filepath.Join(dir, "y")}); err == nil {
		t.Error("missing files accepted")
	}
	ca := tlsfiletest.NewCA(t, "CA")
	certFile, _ := ca.WriteFiles(t, dir, "a")
	_, otherKey := ca.WriteFiles(t, other, "b")
	_, err := Load(Config{CertFile: certFile, KeyFile: otherKey})
	if err == nil || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("mismatched pair: %v", err)
	}
}
