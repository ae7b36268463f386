package secrets

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/scrypt"
)

// KDF algorithms.
const (
	KDFArgon2id     = "argon2id"
	KDFScrypt       = "scrypt"
	KDFPBKDF2SHA256 = "pbkdf2-sha256"
	KDFPBKDF2SHA512 = "pbkdf2-sha512"
)

var kdfAlgorithms = []string{KDFArgon2id, KDFScrypt, KDFPBKDF2SHA256, KDFPBKDF2SHA512}

// Default KDF parameters. argon2id's follow RFC 9106's second recommended
// option with two lanes; the others are OWASP's 2023 recommendations.
const (
	DefaultArgon2MemoryKiB  = 64 * 1024
	DefaultArgon2Time       = 3
	DefaultArgon2Threads    = 2
	DefaultScryptN          = 1 << 17
	DefaultScryptR          = 8
	DefaultScryptP          = 1
	DefaultPBKDF2SHA256Iter = 600_000
	DefaultPBKDF2SHA512Iter = 210_000
	DefaultSaltLen          = 16
	DefaultKeyLen           = 32
)

// Minimums below which parameters are weak (refused unless allowWeak).
const (
	minArgon2MemoryKiB  = 19 * 1024 // OWASP: 19 MiB, t=2, p=1
	minArgon2Time       = 2
	minScryptN          = 1 << 17
	minPBKDF2SHA256Iter = 600_000
	minPBKDF2SHA512Iter = 210_000
	minSaltLen          = 16
	minKeyLen           = 32
)

// Hard limits, applied even with allowWeak and to stored verifiers: below
// them the KDF is meaningless, above them an unlock could exhaust the
// machine.
const (
	floorSaltLen        = 8
	floorKeyLen         = 16
	maxSaltLen          = 64
	maxKeyLen           = 64
	maxArgon2MemoryKiB  = 4 << 20 // 4 GiB
	maxArgon2Time       = 100
	maxScryptN          = 1 << 24
	maxScryptMemory     = 4 << 30 // bytes: 128·r·N
	maxScryptP          = 64
	maxPBKDF2Iterations = 20_000_000
	floorPBKDF2Iter     = 1000
)

// KDFParams selects and tunes the password-based key derivation function
// that turns the master secret into a key-encryption key. Zero fields take
// the algorithm's defaults (see [KDFParams.WithDefaults]); fields of other
// algorithms must stay zero.
type KDFParams struct {
	// Algorithm is "argon2id" (default), "scrypt", "pbkdf2-sha256" or
	// "pbkdf2-sha512".
	Algorithm string `yaml:"algorithm,omitempty" json:"algorithm,omitempty"`

	// argon2id
	MemoryKiB uint32 `yaml:"memory_kib,omitempty" json:"memory_kib,omitempty"`
	Time      uint32 `yaml:"time,omitempty" json:"time,omitempty"`
	Threads   uint8  `yaml:"threads,omitempty" json:"threads,omitempty"`

	// scrypt
	N int `yaml:"n,omitempty" json:"n,omitempty"`
	R int `yaml:"r,omitempty" json:"r,omitempty"`
	P int `yaml:"p,omitempty" json:"p,omitempty"`

	// pbkdf2-sha256, pbkdf2-sha512
	Iterations int `yaml:"iterations,omitempty" json:"iterations,omitempty"`

	// all algorithms, in bytes
	SaltLen int `yaml:"salt_len,omitempty" json:"salt_len,omitempty"`
	KeyLen  int `yaml:"key_len,omitempty" json:"key_len,omitempty"`
}

