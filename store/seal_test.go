package store_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/seal"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestSecretsSealedAtRest: with a key ring, driver_info secrets reach
// PostgreSQL sealed: the column holds no password, reads return it, a
// pg_dump of the database finds it nowhere.
func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	line, _ := seal.NewKeyLine("test")
	ring, err := seal.ParseKeys(strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	s.SetSecrets(ring)
	ctx := context.Background()
	const pw = "bmc-pw-5e1b77"
	n := mustNode(t, s, "sealed", func(n *store.Node) {
		n.DriverInfo = json.RawMessage(`{"ipmi_address":"10.0.0.7","ipmi_password":"` + pw + `"}`)
	})
	if !strings.Contains(string(n.DriverInfo), pw) {
		t.Fatalf("read back: %s", n.DriverInfo)
	}
	var raw string
	if err := s.Pool().QueryRow(ctx, `SELECT driver_info::text FROM nodes WHERE uuid = $1`, n.UUID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, pw) || !strings.Contains(raw, seal.Prefix+"test:") || !strings.Contains(raw, "10.0.0.7") {
		t.Fatalf("stored driver_info %s", raw)
	}
	// An update that keeps the secret writes the same sealed value.
	n.Description = ptr("x")
	if n, err = s.UpdateNode(ctx, n); err != nil || !strings.Contains(string(n.DriverInfo), pw) {
		t.Fatalf("update: %s %v", n.DriverInfo, err)
	}
	var again string
	_ = s.Pool().QueryRow(ctx, `SELECT driver_info::text FROM nodes WHERE uuid = $1`, n.UUID).Scan(&again)
	if again != raw {
		t.Errorf("resealed differently: %s vs %s", again, raw)
	}
	// A dump of the test's schema holds no password. (The whole database
	// would race with the other tests dropping their schemas.)
	var schema string
	if err := s.Pool().QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		if len(matches) == 0 {
			t.Fatal("pg_dump not found")
		}
		pgDump = matches[0]
	}
	out, err := exec.Command(pgDump, "--data-only", "--schema="+schema, storetest.URL(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if strings.Contains(string(out), pw) {
		t.Error("the BMC password is in a pg_dump of the database")
	}
	if !strings.Contains(string(out), seal.Prefix) {
		t.Error("the dump holds no sealed value: did it dump this test's schema?")
	}
}

func TestResealSecrets(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	// Stored in clear before a key file existed.
	n := mustNode(t, s, "clear", func(n *store.Node) { n.DriverInfo = json.RawMessage(`{"ipmi_password":"pw-1"}`) })
	l1, _ := seal.NewKeyLine("one")
	r1, _ := seal.ParseKeys(strings.NewReader(l1))
	s.SetSecrets(r1)
	if got, err := s.ResealSecrets(ctx); err != nil || got != 1 {
		t.Fatalf("reseal: %d %v", got, err)
	}
	raw := func() string {
		var v string
		_ = s.Pool().QueryRow(ctx, `SELECT driver_info::text FROM nodes WHERE uuid = $1`, n.UUID).Scan(&v)
		return v
	}
	if v := raw(); strings.Contains(v, "pw-1") || !strings.Contains(v, seal.Prefix+"one:") {
		t.Fatalf("after sealing: %s", v)
	}
	if got, _ := s.ResealSecrets(ctx); got != 0 {
		t.Errorf("nothing to do, rewrote %d", got)
	}
	// Rotation: a new first key, the old one kept to open.
	l2, _ := seal.NewKeyLine("two")
	r2, _ := seal.ParseKeys(strings.NewReader(l2 + "\n" + l1))
	s.SetSecrets(r2)
	if got, err := s.ResealSecrets(ctx); err != nil || got != 1 {
		t.Fatalf("rotate: %d %v", got, err)
	}
	if v := raw(); !strings.Contains(v, seal.Prefix+"two:") {
		t.Fatalf("after rotation: %s", v)
	}
	got, err := s.Node(ctx, n.UUID)
	if err != nil || !strings.Contains(string(got.DriverInfo), "pw-1") {
		t.Errorf("read after rotation: %s %v", got.DriverInfo, err)
	}
}
