package wire

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// CACmdlineKey is the kernel command line key carrying the CA the agent
// verifies the API's certificate with: ferric.ca=<EncodeCA(...)>.
const CACmdlineKey = "ferric.ca"

// EncodeCA turns PEM CA certificates into a kernel command line value: the
// certificates in DER, concatenated, in unpadded URL-safe base64 (no
// character the kernel or iPXE would split on, and a third smaller than the
// PEM text).
func EncodeCA(pemBytes []byte) (string, error) {
	var der []byte
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return "", fmt.Errorf("CA: %w", err)
		}
		der = append(der, b.Bytes...)
	}
	if len(der) == 0 {
		return "", errors.New("CA: no PEM certificate found")
	}
	return base64.RawURLEncoding.EncodeToString(der), nil
}

// DecodeCA reads what EncodeCA wrote (also accepted: standard or padded
// base64, and base64 of PEM text) into a certificate pool.
func DecodeCA(s string) (*x509.CertPool, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("CA: not base64: %w", err)
	}
	return ParseCA(raw)
}

// ParseCA reads PEM text or concatenated DER certificates into a pool.
func ParseCA(raw []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if bytes.Contains(raw, []byte("-----BEGIN")) {
		if !pool.AppendCertsFromPEM(raw) {
			return nil, errors.New("CA: no PEM certificate found")
		}
		return pool, nil
	}
	certs, err := x509.ParseCertificates(raw)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if len(certs) == 0 {
		return nil, errors.New("CA: no certificate")
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