// WithDefaults returns p with the algorithm defaulted to argon2id and every
// zero parameter of the algorithm set to its default. Parameters of other
// algorithms are left as they are (Validate refuses them).
func (p KDFParams) WithDefaults() KDFParams {
	p.Algorithm = strings.ToLower(strings.TrimSpace(p.Algorithm))
	if p.Algorithm == "" {
		p.Algorithm = KDFArgon2id
	}
	switch p.Algorithm {
	case KDFArgon2id:
		p.MemoryKiB = orDefault(p.MemoryKiB, DefaultArgon2MemoryKiB)
		p.Time = orDefault(p.Time, DefaultArgon2Time)
		p.Threads = orDefault(p.Threads, DefaultArgon2Threads)
	case KDFScrypt:
		p.N = orDefault(p.N, DefaultScryptN)
		p.R = orDefault(p.R, DefaultScryptR)
		p.P = orDefault(p.P, DefaultScryptP)
	case KDFPBKDF2SHA256:
		p.Iterations = orDefault(p.Iterations, DefaultPBKDF2SHA256Iter)
	case KDFPBKDF2SHA512:
		p.Iterations = orDefault(p.Iterations, DefaultPBKDF2SHA512Iter)
	}
	p.SaltLen = orDefault(p.SaltLen, DefaultSaltLen)
	p.KeyLen = orDefault(p.KeyLen, DefaultKeyLen)
	return p
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Validate checks p with defaults applied. Impossible or excessive values
// are always refused; values below the OWASP recommendations are refused,
// with every reason and wrapping [ErrWeakSettings], unless allowWeak.
func (p KDFParams) Validate(allowWeak bool) error {
	p = p.WithDefaults()
	var weak []string
	switch p.Algorithm {
	case KDFArgon2id:
		if p.N != 0 || p.R != 0 || p.P != 0 || p.Iterations != 0 {
			return fmt.Errorf("kdf %s takes memory_kib, time and threads only", p.Algorithm)
		}
		if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2MemoryKiB {
			return fmt.Errorf("kdf argon2id: memory_kib %d out of range [%d, %d]", p.MemoryKiB, 8*uint32(p.Threads), maxArgon2MemoryKiB)
		}
		if p.Time > maxArgon2Time {
			return fmt.Errorf("kdf argon2id: time %d above the limit of %d", p.Time, maxArgon2Time)
		}
		if p.MemoryKiB < minArgon2MemoryKiB {
			weak = append(weak, fmt.Sprintf("argon2id memory %d KiB below %d KiB", p.MemoryKiB, minArgon2MemoryKiB))
		}
		if p.Time < minArgon2Time {
			weak = append(weak, fmt.Sprintf("argon2id time %d below %d", p.Time, minArgon2Time))
		}
	case KDFScrypt:
		if p.MemoryKiB != 0 || p.Time != 0 || p.Threads != 0 || p.Iterations != 0 {
			return fmt.Errorf("kdf %s takes n, r and p only", p.Algorithm)
		}
		if p.N < 2 || p.N&(p.N-1) != 0 || p.N > maxScryptN {
			return fmt.Errorf("kdf scrypt: n %d must be a power of two in [2, %d]", p.N, maxScryptN)
		}
		if p.R < 1 || p.P < 1 || p.P > maxScryptP || 128*int64(p.R)*int64(p.N) > maxScryptMemory {
			return fmt.Errorf("kdf scrypt: r %d and p %d out of range (p ≤ %d, 128·r·n ≤ 4 GiB)", p.R, p.P, maxScryptP)
		}
		if p.N < minScryptN {
			weak = append(weak, fmt.Sprintf("scrypt n %d below %d", p.N, minScryptN))
		}
	case KDFPBKDF2SHA256, KDFPBKDF2SHA512:
		if p.MemoryKiB != 0 || p.Time != 0 || p.Threads != 0 || p.N != 0 || p.R != 0 || p.P != 0 {
			return fmt.Errorf("kdf %s takes iterations only", p.Algorithm)
		}
		if p.Iterations < floorPBKDF2Iter || p.Iterations > maxPBKDF2Iterations {
			return fmt.Errorf("kdf %s: iterations %d out of range [%d, %d]", p.Algorithm, p.Iterations, floorPBKDF2Iter, maxPBKDF2Iterations)
		}
		minIter := minPBKDF2SHA256Iter
		if p.Algorithm == KDFPBKDF2SHA512 {
			minIter = minPBKDF2SHA512Iter
		}
		if p.Iterations < minIter {
			weak = append(weak, fmt.Sprintf("%s iterations %d below %d", p.Algorithm, p.Iterations, minIter))
		}
	default:
		return fmt.Errorf("unknown kdf algorithm %q (allowed: %s)", p.Algorithm, strings.Join(kdfAlgorithms, ", "))
	}
	if p.SaltLen < floorSaltLen || p.SaltLen > maxSaltLen {
		return fmt.Errorf("kdf salt_len %d out of range [%d, %d]", p.SaltLen, floorSaltLen, maxSaltLen)
	}
	if p.KeyLen < floorKeyLen || p.KeyLen > maxKeyLen {
		return fmt.Errorf("kdf key_len %d out of range [%d, %d]", p.KeyLen, floorKeyLen, maxKeyLen)
	}
	if p.SaltLen < minSaltLen {
		weak = append(weak, fmt.Sprintf("salt %d bytes below %d", p.SaltLen, minSaltLen))
	}
	if p.KeyLen < minKeyLen {
		weak = append(weak, fmt.Sprintf("key %d bytes below %d", p.KeyLen, minKeyLen))
	}
	if len(weak) > 0 && !allowWeak {
		return fmt.Errorf("%w: %s (set allow_weak to accept)", ErrWeakSettings, strings.Join(weak, "; "))
	}
	return nil
}

// String describes the parameters with defaults applied, for example
// "argon2id(m=65536,t=3,p=2)". Salt and key lengths appear when not the
// defaults.
func (p KDFParams) String() string {
	p = p.WithDefaults()
	var s string
	switch p.Algorithm {
	case KDFArgon2id:
		s = fmt.Sprintf("argon2id(m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, p.Threads)
	case KDFScrypt:
		s = fmt.Sprintf("scrypt(N=%d,r=%d,p=%d", p.N, p.R, p.P)
	default:
		s = fmt.Sprintf("%s(i=%d", p.Algorithm, p.Iterations)
	}
	if p.SaltLen != DefaultSaltLen {
		s += fmt.Sprintf(",salt=%d", p.SaltLen)
	}
	if p.KeyLen != DefaultKeyLen {
		s += fmt.Sprintf(",key=%d", p.KeyLen)
	}
	return s + ")"
}

// derive runs the KDF. p must have been validated.
func (p KDFParams) derive(secret, salt []byte) ([]byte, error) {
	switch p.Algorithm {
	case KDFArgon2id:
		return argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, uint32(p.KeyLen)), nil
	case KDFScrypt:
		return scrypt.Key(secret, salt, p.N, p.R, p.P, p.KeyLen)
	case KDFPBKDF2SHA256:
		return pbkdf2.Key(sha256.New, string(secret), salt, p.Iterations, p.KeyLen)
	case KDFPBKDF2SHA512:
		return pbkdf2.Key(sha512.New, string(secret), salt, p.Iterations, p.KeyLen)
	default:
		return nil, errors.New("unknown kdf algorithm")
	}
}
