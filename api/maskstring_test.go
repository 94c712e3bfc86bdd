package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// TestMaskRawStringValues: the string value of a key that is not secret is
// masked as oslo's mask_password masks it (mask_dict_password), at every
// depth and in lists; a string it leaves alone is copied as stored.
func TestMaskRawStringValues(t *testing.T) {
	tests := []struct{ in, want string }{
		// The prober's driver_info.
		{`{"ipmi_password": "PW_A", "opts": "-U admin password=PW_M", "cmd": "--password PW_N", ` +
			`"xml": "<password>PW_P</password>", "js": "{\"password\": \"PW_Q\"}", "tok": "token=PW_R"}`,
			`{"ipmi_password":"******","opts":"-U admin password=******","cmd":"--password ******",` +
				`"xml":"<password>******</password>","js":"{\"password\": \"******\"}","tok":"token=******"}`},
		{`{"a": {"b": {"c": "Auth_Token=abc def"}}}`, `{"a":{"b":{"c":"Auth_Token=****** def"}}}`},
		{`{"l": ["token=x", 1, ["SECRET=y"], {"k": "password='a b'"}]}`,
			`{"l":["token=******",1,["SECRET=******"],{"k":"password='******'"}]}`},
		// Escaped in storage: decoded, masked, encoded again.
		{`{"s": "pass\u0077ord=x\ny"}`, `{"s":"password=******\ny"}`},
		{`{"s": "to\u212aen=x"}`, `{"s":"to` + "\u212a" + `en=******"}`}, // KELVIN SIGN, which lowers to k
		{`{"s": "password=密码 é"}`, `{"s":"password=****** é"}`},
		// Left alone by mask_password: copied as stored, escapes and all.
		{`{"s": "pass\u0077ord is \"here\"", "t": "password"}`, `{"s":"pass\u0077ord is \"here\"","t":"password"}`},
		{`{"url": "http://x/password/", "n": 1}`, `{"url":"http://x/password/","n":1}`},
		// A key oslo's _SANITIZE_KEYS names is hidden too.
		{`{"rabbitcookie": "c", "x": "cephclusterfsid=f"}`, `{"rabbitcookie":"******","x":"cephclusterfsid=******"}`},
	}
	for _, tt := range tests {
		if got := string(appendMasked(nil, []byte(tt.in), false)); got != tt.want {
			t.Errorf("mask %s = %s, want %s", tt.in, got, tt.want)
		}
	}
	got := string(appendMasked(nil, []byte(`{"note": "token=PW_S", "image_source": "http://y"}`), true))
	if want := `{"note":"token=******","image_source":"http://y"}`; got != want {
		t.Errorf("instance_info mask = %s, want %s", got, want)
	}
	// Nothing secret-looking: the stored bytes, spacing and all.
	const plain = `{"a": "b",  "c": [1, "x"], "d": {"e": "10.0.0.9"}}`
	if got := string(appendMasked(nil, []byte(plain), false)); got != plain {
		t.Errorf("plain = %s", got)
	}
}

// TestMayHoldSecretsSeesEverySanitizeKey: the pre-check lets through
// every string in which MaskPassword could find a key.
func TestMayHoldSecretsSeesEverySanitizeKey(t *testing.T) {
	for _, k := range node.SanitizeKeys() {
		for _, s := range []string{k, strings.ToUpper(k), "x " + k + "=1"} {
			if !mayHoldSecrets([]byte(`{"v": "`+s+`"}`), false) {
				t.Errorf("mayHoldSecrets misses %q", s)
			}
		}
	}
	if mayHoldSecrets([]byte(`{"ipmi_address": "10.0.0.9", "n": [1, 2]}`), false) {
		t.Error("mayHoldSecrets on a plain document")
	}
}

// TestSecretsInStringsMaskedInGet: the secrets written inside string
// values of a node's driver_info and instance_info, a deploy template's
// and a runbook's step args and a volume target's properties are masked
// when read, as Ironic 29 masks them.
func TestSecretsInStringsMaskedInGet(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState, n.PowerState = node.Manageable, node.PowerOff })
	e.expect(t, "POST", "/v1/nodes", `{"driver":"fake-hardware","name":"maskme","driver_info":{"ipmi_password":"PW_A",`+
		`"opts":"-U admin password=PW_M","cmd":"--password PW_N","xml":"<password>PW_P</password>",`+
		`"js":"{\"password\": \"PW_Q\"}","tok":"token=PW_R"},"instance_info":{"note":"token=PW_S"}}`, http.StatusCreated, "")
	e.expect(t, "POST", "/v1/deploy_templates", `{"name":"CUSTOM_MASK","steps":[{"interface":"bios",`+
		`"step":"apply_configuration","args":{"settings":[],"opts":"password=PW_T"},"priority":10}]}`, http.StatusCreated, "")
	e.expect(t, "POST", "/v1/runbooks", `{"name":"CUSTOM_MASKRB","steps":[{"interface":"vendor",`+
		`"step":"log_passthrough","args":{"opts":"--password PW_U"},"order":1}]}`, http.StatusCreated, "")
	vt := e.expect(t, "POST", "/v1/volume/targets", `{"node_uuid":"`+sampleUUID+`","volume_type":"iscsi",`+
		`"volume_id":"v","boot_index":0,"properties":{"auth_method":"CHAP","target":"<password>PW_V</password>"}}`,
		http.StatusCreated, "")
	vtUUID := vt[strings.Index(vt, `"uuid":"`)+8:][:36]
	// Postgres's jsonb orders an object's keys its own way: each member is
	// looked for by itself.
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/v1/nodes/maskme?fields=driver_info,instance_info", []string{`"ipmi_password":"******"`,
			`"opts":"-U admin password=******"`, `"cmd":"--password ******"`, `"xml":"<password>******</password>"`,
			`"js":"{\"password\": \"******\"}"`, `"tok":"token=******"`, `"instance_info":{"note":"token=******"}`}},
		{"/v1/nodes/detail", []string{`"opts":"-U admin password=******"`, `"note":"token=******"`}},
		{"/v1/deploy_templates/CUSTOM_MASK", []string{`"opts":"password=******"`, `"settings":[]`}},
		{"/v1/deploy_templates?detail=true", []string{`"opts":"password=******"`}},
		{"/v1/runbooks/CUSTOM_MASKRB", []string{`"args":{"opts":"--password ******"}`}},
		{"/v1/volume/targets/" + vtUUID, []string{`"target":"<password>******</password>"`, `"auth_method":"CHAP"`}},
		{"/v1/volume/targets?detail=true", []string{`"target":"<password>******</password>"`}},
	} {
		b := e.expect(t, "GET", c.path, "", http.StatusOK, "")
		for _, w := range c.want {
			if !strings.Contains(b, w) {
				t.Errorf("GET %s = %s, want %s in it", c.path, b, w)
			}
		}
		for _, pw := range []string{"PW_A", "PW_M", "PW_N", "PW_P", "PW_Q", "PW_R", "PW_S", "PW_T", "PW_U", "PW_V"} {
			if strings.Contains(b, pw) {
				t.Errorf("GET %s shows %s: %s", c.path, pw, b)
			}
		}
	}
}
