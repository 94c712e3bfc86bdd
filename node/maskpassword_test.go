package node

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMaskPasswordOslo pins MaskPassword to oslo.utils'
// strutils.mask_password(s, "******"). The expected outputs were computed
// by the real oslo, not written by hand: Debian 13's oslo.utils (the one
// Ironic 29 runs) under its Python 3.13, from
// /var/tmp/ferric-trixie/root/usr/lib/python3/dist-packages, printing
// mask_password(s, "******") for each input; Debian 12's oslo.utils
// (Ironic 21.4's, Python 3.11) gives the same outputs for all of them.
func TestMaskPasswordOslo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-U admin password=PW_M", "-U admin password=******"},
		{"--password PW_N", "--password ******"},
		{"<password>PW_P</password>", "<password>******</password>"},
		{"{\"password\": \"PW_Q\"}", "{\"password\": \"******\"}"},
		{"token=PW_R", "token=******"},
		{"token=PW_S", "token=******"},
		{"password=PW_T", "password=******"},
		{"", ""},
		{"10.0.0.9", "10.0.0.9"},
		{"http://example.com/image.qcow2", "http://example.com/image.qcow2"},
		{"passw0rd=x", "passw0rd=x"},
		{"pass word=x", "pass word=x"},
		{"password", "password"},
		{"has \"quotes\" and {braces} and password", "has \"quotes\" and {braces} and password"},
		{"PASSWORD=Secret1", "PASSWORD=******"},
		{"Password = 'Secret 2'", "Password = '******'"},
		{"--PassWord Secret3", "--PassWord ******"},
		{"<PASSWORD>x</Password>", "<PASSWORD>******</Password>"},
		{"ipmi_Password=abc", "ipmi_Password=******"},
		{"Auth_Token=abc def", "Auth_Token=****** def"},
		{"X-Auth-Token: abc", "X-Auth-Token: abc"},
		{"user=admin password=p1 token=t1 secret=s1", "user=admin password=****** token=****** secret=******"},
		{"password=p1 password2=p2 --password p3 <password>p4</password>", "password=****** password2=****** --password ****** <password>******</password>"},
		{"a=1 ADMINPASS=x admin_pass=y new_pass=z sys_pswd=w", "a=1 ADMINPASS=****** admin_pass=****** new_pass=****** sys_pswd=******"},
		{"password='a b c'", "password='******'"},
		{"password=\"a b c\"", "password=\"******\""},
		{"password = \"x'y\"", "password = \"******\""},
		{"password 'quoted value'", "password '******'"},
		{"'password' : 'aaaaa'", "'password' : '******'"},
		{"\"password\" : \"aaaaa\"", "\"password\" : \"******\""},
		{"'adminPass' : 'aaaaa'", "'adminPass' : '******'"},
		{"'original_password' : 'aaaaa'", "'original_password' : '******'"},
		{"{'password': u'abc'}", "{'password': u'******'}"},
		{"{'token': 'a', 'other': 'b'}", "{'token': '******', 'other': '}"},
		{"['--os-password', '--password', 'abc']", "['--os-password', '--password', '******']"},
		{"'password', '--foo', 'abc'", "'password', '--foo', '******'"},
		{"password -p secretvalue next", "password -p ****** next"},
		{"token --flag value tail", "token --flag ****** tail"},
		{"{'password': 'a'b'}", "{'password': '******'}"},
		{"\"a\": \"x\", 'password': \"y\" z\"", "\"a\": \"x\", 'password': \"******\""},
		{"{\"auth\": {\"password\": \"pw\", \"user\": \"u\"}, \"token\": \"t\"}", "{\"auth\": {\"password\": \"******\", \"user\": \"u\"}, \"token\": \"}"},
		{"{\"secret_uuid\": \"1234\", \"configdrive\": \"H4sI...\"}", "{\"secret_uuid\": \"******\", \"configdrive\": \"}"},
		{"chappassword=x", "chappassword=******"},
		{"chapsecret=x", "chapsecret=******"},
		{"encrypted_key=x", "encrypted_key=******"},
		{"private_key=x", "private_key=******"},
		{"fernetkey=x", "fernetkey=******"},
		{"sslkey=x", "sslkey=******"},
		{"passphrase=x", "passphrase=******"},
		{"cephclusterfsid=x", "cephclusterfsid=******"},
		{"octaviaheartbeatkey=x", "octaviaheartbeatkey=******"},
		{"rabbitcookie=x", "rabbitcookie=******"},
		{"keystonecredential0=x", "keystonecredential0=******"},
		{"barbicansimplecryptokek=x", "barbicansimplecryptokek=******"},
		{"swifthashsuffix=x", "swifthashsuffix=******"},
		{"migrationsshkey=x", "migrationsshkey=******"},
		{"configdrive=abc", "configdrive=******"},
		{"secret_uuid=abc", "secret_uuid=******"},
		{"auth_password=abc", "auth_password=******"},
		{"admin_password=abc", "admin_password=******"},
		{"line1\npassword=x\nline3", "line1\npassword=******\nline3"},
		{"password=\tx", "password=\t******"},
		{"password\u2003'x'", "password\u2003'******'"},
		{"password\u000b'x'", "password\u000b'******'"},
		{"--password\u00a0value", "--password\u00a0******"},
		{"password=a\u00a0b", "password=******\u00a0b"},
		{"pässword=x", "pässword=x"},
		{"PASSWORD=ünïcode and more", "PASSWORD=****** and more"},
		{"password=密码 token=令牌", "password=****** token=******"},
		{"\u212aey", "\u212aey"},
		{"to\u212aen=abc", "to\u212aen=******"},
		{"token=abc to\u212aen=def", "token=****** to\u212aen=******"},
		{"pa\u017f\u017fword=x", "pa\u017f\u017fword=x"},
		{"password=a pa\u017f\u017fword=b", "password=****** pa\u017f\u017fword=******"},
		{"adm\u0130npass=x", "adm\u0130npass=x"},
		{"adm\u0131npass=x adminpass=y", "adm\u0131npass=****** adminpass=******"},
		{"admin\u0131npass=q", "admin\u0131npass=q"},
		{"secret_uu\u0131d=q secret=z", "secret_uu\u0131d=q secret=******"},
		{"--password 😀 emoji", "--password ****** emoji"},
		{"<password>été</password>", "<password>******</password>"},
	}
	for _, tt := range tests {
		if got := MaskPassword(tt.in); got != tt.want {
			t.Errorf("MaskPassword(%q) = %q, want %q (oslo)", tt.in, got, tt.want)
		}
	}
}

