package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strconv"
	"strings"
)

// Key types accepted by [ParseKeySpec].
const (
	KeyRSA     = "rsa"
	KeyECDSA   = "ecdsa"
	KeyEd25519 = "ed25519"
)

// DefaultRSABits is the RSA key size used when none is given.
const DefaultRSABits = 3072

// DefaultCurve is the ECDSA curve used when none is given.
const DefaultCurve = "P-256"

var (
	allowedTypes   = []string{KeyRSA, KeyECDSA, KeyEd25519}
	allowedRSABits = []int{2048, 3072, 4096}
	allowedCurves  = []string{"P-256", "P-384"}

	// curveAliases maps accepted spellings (lower case) to the canonical name.
	curveAliases = map[string]string{
		"p-256": "P-256", "p256": "P-256", "secp256r1": "P-256", "prime256v1": "P-256",
		"p-384": "P-384", "p384": "P-384", "secp384r1": "P-384",
	}
)

// KeySpec describes a private key to generate. The zero value means the
// default, ECDSA P-256. Build one with [ParseKeySpec] to validate user input.
type KeySpec struct {
	Type    string // "rsa", "ecdsa" or "ed25519"
	RSABits int    // 2048, 3072 or 4096; RSA only
	Curve   string // "P-256" or "P-384"; ECDSA only
}

// DefaultKeySpec returns ECDSA P-256.
func DefaultKeySpec() KeySpec { return KeySpec{Type: KeyECDSA, Curve: DefaultCurve} }

// ParseKeySpec validates and normalises a key type, an RSA size and an ECDSA
// curve as given on a command line or in configuration. An empty type means
// ECDSA; an empty curve means P-256; RSA bits 0 means 3072. A size given for a
// non-RSA key or a curve given for a non-ECDSA key is an error.
func ParseKeySpec(typ string, bits int, curve string) (KeySpec, error) {
	t := strings.ToLower(strings.TrimSpace(typ))
	c := strings.TrimSpace(curve)
	if t == "" {
		t = KeyECDSA
	}
	switch t {
	case KeyRSA:
		if c != "" {
			return KeySpec{}, fmt.Errorf("key curve %q applies only to ecdsa keys", curve)
		}
		if bits == 0 {
			bits = DefaultRSABits
		}
		for _, b := range allowedRSABits {
			if bits == b {
				return KeySpec{Type: KeyRSA, RSABits: bits}, nil
			}
		}
		return KeySpec{}, fmt.Errorf("unsupported RSA key size %d (allowed: %s)", bits, joinInts(allowedRSABits))
	case KeyECDSA:
		if bits != 0 {
			return KeySpec{}, fmt.Errorf("key size %d applies only to rsa keys; ecdsa keys take a curve (allowed: %s)",
				bits, strings.Join(allowedCurves, ", "))
		}
		if c == "" {
			return KeySpec{Type: KeyECDSA, Curve: DefaultCurve}, nil
		}
		canon, ok := curveAliases[strings.ToLower(c)]
		if !ok {
			return KeySpec{}, fmt.Errorf("unsupported curve %q (allowed: %s)", curve, strings.Join(allowedCurves, ", "))
		}
		return KeySpec{Type: KeyECDSA, Curve: canon}, nil
	case KeyEd25519:
		if bits != 0 || c != "" {
			return KeySpec{}, fmt.Errorf("ed25519 keys take neither a size nor a curve")
		}
		return KeySpec{Type: KeyEd25519}, nil
	default:
		return KeySpec{}, fmt.Errorf("unknown key type %q (allowed: %s)", typ, strings.Join(allowedTypes, ", "))
	}
}

// Normalize returns the validated, canonical form of k (see [ParseKeySpec]).
func (k KeySpec) Normalize() (KeySpec, error) { return ParseKeySpec(k.Type, k.RSABits, k.Curve) }

// Generate creates a new private key of this spec from crypto/rand.
func (k KeySpec) Generate() (crypto.Signer, error) {
	n, err := k.Normalize()
	if err != nil {
		return nil, err
	}
	switch n.Type {
	case KeyRSA:
		key, err := rsa.GenerateKey(rand.Reader, n.RSABits)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", n, err)
		}
		return key, nil
	case KeyECDSA:
		curve := elliptic.P256()
		if n.Curve == "P-384" {
			curve = elliptic.P384()
		}
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", n, err)
		}
		return key, nil
	default: // KeyEd25519; Normalize admits nothing else.
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", n, err)
		}
		return key, nil
	}
}

// String names the spec the way [KeyTypeOf] names a certificate's key:
// "rsa-3072", "ecdsa-P-256", "ed25519".
func (k KeySpec) String() string {
	if n, err := k.Normalize(); err == nil {
		k = n
	}
	switch k.Type {
	case KeyRSA:
		return KeyRSA + "-" + strconv.Itoa(k.RSABits)
	case KeyECDSA:
		return KeyECDSA + "-" + k.Curve
	default:
		return k.Type
	}
}

// publicKeyType names a public key like [KeySpec.String].
func publicKeyType(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return KeyRSA + "-" + strconv.Itoa(p.N.BitLen())
	case *ecdsa.PublicKey:
		return KeyECDSA + "-" + p.Curve.Params().Name
	case ed25519.PublicKey:
		return KeyEd25519
	default:
		return "unknown"
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
