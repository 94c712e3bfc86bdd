package ipmi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers"
)

// Default driver_info values, as in Ironic.
const (
	DefaultPort      = 623
	DefaultPrivLevel = "ADMINISTRATOR"
)

// PrivLevels are the accepted ipmi_priv_level values, in Ironic's order.
func PrivLevels() []string { return []string{"ADMINISTRATOR", "CALLBACK", "OPERATOR", "USER"} }

// CipherSuites are the accepted ipmi_cipher_suite values. Ironic documents
// 3 (AES-128, HMAC-SHA1) and 17 (AES-128, HMAC-SHA256); go-ipmi also speaks
// the rest of the standard suites 0-19, which some old BMCs still need.
func CipherSuites() []int {
	return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
}

// properties documents the driver_info keys (GET /v1/drivers/ipmi/properties),
// with Ironic's wording where Ironic has the key.
func properties() map[string]string {
	return map[string]string{
		"ipmi_address":  "IP address or hostname of the node. Required.",
		"ipmi_port":     "remote IPMI RMCP port. Optional.",
		"ipmi_username": "username; default is NULL user. Optional.",
		"ipmi_password": "password. Optional.",
		"ipmi_priv_level": "privilege level; default is ADMINISTRATOR. One of " +
			strings.Join(PrivLevels(), ", ") + ". Optional.",
		"ipmi_protocol_version": `the version of the IPMI protocol; default is "2.0". One of "1.5", "2.0". Optional.`,
		"ipmi_cipher_suite": "The number of a cipher suite to use. Only 3 (AES-128 with SHA1) or 17 (AES-128 " +
			"with SHA256) are recommended; by default the suite is negotiated with the BMC. Optional.",
		"ipmi_disable_boot_timeout": "By default ironic will send a raw IPMI command to disable the 60 second " +
			"timeout for booting. Setting this option to False will NOT send that command; the default value " +
			"is True. Optional.",
		"ipmi_bridging": `bridging_type; only "no" is supported by ferric. Optional.`,
	}
}

// DriverInfo is the ipmi driver's view of a node's driver_info. Password is
// a secret: it never appears in errors, logs or String.
type DriverInfo struct {
	Address  string // host name or IP address, without port
	Port     int
	Username string
	Password string
	// PrivLevel is one of PrivLevels().
	PrivLevel string
	// CipherSuite is the RMCP+ cipher suite; -1 lets go-ipmi negotiate.
	CipherSuite int
	// ProtocolVersion is "2.0" (RMCP+, lanplus) or "1.5" (lan).
	ProtocolVersion string
	// DisableBootTimeout sends Set System Boot Options parameter 3 before
	// setting the boot device, as Ironic does by default.
	DisableBootTimeout bool
}

// String describes the BMC without the password.
func (d DriverInfo) String() string {
	return fmt.Sprintf("ipmi %s@%s (priv %s)", d.Username, d.HostPort(), d.PrivLevel)
}

// HostPort returns address:port, bracketing IPv6 literals.
func (d DriverInfo) HostPort() string { return net.JoinHostPort(d.Address, strconv.Itoa(d.Port)) }

// MissingAddress is Ironic's message for driver_info without ipmi_address
// (its only required IPMI credential).
const MissingAddress = "Missing the following IPMI credentials in node's driver_info: ['ipmi_address']."