// TestMaskPasswordUnchangedIsSame checks that a string MaskPassword leaves
// alone comes back as it went in, so callers may compare to decide whether
// to re-encode.
func TestMaskPasswordUnchangedIsSame(t *testing.T) {
	for _, s := range []string{"", "10.0.0.9", "password", "PASSWORD without a value", "tok en"} {
		if got := MaskPassword(s); got != s {
			t.Errorf("MaskPassword(%q) = %q", s, got)
		}
	}
}

func TestIsSanitizeKey(t *testing.T) {
	for k, want := range map[string]bool{
		"ipmi_password": true, "RabbitCookie": true, "x_cephclusterfsid": true, "to\u212aen": true,
		"ipmi_address": false, "adm\u0130npass": false, "": false,
	} {
		if got := IsSanitizeKey(k); got != want {
			t.Errorf("IsSanitizeKey(%q) = %v, want %v", k, got, want)
		}
	}
}

// maskCorpus is a seeded random corpus built from the pieces oslo's
// patterns turn on (keys in any case, separators, quotes, flags, tags,
// Python's white space, the case-folding letters) for the differential
// test against the real oslo.
func maskCorpus(n int) []string {
	pieces := []string{"=", " ", "  ", "'", "\"", ":", ",", "-", "--", "<", ">", "</", "u", "x", "abc", "0", "7",
		"\t", "\n", "\v", "\u00a0", "\u2003", "\u212a", "\u017f", "\u0130", "\u0131", "é", "{", "}", "[", "]",
		"-p", "--flag", "'--os-password'", "\"password\": \"", "<password>", "</password>"}
	keys := SanitizeKeys()
	r := rand.New(rand.NewPCG(29, 21))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			if r.IntN(3) == 0 {
				k := []byte(keys[r.IntN(len(keys))])
				for j := range k {
					if r.IntN(4) == 0 {
						k[j] = strings.ToUpper(string(k[j]))[0]
					}
				}
				b.Write(k)
			} else {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		out[i] = b.String()
	}
	return out
}

// osloMaskScript prints mask_password(s, "******") for each string of the
// JSON list it reads.
const osloMaskScript = `import json, sys
from oslo_utils import strutils
print(json.dumps([strutils.mask_password(s, "******") for s in json.load(sys.stdin)]))`

// TestMaskPasswordDifferential compares MaskPassword with the real oslo on
// a random corpus. It runs where a Python with oslo_utils is at hand:
// FERRIC_TEST_OSLO_PYTHON names the interpreter (/usr/bin/python3 otherwise); it
// is skipped when oslo_utils does not import.
func TestMaskPasswordDifferential(t *testing.T) {
	py := os.Getenv("FERRIC_TEST_OSLO_PYTHON")
	if py == "" {
		py = "/usr/bin/python3" // Debian's, with Ironic's oslo.utils (.ci/run installs python3-ironic)
	}
	if err := exec.Command(py, "-c", "import oslo_utils.strutils").Run(); err != nil {
		t.Skipf("no oslo_utils in %s: %v", py, err)
	}
	corpus := maskCorpus(3000)
	in, err := json.Marshal(corpus)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", osloMaskScript)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(corpus) {
		t.Fatalf("oslo answered %d strings (%v)", len(want), err)
	}
	bad := 0
	for i, s := range corpus {
		if got := MaskPassword(s); got != want[i] {
			if bad++; bad <= 20 {
				t.Errorf("MaskPassword(%q) = %q, oslo %q", s, got, want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d strings differ from oslo", bad, len(corpus))
	}
}

func BenchmarkMaskPasswordNoKey(b *testing.B) {
	for range b.N {
		MaskPassword("http://10.0.0.9/images/ubuntu-24.04.qcow2")
	}
}

func BenchmarkMaskPasswordKey(b *testing.B) {
	for range b.N {
		MaskPassword("-U admin password=PW_M --opt value")
	}
}

// TestSecretKeysCoverSanitizeKeys: every key Ironic's mask_dict_password
// hides is a secret key, so the store seals at rest what the API masks.
func TestSecretKeysCoverSanitizeKeys(t *testing.T) {
	for _, k := range append(SanitizeKeys(), "RabbitCookie", "ssh_key_contents", "snmp_priv_key", "aws_access_key") {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false", k)
		}
	}
	if IsSecretKey("ipmi_address") {
		t.Error("IsSecretKey(ipmi_address) = true")
	}
}
