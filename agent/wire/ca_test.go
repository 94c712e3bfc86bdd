package wire

import (
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/ferric-project/ferric/tlsfile/tlsfiletest"
)

func TestCARoundTrip(t *testing.T) {
	t.Parallel()
	a, b := tlsfiletest.NewCA(t, "a"), tlsfiletest.NewCA(t, "b")
	bundle := append(append([]byte{}, a.PEM...), b.PEM...)
	want := x509.NewCertPool()
	want.AddCert(a.Cert)
	want.AddCert(b.Cert)
	enc, err := EncodeCA(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) > len(bundle) {
		t.Errorf("encoded %d bytes of PEM into %d", len(bundle), len(enc))
	}
	for name, s := range map[string]string{
		"encoded":    enc,
		"pem base64": base64.StdEncoding.EncodeToString(bundle),
	} {
		pool, err := DecodeCA(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !pool.Equal(want) {
			t.Errorf("%s: the pool does not hold both CAs", name)
		}
	}
	for _, bad := range []string{"", "!!!", base64.RawURLEncoding.EncodeToString([]byte("not a certificate"))} {
		if _, err := DecodeCA(bad); err == nil {
			t.Errorf("DecodeCA(%q) accepted", bad)
		}
	}
	if _, err := EncodeCA([]byte("no pem here")); err == nil {
		t.Error("EncodeCA accepted no certificate")
	}
}
