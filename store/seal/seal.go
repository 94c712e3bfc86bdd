// Package seal encrypts the secrets of a node's driver_info at rest
// (passwords, SSH keys, Kg keys: every key node.IsSecretKey names) with
// AES-256-GCM under operator-provided keys, each with an ID so that keys can
// be rotated. A sealed value is a string
//
//	ferric-sealed:v1:<key id>:<base64(nonce || ciphertext)>
//
// in place of the secret; the rest of the document is left as it is. The
// nonce is synthetic (HMAC of the plaintext and its context under a key
// derived from the key), so sealing is deterministic: the same secret of the
// same node field seals to the same string, which keeps optimistic-lock
// replays and "nothing changed" checks working, at the cost of revealing
// that two seals hold the same value (only within one node field). The
// context (node UUID and the value's path) is authenticated: a sealed value
// copied to another node or field does not open.
package seal

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/ferric-project/ferric/node"
)

// Prefix starts every sealed value.
const Prefix = "ferric-sealed:v1:"

// Errors.
var (
	// ErrNoKey: a sealed value names a key the ring does not hold.
	ErrNoKey = errors.New("seal: key not in the key file")
	// ErrOpen: a sealed value does not open (tampered, or moved from
	// another node or field).
	ErrOpen = errors.New("seal: sealed value does not open")
	// ErrKeyFile: the key file is malformed.
	ErrKeyFile = errors.New("seal: bad key file")
)

// Ring holds the keys: the current one seals, all of them open.
type Ring struct {
	current string
	keys    map[string]key
}

type key struct {
	aead cipher.AEAD
	mac  []byte // nonce derivation key
}

// keyIDPattern bounds key IDs (they are written into every sealed value).
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// LoadKeyFile reads a key file: one key per line, "<id> <base64 of 32
// random bytes>", '#' starting a comment; the first key seals, every key
// opens. The file must not be readable by group or others.
func LoadKeyFile(path string) (*Ring, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %v): chmod 600 it", ErrKeyFile, path, st.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	return ParseKeys(f)
}

// ParseKeys reads keys in the key file's format.
func ParseKeys(r io.Reader) (*Ring, error) {
	ring := &Ring{keys: map[string]key{}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 || !keyIDPattern.MatchString(fields[0]) {
			return nil, fmt.Errorf("%w: line %d: want \"<id> <base64 key>\"", ErrKeyFile, line)
		}
		raw, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%w: line %d: the key must be 32 bytes, base64-encoded", ErrKeyFile, line)
		}
		if _, dup := ring.keys[fields[0]]; dup {
			return nil, fmt.Errorf("%w: line %d: key %q twice", ErrKeyFile, line, fields[0])
		}
		k, err := newKey(raw)
		if err != nil {
			return nil, err
		}
		ring.keys[fields[0]] = k
		if ring.current == "" {
			ring.current = fields[0]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if ring.current == "" {
		return nil, fmt.Errorf("%w: no key", ErrKeyFile)
	}
	return ring, nil
}

func newKey(raw []byte) (key, error) {
	// Separate keys for encryption and nonce derivation, from the one
	// secret.
	enc := hmac.New(sha256.New, raw)
	enc.Write([]byte("ferric seal encryption"))
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("ferric seal nonce"))
	block, err := aes.NewCipher(enc.Sum(nil))
	if err != nil {
		return key{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("seal: %w", err)
	}
	return key{aead: aead, mac: mac.Sum(nil)}, nil
}

// NewKeyLine returns a key file line with a new random key named id.
func NewKeyLine(id string) (string, error) {
	if !keyIDPattern.MatchString(id) {
		return "", fmt.Errorf("%w: key id %q", ErrKeyFile, id)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("seal: random key: %w", err)
	}
	return id + " " + base64.StdEncoding.EncodeToString(raw[:]), nil
}

// CreateKeyFile writes a new key file (mode 0600) with one random key, if
// path does not exist yet; it never overwrites.
func CreateKeyFile(path, id string) error {
	line, err := NewKeyLine(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("seal: create key file: %w", err)
	}
	_, werr := fmt.Fprintf(f, "# ferric's keys for driver_info secrets at rest: the first seals, all open.\n%s\n", line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("seal: write key file: %w", werr)
	}
	return nil
}

// Current returns the ID of the key that seals.
func (r *Ring) Current() string { return r.current }

// IsSealed reports whether s is a sealed value.
func IsSealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// SealString seals one secret under the current key, bound to context.
func (r *Ring) SealString(plain, context string) string {
	k := r.keys[r.current]
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(context))
	m.Write([]byte{0})
	m.Write([]byte(plain))
	nonce := m.Sum(nil)[:k.aead.NonceSize()]
	ct := k.aead.Seal(nil, nonce, []byte(plain), []byte(context))
	return Prefix + r.current + ":" + base64.StdEncoding.EncodeToString(append(nonce, ct...))
}

