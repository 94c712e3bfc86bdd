package node

import "strings"

// secretKeyFragments are the (lower-case) key fragments oslo.utils'
// _SANITIZE_KEYS masks, plus the SNMP keys and ssh/TLS key contents.
func secretKeyFragments() []string {
	return []string{"password", "secret", "token", "passphrase", "admin_pass", "new_pass", "sys_pswd",
		"configdrive", "encrypted_key", "private_key", "privatekey", "fernetkey", "sslkey",
		"cephxkey", "accesskey", "access_key"}
}

// IsSecretKey reports whether a driver_info (or instance_info) key holds a
// secret: the API masks its value and the store encrypts it at rest.
func IsSecretKey(k string) bool {
	lk := strings.ToLower(k)
	for _, s := range secretKeyFragments() {
		if strings.Contains(lk, s) {
			return true
		}
	}
	return strings.HasSuffix(lk, "_key_contents") || lk == "snmp_auth_key" || lk == "snmp_priv_key"
}
