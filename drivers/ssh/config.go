package ssh

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/ferric-project/ferric/drivers"
)

// Virtualization kinds (driver_info ssh_virt_type).
const (
	VirtVirsh   = "virsh"
	VirtCommand = "command"
)

// driver_info keys.
const (
	keyAddress      = "ssh_address"
	keyPort         = "ssh_port"
	keyUsername     = "ssh_username"
	keyKeyContents  = "ssh_key_contents"
	keyPassword     = "ssh_password"
	keyKeyFilename  = "ssh_key_filename"
	keyVirtType     = "ssh_virt_type"
	keyVMName       = "ssh_vm_name"
	keyHostKey      = "ssh_host_key"
	keyInsecure     = "ssh_insecure_ignore_host_key"
	keyVirshURI     = "ssh_virsh_uri"
	keyCmdPowerOn   = "ssh_cmd_power_on"
	keyCmdPowerOff  = "ssh_cmd_power_off"
	keyCmdState     = "ssh_cmd_power_state"
	keyCmdReboot    = "ssh_cmd_reboot"
	keyCmdGetBoot   = "ssh_cmd_get_boot_device"
	keyCmdSetBoot   = "ssh_cmd_set_boot_device"
	maxVMNameLength = 256
)

func commandKeys() []string {
	return []string{keyCmdPowerOn, keyCmdPowerOff, keyCmdState, keyCmdReboot, keyCmdGetBoot, keyCmdSetBoot}
}

// Properties documents the driver_info keys (GET /v1/drivers/ssh/properties).
func Properties() map[string]string {
	return map[string]string{
		keyAddress:  "Address (IP or host name) of the virtualization host. Required.",
		keyPort:     "SSH port of the virtualization host. Optional, default 22.",
		keyUsername: "User to log in as on the virtualization host. Required.",
		keyKeyContents: "Private key (PEM, unencrypted: OpenSSH, PKCS#1, PKCS#8 or EC) to log in with. " +
			"One of ssh_key_contents and ssh_password is required.",
		keyPassword: "Password to log in with (password or keyboard-interactive). One of ssh_key_contents and " +
			"ssh_password is required.",
		keyVirtType: "How VMs are controlled: \"virsh\" (default) or \"command\" (commands from the ssh_cmd_* " +
			"templates). Optional.",
		keyVMName: "Name of the VM (libvirt domain) on the virtualization host. Required.",
		keyHostKey: "Public host key(s) of the virtualization host, one per line, in authorized_keys " +
			"(\"ssh-ed25519 AAAA...\") or known_hosts (\"host ssh-ed25519 AAAA...\") format. Required unless " +
			"ssh_insecure_ignore_host_key is true.",
		keyInsecure: "Set to true to skip host key verification (labs only). Optional, default false.",
		keyVirshURI: "libvirt connection URI passed as \"virsh -c URI\" (e.g. qemu:///system). Optional.",
		keyCmdPowerOn: "Shell command that powers the VM on; {vm} is replaced by the shell-quoted VM name. " +
			"Required with ssh_virt_type command.",
		keyCmdPowerOff: "Shell command that powers the VM off hard. Required with ssh_virt_type command.",
		keyCmdState: "Shell command printing the power state (on/off, running/shut off, ...). Required with " +
			"ssh_virt_type command.",
		keyCmdReboot: "Shell command that hard-resets the VM. Optional with ssh_virt_type command " +
			"(default: power off, then on).",
		keyCmdGetBoot: "Shell command printing the boot device (pxe/network, disk/hd, cdrom). Optional with " +
			"ssh_virt_type command; without it the management interface is unsupported.",
		keyCmdSetBoot: "Shell command setting the boot device; {device} is replaced by pxe, disk or cdrom. " +
			"Optional with ssh_virt_type command.",
	}
}

// configError is a driver_info validation error. It matches
// drivers.ErrBadConfig with errors.Is without repeating its text, since the
// registry adds that prefix itself.
type configError struct{ problems []string }

func (e *configError) Error() string { return "ssh driver_info: " + strings.Join(e.problems, "; ") }

func (e *configError) Is(target error) bool { return target == drivers.ErrBadConfig }

// nodeConfig is a node's validated driver_info. It holds secrets: its String
// method redacts them, and no error message quotes them.
type nodeConfig struct {
	host     string
	addr     string // host:port
	user     string
	password string
	signer   gossh.Signer
	hostKeys []gossh.PublicKey
	insecure bool
	virtType string
	vmName   string
	virshURI string
	cmds     map[string]string // ssh_cmd_* templates (command kind)
	pool     poolKey
}

