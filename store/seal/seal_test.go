package seal_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/store/seal"
)

func ring(t *testing.T, ids ...string) *seal.Ring {
	t.Helper()
	var lines []string
	for _, id := range ids {
		l, err := seal.NewKeyLine(id)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	r, err := seal.ParseKeys(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealJSON(t *testing.T) {
	r := ring(t, "k1")
	in := json.RawMessage(`{"ipmi_address":"10.0.0.7","ipmi_password":"s3cret","ssh_key_contents":"-----BEGIN-----",` +
		`"nested":{"bmc_password":"p2","port":623},"list":[{"password":"p3"}],"empty_password":""}`)
	sealed, err := r.SealJSON(in, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret", "-----BEGIN-----", "p2", "p3"} {
		// As a JSON string (quoted): a short secret's letters can stand
		// inside the base64 of a ciphertext by chance.
		if strings.Contains(string(sealed), `"`+secret+`"`) {
			t.Errorf("%q is in the sealed document %s", secret, sealed)
		}
	}
	if !strings.Contains(string(sealed), `"ipmi_address":"10.0.0.7"`) || !strings.Contains(string(sealed), `"port":623`) {
		t.Errorf("non-secrets changed: %s", sealed)
	}
	again, _ := r.SealJSON(sealed, "node-1")
	if string(again) != string(sealed) {
		t.Error("sealing a sealed document changed it")
	}
	if det, _ := r.SealJSON(in, "node-1"); string(det) != string(sealed) {
		t.Error("sealing is not deterministic")
	}
	opened, err := r.OpenJSON(sealed, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(in, &a)
	_ = json.Unmarshal(opened, &b)
	if ja, _ := json.Marshal(a); string(ja) != string(mustJSON(t, b)) {
		t.Errorf("round trip %s != %s", opened, in)
	}
	// Bound to its node: moved to another one, it does not open.
	if _, err := r.OpenJSON(sealed, "node-2"); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("opened under another node: %v", err)
	}
	// Tampered.
	tampered := strings.Replace(string(sealed), seal.Prefix+"k1:", seal.Prefix+"k1:A", 1)
	if _, err := r.OpenJSON(json.RawMessage(tampered), "node-1"); err == nil {
		t.Error("a tampered value opened")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRotation(t *testing.T) {
	old := ring(t, "old")
	sealed, _ := old.SealJSON(json.RawMessage(`{"ipmi_password":"pw"}`), "n")
	// A ring without the sealing key cannot open.
	newLine, _ := seal.NewKeyLine("new")
	f := filepath.Join(t.TempDir(), "keys")
	other, err := seal.ParseKeys(strings.NewReader(newLine))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.OpenJSON(sealed, "n"); !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("opened without its key: %v", err)
	}
	// The new key file lists the new key first and keeps the old one:
	// sealing again moves the value to the current key.
	l1, _ := seal.NewKeyLine("k-old")
	l2, _ := seal.NewKeyLine("k-new")
	if err := os.WriteFile(f, []byte(l1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r1, err := seal.LoadKeyFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := r1.SealJSON(json.RawMessage(`{"ipmi_password":"pw"}`), "n")
	if err := os.WriteFile(f, []byte(l2+"\n"+l1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r2, err := seal.LoadKeyFile(f)
	if err != nil || r2.Current() != "k-new" {
		t.Fatalf("ring %v %v", r2, err)
	}
	s2, err := r2.SealJSON(s1, "n")
	if err != nil || !strings.Contains(string(s2), seal.Prefix+"k-new:") {
		t.Fatalf("resealed %s %v", s2, err)
	}
	if p, err := r2.OpenJSON(s2, "n"); err != nil || !strings.Contains(string(p), `"pw"`) {
		t.Errorf("open after rotation %s %v", p, err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "keys")
	if err := seal.CreateKeyFile(f, "dev"); err != nil {
		t.Fatal(err)
	}
	if err := seal.CreateKeyFile(f, "dev"); err == nil {
		t.Error("an existing key file was overwritten")
	}
	if r, err := seal.LoadKeyFile(f); err != nil || r.Current() != "dev" {
		t.Fatalf("load %v %v", r, err)
	}
	_ = os.Chmod(f, 0o644)
	if _, err := seal.LoadKeyFile(f); !errors.Is(err, seal.ErrKeyFile) {
		t.Errorf("a world-readable key file loaded: %v", err)
	}
	for _, bad := range []string{"", "k1 notbase64!", "k1 c2hvcnQ=", "bad id AAAA", "k1 " + strings.Repeat("A", 44) + "\nk1 " + strings.Repeat("A", 44)} {
		if _, err := seal.ParseKeys(strings.NewReader(bad)); !errors.Is(err, seal.ErrKeyFile) {
			t.Errorf("ParseKeys(%q) = %v, want ErrKeyFile", bad, err)
		}
	}
}
