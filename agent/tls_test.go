package agent

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/tlsfile/tlsfiletest"
)

// TestAgentVerifiesAPICertificate checks the agent with a CA (ferric.ca=):
// it talks to an API whose certificate chains to the CA, refuses one that
// does not, refuses a plain-HTTP API URL, and does not follow a redirect to
// plain HTTP.
func TestAgentVerifiesAPICertificate(t *testing.T) {
	t.Parallel()
	ca := tlsfiletest.NewCA(t, "ferric CA")
	lookup := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(wire.LookupResponse{Node: wire.LookupNode{UUID: "n1"}})
	})
	serve := func(cert tls.Certificate, h http.Handler) *httptest.Server {
		srv := httptest.NewUnstartedServer(h)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	good := serve(ca.TLSCertificate(t, "api"), lookup)
	impostor := serve(tlsfiletest.NewCA(t, "other CA").TLSCertificate(t, "api"), lookup)
	plain := httptest.NewServer(lookup)
	t.Cleanup(plain.Close)
	downgrade := serve(ca.TLSCertificate(t, "api"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusFound)
	}))

	lookupVia := func(url string) error {
		a, err := New(Config{APIURL: url, RootCAs: ca.Pool()})
		if err != nil {
			return err
		}
		_, err = a.api.lookup(t.Context(), []string{"52:54:00:12:34:56"})
		return err
	}
	if err := lookupVia(good.URL); err != nil {
		t.Errorf("API with a certificate from the CA: %v", err)
	}
	if err := lookupVia(impostor.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("API with a certificate from another CA: %v", err)
	}
	if err := lookupVia(plain.URL); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("plain HTTP API with a CA set: %v", err)
	}
	if err := lookupVia(downgrade.URL); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("redirect to plain HTTP: %v", err)
	}
	// Without a CA, plain HTTP stays allowed (development).
	a, err := New(Config{APIURL: plain.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.api.lookup(t.Context(), []string{"52:54:00:12:34:56"}); err != nil {
		t.Errorf("plain HTTP without a CA: %v", err)
	}
}
