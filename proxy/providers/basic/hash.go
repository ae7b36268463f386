package basic

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// verifier checks a password against one stored hash.
type verifier interface {
	verify(password []byte) bool
	// scheme names the algorithm and its cost ("argon2id m=65536,t=3,p=4"),
	// the same for hashes that take the same time to check.
	scheme() string
	// dummy returns a verifier of the same scheme for a random password:
	// what unknown users are checked against.
	dummy() (verifier, error)
}

// Limits on hash parameters, so that a topology cannot make every login
// take seconds or gigabytes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 64
	maxBcryptCost     = 16
	bcryptMaxPassword = 72 // bcrypt ignores what follows
)

var errUnknownScheme = errors.New("is not an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or a bcrypt hash ($2a$, $2b$, $2y$)")

// parseHash reads an argon2id PHC string or a bcrypt hash. Errors say what
// is wrong without repeating the hash.
func parseHash(s string) (verifier, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("argon2i and argon2d are not supported: use argon2id")
	}
	return nil, errUnknownScheme
}

type argon2idHash struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parseArgon2id(s string) (*argon2idHash, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 {
		return nil, errors.New("argon2id: want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, errors.New("argon2id: only version 19 (v=19) is supported")
	}
	var h argon2idHash
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 {
		return nil, errors.New("argon2id: parameters must be m=…,t=…,p=…")
	}
	for i, want := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(ps[i], "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || k != want || err != nil {
			return nil, errors.New("argon2id: parameters must be m=…,t=…,p=… with decimal numbers")
		}
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n < 1 || n > 255 {
				return nil, errors.New("argon2id: p must be from 1 to 255")
			}
			h.threads = uint8(n)
		}
	}
	switch {
	case h.time < 1 || h.time > maxArgonTime:
		return nil, fmt.Errorf("argon2id: t must be from 1 to %d", maxArgonTime)
	case h.memory < 8*uint32(h.threads) || h.memory > maxArgonMemoryKiB:
		return nil, fmt.Errorf("argon2id: m must be from 8×p to %d KiB", maxArgonMemoryKiB)
	}
	var err error
	if h.salt, err = decodeB64(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return nil, errors.New("argon2id: the salt must be 8 to 64 bytes in unpadded base64")
	}
	if h.key, err = decodeB64(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 128 {
		return nil, errors.New("argon2id: the hash must be 16 to 128 bytes in unpadded base64")
	}
	return &h, nil
}

func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}

func (h *argon2idHash) verify(password []byte) bool {
	k := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(k, h.key) == 1
}

func (h *argon2idHash) scheme() string {
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,len=%d", h.memory, h.time, h.threads, len(h.key))
}

func (h *argon2idHash) dummy() (verifier, error) {
	d := *h
	d.salt = make([]byte, len(h.salt))
	d.key = make([]byte, len(h.key))
	if _, err := rand.Read(d.salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(d.key); err != nil {
		return nil, err
	}
	return &d, nil
}

type bcryptHash struct {
	hash []byte
	cost int
}

func parseBcrypt(s string) (*bcryptHash, error) {
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil || len(s) != 60 {
		return nil, errors.New("bcrypt: not a valid hash ($2b$cost$ and 53 characters)")
	}
	if cost > maxBcryptCost {
		return nil, fmt.Errorf("bcrypt: cost %d is above %d: every login would take seconds", cost, maxBcryptCost)
	}
	// Salt and hash: 53 characters of bcrypt's base64 alphabet.
	if strings.IndexFunc(s[7:], func(r rune) bool {
		return !(r == '.' || r == '/' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) >= 0 {
		return nil, errors.New("bcrypt: the salt and hash hold characters outside bcrypt's base64 alphabet")
	}
	return &bcryptHash{hash: []byte(s), cost: cost}, nil
}

func (h *bcryptHash) verify(password []byte) bool {
	ok := bcrypt.CompareHashAndPassword(h.hash, password) == nil
	// bcrypt reads 72 bytes at most: a longer password would match on its
	// prefix alone.
	return ok && len(password) <= bcryptMaxPassword
}

func (h *bcryptHash) scheme() string { return "bcrypt cost=" + strconv.Itoa(h.cost) }

func (h *bcryptHash) dummy() (verifier, error) {
	pw := make([]byte, 32)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword(pw, h.cost)
	if err != nil {
		return nil, err
	}
	return &bcryptHash{hash: hash, cost: h.cost}, nil
}