// String describes the target without secrets.
func (c *nodeConfig) String() string {
	return fmt.Sprintf("%s@%s vm %q (%s)", c.user, c.addr, c.vmName, c.virtType)
}

// GoString keeps %#v from printing secrets.
func (c *nodeConfig) GoString() string { return c.String() }

// target names the login for error messages.
func (c *nodeConfig) target() string { return c.user + "@" + c.addr }

// parseDriverInfo validates a node's driver_info. Keys it does not know are
// ignored (driver_info also carries deploy_kernel and friends). Every problem
// is reported at once, and never with a secret's value.
func parseDriverInfo(info json.RawMessage) (*nodeConfig, error) {
	p := &infoParser{}
	if len(bytes.TrimSpace(info)) == 0 {
		info = json.RawMessage("{}")
	}
	if err := json.Unmarshal(info, &p.raw); err != nil || p.raw == nil {
		// The decoder's message may quote a byte of the input: say only where.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &configError{[]string{fmt.Sprintf("driver_info is not valid JSON (at byte %d)", se.Offset)}}
		}
		return nil, &configError{[]string{"driver_info must be a JSON object"}}
	}

	c := &nodeConfig{}
	c.host = p.str(keyAddress, true)
	c.host = strings.TrimSuffix(strings.TrimPrefix(c.host, "["), "]")
	if c.host != "" && strings.ContainsAny(c.host, " \t\r\n/@") {
		p.fail("%s %q is not a host name or IP address", keyAddress, c.host)
	}
	port := p.int(keyPort, 22)
	if port < 1 || port > 65535 {
		p.fail("%s %d is not a TCP port (1-65535)", keyPort, port)
	}
	c.addr = net.JoinHostPort(c.host, strconv.Itoa(port))
	c.user = p.str(keyUsername, true)
	if strings.ContainsAny(c.user, "\x00\r\n") {
		p.fail("%s contains a control character", keyUsername)
	}

	if _, ok := p.raw[keyKeyFilename]; ok {
		p.fail("%s is not supported (ferric workers share no files with the API): put the key in %s",
			keyKeyFilename, keyKeyContents)
	}
	c.password = p.secret(keyPassword)
	pemKey := p.str(keyKeyContents, false)
	if pemKey != "" {
		signer, err := gossh.ParsePrivateKey([]byte(pemKey))
		var missing *gossh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			p.fail("%s is protected by a passphrase, which is not supported", keyKeyContents)
		case err != nil:
			// The parser's message is not quoted: it could describe the key's bytes.
			p.fail("%s is not an unencrypted PEM private key (OpenSSH, PKCS#1, PKCS#8 or EC)", keyKeyContents)
		default:
			c.signer = signer
		}
	}
	if c.password == "" && pemKey == "" {
		p.fail("one of %s and %s is required", keyKeyContents, keyPassword)
	}

	c.insecure = p.bool(keyInsecure)
	hostKeys := p.str(keyHostKey, false)
	switch {
	case hostKeys != "" && c.insecure:
		p.fail("%s is set and %s is true: remove one of them", keyHostKey, keyInsecure)
	case hostKeys != "":
		keys, err := parseHostKeys(hostKeys)
		if err != nil {
			p.fail("%s: %v", keyHostKey, err)
		}
		c.hostKeys = keys
	case !c.insecure:
		p.fail("%s is required (the host's public key, e.g. from ssh-keyscan or /etc/ssh/ssh_host_ed25519_key.pub); "+
			"set %s to true to skip verification in a lab", keyHostKey, keyInsecure)
	}

	c.virtType = p.str(keyVirtType, false)
	if c.virtType == "" {
		c.virtType = VirtVirsh
	}
	c.vmName = p.str(keyVMName, true)
	if len(c.vmName) > maxVMNameLength {
		p.fail("%s is longer than %d bytes", keyVMName, maxVMNameLength)
	}
	if strings.ContainsAny(c.vmName, "\x00\r\n") {
		p.fail("%s contains a control character", keyVMName)
	}
	c.virshURI = p.str(keyVirshURI, false)
	if strings.ContainsAny(c.virshURI, "\x00\r\n") {
		p.fail("%s contains a control character", keyVirshURI)
	}
	c.cmds = map[string]string{}
	for _, k := range commandKeys() {
		if v := p.str(k, false); v != "" {
			c.cmds[k] = v
		}
	}
	switch c.virtType {
	case VirtVirsh:
		if len(c.cmds) > 0 {
			p.fail("ssh_cmd_* templates are used only with %s %q", keyVirtType, VirtCommand)
		}
	case VirtCommand:
		for _, k := range []string{keyCmdPowerOn, keyCmdPowerOff, keyCmdState} {
			if c.cmds[k] == "" {
				p.fail("%s is required with %s %q", k, keyVirtType, VirtCommand)
			}
		}
		if p.has(keyVirshURI) {
			p.fail("%s is used only with %s %q", keyVirshURI, keyVirtType, VirtVirsh)
		}
	default:
		p.fail("%s %q is not supported: use %q, or %q with ssh_cmd_* templates", keyVirtType, c.virtType,
			VirtVirsh, VirtCommand)
	}

	if len(p.problems) > 0 {
		return nil, &configError{p.problems}
	}
	c.pool = newPoolKey(c)
	return c, nil
}

