package agent

import (
	"crypto/md5" //nolint:gosec // Ironic's legacy image_checksum is md5
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/ferric-project/ferric/agent/wire"
)

// checksum is the expected digest of an image as downloaded.
type checksum struct {
	algo string // md5, sha1, sha256, sha512
	want []byte // nil: nothing to verify (the digest is still computed and reported)
}

// parseChecksum reads a write_image command's checksum fields:
//   - HashAlgo + HashValue (Ironic's image_os_hash_algo/_value), preferred;
//   - Checksum "algo:hex" (sha256:..., sha512:..., md5:...);
//   - Checksum bare hex, algorithm told by its length (32 md5, 40 sha1,
//     64 sha256, 128 sha512), as Ironic's image_checksum.
//
// With none given it returns sha256 with nothing to verify.
func parseChecksum(p wire.WriteImage) (checksum, error) {
	algo, value := strings.ToLower(strings.TrimSpace(p.HashAlgo)), strings.TrimSpace(p.HashValue)
	if algo == "" && value == "" {
		c := strings.TrimSpace(p.Checksum)
		if c == "" {
			return checksum{algo: "sha256"}, nil
		}
		if a, v, ok := strings.Cut(c, ":"); ok {
			algo, value = strings.ToLower(a), v
		} else {
			value = c
			switch len(c) {
			case 2 * md5.Size:
				algo = "md5"
			case 2 * sha1.Size:
				algo = "sha1"
			case 2 * sha256.Size:
				algo = "sha256"
			case 2 * sha512.Size:
				algo = "sha512"
			default:
				return checksum{}, fmt.Errorf("%w: %d hex digits match no known algorithm", ErrBadChecksum, len(c))
			}
		}
	}
	h, err := newHash(algo)
	if err != nil {
		return checksum{}, err
	}
	want, err := hex.DecodeString(strings.ToLower(value))
	if err != nil {
		return checksum{}, fmt.Errorf("%w: %s value is not hex: %w", ErrBadChecksum, algo, err)
	}
	if len(want) != h.Size() {
		return checksum{}, fmt.Errorf("%w: %s value has %d bytes, want %d", ErrBadChecksum, algo, len(want), h.Size())
	}
	return checksum{algo: algo, want: want}, nil
}

func newHash(algo string) (hash.Hash, error) {
	switch algo {
	case "md5":
		return md5.New(), nil //nolint:gosec // see import
	case "sha1":
		return sha1.New(), nil //nolint:gosec // legacy image checksums
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrBadChecksum, algo)
}
