package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/ferric-project/ferric/drivers"
)

func TestParseDriverInfo(t *testing.T) {
	hostPub, _, _ := ed25519.GenerateKey(rand.Reader)
	hostKey := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(mustPublicKey(t, hostPub))))
	_, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	clientPEM := string(pemBytes(t, clientPriv))
	encrypted, err := gossh.MarshalPrivateKeyWithPassphrase(clientPriv, "", []byte("pp"))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-Pa55"

	base := map[string]any{
		"ssh_address": "192.0.2.10", "ssh_username": "stack", "ssh_password": secret,
		"ssh_host_key": hostKey, "ssh_vm_name": "node-0",
	}
	with := func(over map[string]any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range over {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	command := map[string]any{"ssh_virt_type": "command", "ssh_cmd_power_on": "vm-on {vm}",
		"ssh_cmd_power_off": "vm-off {vm}", "ssh_cmd_power_state": "vm-state {vm}"}

	tests := []struct {
		name    string
		info    string
		wantErr string // substring of the message; "" means valid
		check   func(t *testing.T, c *nodeConfig)
	}{
		{name: "password and host key", info: with(nil), check: func(t *testing.T, c *nodeConfig) {
			if c.addr != "192.0.2.10:22" || c.virtType != VirtVirsh || len(c.hostKeys) != 1 {
				t.Errorf("got %v, keys %d", c, len(c.hostKeys))
			}
		}},
		{name: "key, port as string, IPv6", info: with(map[string]any{"ssh_password": nil,
			"ssh_key_contents": clientPEM, "ssh_port": "2222", "ssh_address": "[2001:db8::1]"}),
			check: func(t *testing.T, c *nodeConfig) {
				if c.addr != "[2001:db8::1]:2222" || c.signer == nil {
					t.Errorf("addr %q signer %v", c.addr, c.signer)
				}
			}},
		{name: "known_hosts line and two keys", info: with(map[string]any{"ssh_host_key": "# lab\n[192.0.2.10]:22 " +
			hostKey + "\n" + hostKey + " comment\n"}),
			check: func(t *testing.T, c *nodeConfig) {
				if len(c.hostKeys) != 2 {
					t.Errorf("%d keys", len(c.hostKeys))
				}
			}},
		{name: "insecure instead of host key", info: with(map[string]any{"ssh_host_key": nil,
			"ssh_insecure_ignore_host_key": "true"}),
			check: func(t *testing.T, c *nodeConfig) {
				if !c.insecure {
					t.Error("not insecure")
				}
			}},
		{name: "command kind", info: with(command)},
		{name: "empty", info: `{}`, wantErr: "ssh_address is required"},
		{name: "null", info: ``, wantErr: "ssh_username is required"},
		{name: "not an object", info: `[1]`, wantErr: "JSON object"},
		{name: "malformed", info: `{"ssh_password": "` + secret, wantErr: "not valid JSON"},
		{name: "no credentials", info: with(map[string]any{"ssh_password": nil}), wantErr: "one of ssh_key_contents"},
		{name: "empty credentials", info: with(map[string]any{"ssh_password": "", "ssh_key_contents": " "}),
			wantErr: "one of ssh_key_contents"},
		{name: "no host key", info: with(map[string]any{"ssh_host_key": nil}), wantErr: "ssh_host_key is required"},
		{name: "insecure false", info: with(map[string]any{"ssh_host_key": nil, "ssh_insecure_ignore_host_key": false}),
			wantErr: "ssh_host_key is required"},
		{name: "host key and insecure", info: with(map[string]any{"ssh_insecure_ignore_host_key": true}),
			wantErr: "remove one"},
		{name: "bad host key", info: with(map[string]any{"ssh_host_key": "ssh-ed25519 bm90IGEga2V5"}),
			wantErr: "ssh_host_key: line 1"},
		{name: "cert-authority marker", info: with(map[string]any{"ssh_host_key": "@cert-authority * " + hostKey}),
			wantErr: "markers"},
		{name: "bad key", info: with(map[string]any{"ssh_key_contents": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n" +
			"-----END OPENSSH PRIVATE KEY-----"}), wantErr: "not an unencrypted PEM private key"},
		{name: "encrypted key", info: with(map[string]any{"ssh_key_contents": string(pem.EncodeToMemory(encrypted))}),
			wantErr: "passphrase"},
		{name: "key filename", info: with(map[string]any{"ssh_key_filename": "/root/.ssh/id_rsa"}),
			wantErr: "ssh_key_filename is not supported"},
		{name: "port out of range", info: with(map[string]any{"ssh_port": 70000}), wantErr: "not a TCP port"},
		{name: "port not a number", info: with(map[string]any{"ssh_port": "ssh"}), wantErr: "ssh_port must be an integer"},
		{name: "password not a string", info: with(map[string]any{"ssh_password": 12345}),
			wantErr: "ssh_password must be a string"},
		{name: "vm name missing", info: with(map[string]any{"ssh_vm_name": " "}), wantErr: "ssh_vm_name is required"},
		{name: "vm name with newline", info: with(map[string]any{"ssh_vm_name": "a\nreboot"}),
			wantErr: "control character"},
		{name: "unknown virt type", info: with(map[string]any{"ssh_virt_type": "vbox"}), wantErr: `"vbox" is not supported`},
		{name: "command kind without templates", info: with(map[string]any{"ssh_virt_type": "command"}),
			wantErr: "ssh_cmd_power_on is required"},
		{name: "templates with virsh", info: with(map[string]any{"ssh_cmd_power_on": "x"}),
			wantErr: "only with ssh_virt_type"},
		{name: "bad bool", info: with(map[string]any{"ssh_insecure_ignore_host_key": "maybe"}),
			wantErr: "must be true or false"},
		{name: "address with a space", info: with(map[string]any{"ssh_address": "a b"}), wantErr: "not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseDriverInfo(json.RawMessage(tt.info))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseDriverInfo() = %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
					if strings.Contains(s, secret) || strings.Contains(s, "PRIVATE KEY") {
						t.Fatalf("formatting the config leaks a secret: %s", s)
					}
				}
				return
			}
			if !errors.Is(err, drivers.ErrBadConfig) {
				t.Fatalf("parseDriverInfo() = %v; want an error wrapping drivers.ErrBadConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseDriverInfo() = %q; want it to mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestRegistryValidates(t *testing.T) {
	h := New(Config{})
	defer h.Close()
	r := drivers.NewRegistry()
	h.Register(r)
	_, err := r.Power(TypeName, drivers.Node{DriverInfo: json.RawMessage(`{"ssh_address":"h"}`)})
	if !errors.Is(err, drivers.ErrBadConfig) {
		t.Fatalf("Power() = %v; want ErrBadConfig", err)
	}
	if strings.Count(err.Error(), "invalid driver_info") != 1 {
		t.Errorf("message repeats the sentinel: %v", err)
	}
	typ, err := r.Type(TypeName)
	if err != nil || typ.Properties["ssh_host_key"] == "" || typ.InMemory {
		t.Fatalf("Type() = %+v, %v", typ, err)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"node-0":     `'node-0'`,
		"it's":       `'it'\''s'`,
		"$(reboot)":  `'$(reboot)'`,
		"a b; c":     `'a b; c'`,
		"":           `''`,
		"'":          `''\'''`,
		"`x` \\ \"y": "'`x` \\ \"y'",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCommands(t *testing.T) {
	n := &Node{cfg: &nodeConfig{vmName: "vm 1", virshURI: "qemu+ssh://h/system", cmds: map[string]string{
		keyCmdSetBoot: "set-boot {vm} {device} {vm}"}}}
	if got, want := n.virsh("domstate"), `env LC_ALL=C virsh -c 'qemu+ssh://h/system' domstate 'vm 1'`; got != want {
		t.Errorf("virsh() = %s, want %s", got, want)
	}
	if got, want := n.virtXMLBoot("network"),
		`env LC_ALL=C virt-xml --connect 'qemu+ssh://h/system' 'vm 1' --edit --boot network`; got != want {
		t.Errorf("virtXMLBoot() = %s, want %s", got, want)
	}
	if got, want := n.template(keyCmdSetBoot, "pxe"), `set-boot 'vm 1' pxe 'vm 1'`; got != want {
		t.Errorf("template() = %s, want %s", got, want)
	}
}

func TestParsePowerState(t *testing.T) {
	tests := []struct {
		out  string
		want drivers.PowerState
	}{
		{"running\n\n", drivers.PowerOn},
		{"shut off\n", drivers.PowerOff},
		{"paused", drivers.PowerOn},
		{"in shutdown", drivers.PowerOn},
		{"pmsuspended", drivers.PowerOn},
		{"crashed", drivers.PowerOff},
		{"  ON ", drivers.PowerOn},
		{"poweredOff", drivers.PowerOff},
		{"no state", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := parsePowerState(tt.out)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("parsePowerState(%q) = %q, %v; want %q", tt.out, got, err, tt.want)
		}
	}
}

func TestParseDomainBootDevice(t *testing.T) {
	tests := []struct {
		name, xml string
		want      drivers.BootDevice // "" means an error
	}{
		{"os boot network", `<domain><os><boot dev='network'/><boot dev='hd'/></os></domain>`, drivers.BootPXE},
		{"os boot hd", `<domain><os><type>hvm</type><boot dev="hd"/></os></domain>`, drivers.BootDisk},
		{"os boot cdrom", `<domain><os><boot dev='cdrom'/></os></domain>`, drivers.BootCDROM},
		{"os boot floppy", `<domain><os><boot dev='fd'/></os></domain>`, ""},
		{"per-device order", `<domain><os/><devices>
			<disk device='disk'><boot order='2'/></disk>
			<disk device='cdrom'><boot order='3'/></disk>
			<interface type='network'><boot order='1'/></interface></devices></domain>`, drivers.BootPXE},
		{"per-device disk first", `<domain><devices><disk device='disk'><boot order='1'/></disk>
			<interface><boot order='2'/></interface></devices></domain>`, drivers.BootDisk},
		{"nothing", `<domain><os/></domain>`, ""},
		{"not xml", `error: oops`, ""},
	}
	for _, tt := range tests {
		got, err := parseDomainBootDevice([]byte(tt.xml))
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: parseDomainBootDevice() = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestHostKeyAlgorithms(t *testing.T) {
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	got := hostKeyAlgorithms([]gossh.PublicKey{mustPublicKey(t, ed), mustPublicKey(t, &rsaPriv.PublicKey),
		mustPublicKey(t, ed)})
	want := []string{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("hostKeyAlgorithms() = %v, want %v", got, want)
	}
}

// TestRebootKeepsPower: a command-line VM without a reboot command cannot
// be rebooted without powering it off, so a node that must keep its power
// is refused before anything runs.
func TestRebootKeepsPower(t *testing.T) {
	n := &Node{keepPower: true, cfg: &nodeConfig{virtType: VirtCommand, cmds: map[string]string{}}}
	if err := n.Reboot(context.Background()); !errors.Is(err, drivers.ErrUnsupported) ||
		!strings.Contains(err.Error(), keyCmdReboot) {
		t.Errorf("Reboot() = %v, want ErrUnsupported naming %s", err, keyCmdReboot)
	}
}