// newPoolKey identifies what a connection is: where it goes, who it logs in
// as, which host keys it trusts, and with which credentials (hashed), so two
// nodes share a connection only when either could have opened it.
func newPoolKey(c *nodeConfig) poolKey {
	h := sha256.New()
	if c.signer != nil {
		h.Write([]byte("key\x00"))
		h.Write(c.signer.PublicKey().Marshal())
	}
	h.Write([]byte("\x00password\x00"))
	h.Write([]byte(c.password))
	k := poolKey{addr: c.addr, user: c.user}
	copy(k.cred[:], h.Sum(nil))
	if c.insecure {
		k.hostKeys = "insecure"
	} else {
		fps := make([]string, 0, len(c.hostKeys))
		for _, hk := range c.hostKeys {
			fps = append(fps, gossh.FingerprintSHA256(hk))
		}
		sort.Strings(fps)
		k.hostKeys = strings.Join(fps, ",")
	}
	return k
}

// parseHostKeys reads one or more public keys, one per line, in
// authorized_keys or known_hosts format. The host names of known_hosts lines
// are not matched against ssh_address: the key is configured per node.
func parseHostKeys(s string) ([]gossh.PublicKey, error) {
	var keys []gossh.PublicKey
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "@") {
			return nil, fmt.Errorf("line %d: known_hosts markers (@cert-authority, @revoked) are not supported", i+1)
		}
		// ParseAuthorizedKey also accepts "host keytype base64": the leading
		// field is taken as options.
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: not a public key in authorized_keys or known_hosts format", i+1)
		}
		if _, ok := k.(*gossh.Certificate); ok {
			return nil, fmt.Errorf("line %d: certificates are not supported, give the plain host key", i+1)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key found")
	}
	return keys, nil
}

// hostKeyAlgorithms lists the algorithms to offer for the trusted keys, so
// that a server with several host keys presents one we can check.
func hostKeyAlgorithms(keys []gossh.PublicKey) []string {
	var algos []string
	for _, k := range keys {
		names := []string{k.Type()}
		if k.Type() == gossh.KeyAlgoRSA {
			names = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
		}
		for _, n := range names {
			if !slices.Contains(algos, n) {
				algos = append(algos, n)
			}
		}
	}
	return algos
}

// infoParser reads loosely typed driver_info values (clients often send
// every value as a string) and collects problems.
type infoParser struct {
	raw      map[string]json.RawMessage
	problems []string
}

func (p *infoParser) fail(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

func (p *infoParser) has(key string) bool {
	v, ok := p.raw[key]
	return ok && string(v) != "null"
}

func (p *infoParser) str(key string, required bool) string {
	v, ok := p.raw[key]
	if !ok || string(v) == "null" {
		if required {
			p.fail("%s is required", key)
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.fail("%s must be a string", key)
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		p.fail("%s is required", key)
	}
	return strings.TrimSpace(s)
}

// secret reads a string without trimming it (a password may end in a space).
func (p *infoParser) secret(key string) string {
	v, ok := p.raw[key]
	if !ok || string(v) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.fail("%s must be a string", key)
	}
	return s
}

func (p *infoParser) int(key string, def int) int {
	v, ok := p.raw[key]
	if !ok || string(v) == "null" {
		return def
	}
	var n int
	if err := json.Unmarshal(v, &n); err == nil {
		return n
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return n
		}
	}
	p.fail("%s must be an integer", key)
	return def
}

func (p *infoParser) bool(key string) bool {
	v, ok := p.raw[key]
	if !ok || string(v) == "null" {
		return false
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "on", "1":
			return true
		case "false", "no", "off", "0", "":
			return false
		}
	}
	p.fail("%s must be true or false", key)
	return false
}
