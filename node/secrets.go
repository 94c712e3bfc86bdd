package node

import "strings"

// secretKeyFragments are the (lower-case) key fragments that hold secrets
// beyond oslo.utils' _SANITIZE_KEYS (SanitizeKeys), some of which they
// repeat: other spellings of private keys, access keys and cephx keys.
func secretKeyFragments() []string {
	return []string{"password", "secret", "token", "passphrase", "admin_pass", "new_pass", "sys_pswd",
		"configdrive", "encrypted_key", "private_key", "privatekey", "fernetkey", "sslkey",
		"cephxkey", "accesskey", "access_key"}
}

// IsSecretKey reports whether a driver_info (or instance_info) key holds a
// secret: the API masks its value and the store encrypts it at rest. These
// are oslo's _SANITIZE_KEYS (IsSanitizeKey, what Ironic's
// mask_dict_password hides) and secretKeyFragments.
func IsSecretKey(k string) bool {
	lk := strings.ToLower(k)
	for _, s := range secretKeyFragments() {
		if strings.Contains(lk, s) {
			return true
		}
	}
	return strings.HasSuffix(lk, "_key_contents") || lk == "snmp_auth_key" || lk == "snmp_priv_key" ||
		IsSanitizeKey(k)
}