// OpenString opens a sealed value bound to context; a value that is not
// sealed is returned as it is.
func (r *Ring) OpenString(s, context string) (string, error) {
	if !IsSealed(s) {
		return s, nil
	}
	id, body, ok := strings.Cut(strings.TrimPrefix(s, Prefix), ":")
	k, known := r.keys[id]
	if !ok || !known {
		return "", fmt.Errorf("%w: %q", ErrNoKey, id)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil || len(raw) < k.aead.NonceSize() {
		return "", ErrOpen
	}
	plain, err := k.aead.Open(nil, raw[:k.aead.NonceSize()], raw[k.aead.NonceSize():], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

// SealJSON seals the string values of secret keys (node.IsSecretKey), at
// any depth of objects and lists, in the JSON object raw; owner (a node
// UUID) and each value's path are its context. Values already sealed under
// the current key stay; values sealed under another key are opened and
// sealed again (rotation). Anything that is not a JSON object is returned
// unchanged.
func (r *Ring) SealJSON(raw json.RawMessage, owner string) (json.RawMessage, error) {
	return r.walk(raw, owner, func(v, ctx string) (string, error) {
		if IsSealed(v) {
			if strings.HasPrefix(v, Prefix+r.current+":") {
				return v, nil
			}
			plain, err := r.OpenString(v, ctx)
			if err != nil {
				return "", err
			}
			v = plain
		}
		return r.SealString(v, ctx), nil
	})
}

// OpenJSON opens every sealed value of raw (the reverse of SealJSON).
func (r *Ring) OpenJSON(raw json.RawMessage, owner string) (json.RawMessage, error) {
	return r.walk(raw, owner, func(v, ctx string) (string, error) { return r.OpenString(v, ctx) })
}

// HasSealed reports whether raw holds any sealed value.
func HasSealed(raw []byte) bool { return strings.Contains(string(raw), Prefix) }

// walk rewrites the secret string values of raw with f.
func (r *Ring) walk(raw json.RawMessage, owner string, f func(v, ctx string) (string, error)) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	var doc any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return raw, nil // not JSON: nothing to seal (the store refuses it anyway)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return raw, nil
	}
	changed := false
	var visit func(v any, path string, secret bool) (any, error)
	visit = func(v any, path string, secret bool) (any, error) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				nv, err := visit(e, path+"/"+k, node.IsSecretKey(k))
				if err != nil {
					return nil, err
				}
				t[k] = nv
			}
		case []any:
			for i, e := range t {
				nv, err := visit(e, fmt.Sprintf("%s/%d", path, i), secret)
				if err != nil {
					return nil, err
				}
				t[i] = nv
			}
		case string:
			if secret && t != "" {
				out, err := f(t, owner+path)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				if out != t {
					changed = true
				}
				return out, nil
			}
		}
		return v, nil
	}
	if _, err := visit(obj, "", false); err != nil {
		return nil, err
	}
	if !changed {
		return raw, nil
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("seal: encode: %w", err)
	}
	return out, nil
}
