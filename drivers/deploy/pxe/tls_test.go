package pxe

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferric-project/ferric/tlsfile"
	"github.com/ferric-project/ferric/tlsfile/tlsfiletest"
)

// TestHTTPS checks the HTTP side over TLS: scripts point nodes at https
// URLs, the certificate is the configured one (reloaded when it changes),
// and plain HTTP is not served.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlsfiletest.NewCA(t, "boot CA")
	certFile, keyFile := ca.WriteFiles(t, dir, "boot-1")
	cert, err := tlsfile.Load(tlsfile.Config{CertFile: certFile, KeyFile: keyFile, CheckInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	ramdisk := filepath.Join(dir, "ramdisk")
	if err := os.Mkdir(ramdisk, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Config{RamdiskDir: ramdisk, TLS: cert.ServerConfig()}, testConfigs())
	get := func(url string) (*http.Response, []byte, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
			DisableKeepAlives: true}}
		resp, err := hc.Get(url)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}
	base := "https://" + s.HTTPAddr()
	resp, body, err := get(base + "/ipxe/52-54-00-12-34-56")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("script over https: %v", err)
	}
	if !bytes.Contains(body, []byte("kernel --name kernel "+base+"/images/vmlinuz ")) {
		t.Errorf("the script does not point at https:\n%s", body)
	}
	if resp.TLS.PeerCertificates[0].Subject.CommonName != "boot-1" {
		t.Errorf("served %q", resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	ca.WriteFiles(t, dir, "boot-2")
	if resp, _, err := get(base + "/boot.ipxe"); err != nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "boot-2" {
		t.Errorf("after renewal: %v", err)
	}
	// net/http answers plain HTTP on a TLS listener with its 400.
	if resp, err := http.Get("http://" + s.HTTPAddr() + "/boot.ipxe"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS listener: %d", resp.StatusCode)
		}
	}
}
