package node

import (
	"regexp"
	"strings"
	"sync"
)

// MaskedSecret is what Ironic shows instead of a secret (its
// mask_dict_password calls pass "******").
const MaskedSecret = "******"

// SanitizeKeys returns oslo.utils' _SANITIZE_KEYS (Debian 13's oslo.utils,
// the one Ironic 29 runs), in oslo's order: MaskPassword applies each
// key's patterns in this order.
func SanitizeKeys() []string {
	return []string{"adminpass", "admin_pass", "password", "admin_password",
		"auth_token", "new_pass", "auth_password", "secret_uuid",
		"secret", "sys_pswd", "token", "configdrive",
		"chappassword", "encrypted_key", "private_key",
		"fernetkey", "sslkey", "passphrase",
		"cephclusterfsid", "octaviaheartbeatkey", "rabbitcookie",
		"cephmanilaclientkey", "pacemakerremoteauthkey",
		"designaterndckey", "cephadminkey", "heatauthencryptionkey",
		"cephclientkey", "keystonecredential",
		"barbicansimplecryptokek", "cephrgwkey", "swifthashsuffix",
		"migrationsshkey", "cephmdskey", "cephmonkey", "chapsecret"}
}

// IsSanitizeKey reports whether mask_dict_password hides the value of key
// k: k holds one of the _SANITIZE_KEYS, in any case.
func IsSanitizeKey(k string) bool {
	lk := pyLower(k)
	for _, s := range SanitizeKeys() {
		if strings.Contains(lk, s) {
			return true
		}
	}
	return false
}

// oslo's _FORMAT_PATTERNS_2, _FORMAT_PATTERNS_1 and
// _FORMAT_PATTERNS_WILDCARD, as oslo writes them (Python syntax, with
// %(key)s where the key goes); maskPatterns translates them for RE2.
func formatPatterns() (two, one, wildcard []string) {
	two = []string{
		`(%(key)s[0-9]*\s*[=]\s*[\"\'])[^\"\']*([\"\'])`,
		`(%(key)s[0-9]*\s*[=]\s*[\"])[^\"]*([\"])`,
		`(%(key)s[0-9]*\s*[=]\s*[\'])[^\']*([\'])`,
		`(%(key)s[0-9]*\s+[\"\'])[^\"\']*([\"\'])`,
		`([-]{2}%(key)s[0-9]*\s+)[^\'^\"^=^\s]+([\s]*)`,
		`(<%(key)s[0-9]*>)[^<]*(</%(key)s[0-9]*>)`,
		`([\"\']%(key)s[0-9]*[\"\']\s*:\s*[\"\'])[^\"\']*` +
			`([\"\'])`,
		`([\'"][^"\']*%(key)s[0-9]*[\'"]\s*:\s*u?[\'"])[^\"\']*` +
			`([\'"])`,
		`([\'"][^\'"]*%(key)s[0-9]*[\'"]\s*,\s*\'--?[A-z]+` +
			`\'\s*,\s*u?[\'"])[^\"\']*([\'"])`,
		`(%(key)s[0-9]*\s*--?[A-z]+\s*)\S+(\s*)`,
	}
	one = []string{`(%(key)s[0-9]*\s*[=]\s*)[^\s^\'^\"]+`}
	wildcard = []string{`([\'\"][^\"\']*%(key)s[0-9]*[\'\"]\s*:\s*u?[\'\"].*[\'\"])[^\"\']*([\'\"])`}
	return two, one, wildcard
}

// pySpace is what Python's \s matches in a str pattern (str.isspace: the
// Unicode white space, \v and \x1c-\x1f included); RE2's \s is ASCII only.
const pySpace = `\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`

// pyToRE2 translates one of oslo's patterns, its key substituted, to an
// RE2 pattern that matches what Python's re matches with re.DOTALL |
// re.IGNORECASE: \s and \S become Python's white space, and i and [A-z]
// also take the dotted and dotless I (Python's case-insensitive matching
// pairs them with i; RE2's simple case folding does not). The other
// case-insensitive extras (the Kelvin sign for k, the long s for s) RE2
// folds as Python does.
func pyToRE2(p string) string {
	var b strings.Builder
	b.WriteString(`(?is)`)
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			switch n := p[i]; {
			case n == 's' && inClass:
				b.WriteString(pySpace)
			case n == 's':
				b.WriteString(`[` + pySpace + `]`)
			case n == 'S':
				b.WriteString(`[^` + pySpace + `]`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == ']':
			inClass = false
			b.WriteByte(c)
		case c == 'z' && inClass && i > 1 && p[i-1] == '-' && p[i-2] == 'A':
			b.WriteString(`zİı`)
		case (c == 'i' || c == 'I') && !inClass:
			b.WriteString(`[iİı]`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// keyPatterns are one sanitize key's compiled patterns, as oslo's
// _SANITIZE_PATTERNS_2, _1 and _WILDCARD hold them.
type keyPatterns struct {
	key                string
	two, one, wildcard []*regexp.Regexp
}

// maskPatterns compiles every key's patterns once, when a string first
// holds a sanitize key.
var maskPatterns = sync.OnceValue(func() []keyPatterns {
	two, one, wildcard := formatPatterns()
	compile := func(ps []string, key string) []*regexp.Regexp {
		out := make([]*regexp.Regexp, len(ps))
		for i, p := range ps {
			out[i] = regexp.MustCompile(pyToRE2(strings.ReplaceAll(p, "%(key)s", key)))
		}
		return out
	}
	var kps []keyPatterns
	for _, k := range SanitizeKeys() {
		kps = append(kps, keyPatterns{key: k, two: compile(two, k), one: compile(one, k), wildcard: compile(wildcard, k)})
	}
	return kps
})

// pyLower is Python's str.lower as far as it can make an ASCII sanitize
// key appear: Go's strings.ToLower except that U+0130 (İ) lowers to
// "i\u0307", as Python's full case mapping has it, not to "i".
func pyLower(s string) string {
	if strings.Contains(s, "İ") {
		s = strings.ReplaceAll(s, "İ", "i\u0307")
	}
	return strings.ToLower(s)
}

// MaskPassword is oslo.utils' strutils.mask_password(s, "******"): it
// masks the secrets written inside a string ("password=x", "--password
// x", "<password>x</password>", `{"password": "x"}`, "token=x", ...). A
// string that holds no sanitize key, in any case, is returned as it is,
// without running a pattern. As in oslo, each key found is checked for
// in the string as the previous keys' substitutions left it.
func MaskPassword(s string) string {
	lower := pyLower(s)
	found := false
	for _, k := range SanitizeKeys() {
		if strings.Contains(lower, k) {
			found = true
			break
		}
	}
	if !found {
		return s
	}
	const sub2, sub1, subWildcard = "${1}" + MaskedSecret + "${2}", "${1}" + MaskedSecret, "${1}"
	for _, kp := range maskPatterns() {
		if !strings.Contains(lower, kp.key) {
			continue
		}
		before := s
		for _, re := range kp.two {
			s = re.ReplaceAllString(s, sub2)
		}
		for _, re := range kp.one {
			s = re.ReplaceAllString(s, sub1)
		}
		for _, re := range kp.wildcard {
			s = re.ReplaceAllString(s, subWildcard)
		}
		if s != before {
			lower = pyLower(s)
		}
	}
	return s
}