// ParseDriverInfo validates the ipmi_* keys of driver_info and applies
// Ironic's defaults; other keys are ignored. It does no I/O. Errors wrap
// drivers.ErrBadConfig, name the key at fault, and never quote the password.
func ParseDriverInfo(raw json.RawMessage) (DriverInfo, error) {
	d := DriverInfo{Port: DefaultPort, PrivLevel: DefaultPrivLevel, CipherSuite: -1, ProtocolVersion: "2.0",
		DisableBootTimeout: true}
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		// The decoder's message can quote input; do not pass it on, since
		// the input holds the password.
		if err := json.Unmarshal(raw, &m); err != nil {
			return DriverInfo{}, fmt.Errorf("%w: %w", drivers.ErrBadConfig, bad("driver_info must be a JSON object"))
		}
	}
	var errs []error
	var err error
	if d.Address, err = str(m, "ipmi_address"); err != nil {
		errs = append(errs, err)
	}
	d.Address = strings.TrimSpace(d.Address)
	switch {
	case err != nil:
	case d.Address == "":
		errs = append(errs, bad(MissingAddress))
	case !validHost(d.Address):
		errs = append(errs, bad(fmt.Sprintf("ipmi_address must be an IP address or a host name, without port (got %q)", d.Address)))
	}
	if p, ok, err := integer(m, "ipmi_port"); err != nil || (ok && (p < 1 || p > 65535)) {
		errs = append(errs, bad("ipmi_port must be an integer between 1 and 65535"))
	} else if ok {
		d.Port = p
	}
	if d.Username, err = str(m, "ipmi_username"); err != nil {
		errs = append(errs, err)
	} else if len(d.Username) > 16 {
		errs = append(errs, bad("ipmi_username must be at most 16 characters (IPMI limit)"))
	}
	if d.Password, err = secret(m, "ipmi_password"); err != nil {
		errs = append(errs, err)
	} else if len(d.Password) > 20 {
		errs = append(errs, bad("ipmi_password must be at most 20 bytes (IPMI 2.0 limit)"))
	}
	if lvl, err := str(m, "ipmi_priv_level"); err != nil {
		errs = append(errs, err)
	} else if lvl != "" {
		lvl = strings.ToUpper(strings.TrimSpace(lvl))
		if !slices.Contains(PrivLevels(), lvl) {
			errs = append(errs, bad("ipmi_priv_level must be one of "+strings.Join(PrivLevels(), ", ")))
		} else {
			d.PrivLevel = lvl
		}
	}
	if cs, ok, err := integer(m, "ipmi_cipher_suite"); err != nil || (ok && !slices.Contains(CipherSuites(), cs)) {
		errs = append(errs, bad("ipmi_cipher_suite must be an integer between 0 and 19 (3 or 17 recommended)"))
	} else if ok {
		d.CipherSuite = cs
	}
	if v, ok := m["ipmi_protocol_version"]; ok && !isNull(v) {
		s := strings.Trim(strings.TrimSpace(string(v)), `"`)
		switch s {
		case "2.0", "2":
			d.ProtocolVersion = "2.0"
		case "1.5":
			d.ProtocolVersion = "1.5"
		default:
			errs = append(errs, bad(`ipmi_protocol_version must be "1.5" or "2.0"`))
		}
	}
	if b, ok, err := boolean(m, "ipmi_disable_boot_timeout"); err != nil {
		errs = append(errs, err)
	} else if ok {
		d.DisableBootTimeout = b
	}
	if s, err := str(m, "ipmi_bridging"); err != nil || (s != "" && s != "no") {
		errs = append(errs, fmt.Errorf("%w: ipmi_bridging: only \"no\" is supported", drivers.ErrUnsupported))
	}
	if v, ok := m["ipmi_hex_kg_key"]; ok && !isNull(v) && string(v) != `""` {
		errs = append(errs, fmt.Errorf("%w: ipmi_hex_kg_key: two-key (Kg) authentication is not supported", drivers.ErrUnsupported))
	}
	if len(errs) > 0 {
		return DriverInfo{}, fmt.Errorf("%w: %w", drivers.ErrBadConfig, errors.Join(errs...))
	}
	return d, nil
}

// validationError is one human-readable problem with driver_info.
type validationError string

func (e validationError) Error() string { return string(e) }

func bad(msg string) error { return validationError(msg) }

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func str(m map[string]json.RawMessage, key string) (string, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", bad(key + " must be a string")
	}
	return s, nil
}

// secret reads a string (or, as Ironic's str() does, a number) without ever
// echoing it.
func secret(m map[string]json.RawMessage, key string) (string, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), nil
	}
	return "", bad(key + " must be a string")
}

// integer accepts a JSON integer or a string holding one, as Ironic does.
func integer(m map[string]json.RawMessage, key string) (int, bool, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return 0, false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false, nil
		}
	} else {
		s = string(bytes.TrimSpace(v))
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, true, bad(key + " must be an integer")
	}
	return n, true, nil
}

// boolean accepts JSON booleans and Ironic's strings ("true", "false", "yes",
// "no", "1", "0", "on", "off").
func boolean(m map[string]json.RawMessage, key string) (bool, bool, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return false, false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, true, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "1", "on", "y", "t":
			return true, true, nil
		case "false", "no", "0", "off", "n", "f":
			return false, true, nil
		}
	}
	return false, true, bad(key + " must be a boolean")
}

func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
