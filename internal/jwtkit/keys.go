package jwtkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms the gateway signs with (asymmetric only; HS256 is for
// topologies that configure a shared secret explicitly).
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

// DefaultAlgorithm is the algorithm of the key a gateway creates first.
const DefaultAlgorithm = "ES256"

// DefaultRSABits is the RSA modulus size when none is given.
const DefaultRSABits = 3072

// CheckAlgorithm normalises an algorithm name ("es256" → "ES256") and
// refuses those the gateway does not sign with.
func CheckAlgorithm(alg string) (string, error) {
	for _, a := range Algorithms {
		if strings.EqualFold(a, alg) {
			return a, nil
		}
	}
	return "", fmt.Errorf("unsupported algorithm %q (supported: %s)", alg, strings.Join(Algorithms, ", "))
}

// Method returns golang-jwt's signing method for alg, nil when unknown.
func Method(alg string) jwt.SigningMethod {
	if alg == "EdDSA" {
		return jwt.SigningMethodEdDSA
	}
	return jwt.GetSigningMethod(alg)
}

// Generate creates a private key for alg. rsaBits applies to the RS and PS
// algorithms (0: DefaultRSABits; 2048, 3072 and 4096 are accepted).
func Generate(alg string, rsaBits int) (crypto.Signer, error) {
	alg, err := CheckAlgorithm(alg)
	if err != nil {
		return nil, err
	}
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	if rsaBits == 0 {
		rsaBits = DefaultRSABits
	}
	if !slices.Contains([]int{2048, 3072, 4096}, rsaBits) {
		return nil, fmt.Errorf("unsupported RSA key size %d (allowed: 2048, 3072, 4096)", rsaBits)
	}
	return rsa.GenerateKey(rand.Reader, rsaBits)
}

// CheckKey says whether pub can verify alg: an RSA key for RS and PS, the
// right curve for ES256/ES384, Ed25519 for EdDSA.
func CheckKey(alg string, pub crypto.PublicKey) error {
	ok := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		ok = strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
		if ok && k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (at least 2048)", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		ok = (alg == "ES256" && k.Curve == elliptic.P256()) || (alg == "ES384" && k.Curve == elliptic.P384()) ||
			(alg == "ES512" && k.Curve == elliptic.P521())
	case ed25519.PublicKey:
		ok = alg == "EdDSA"
	}
	if !ok {
		return fmt.Errorf("a %s key cannot verify %s", KeyType(pub), alg)
	}
	return nil
}

// KeyType names a public key's type as JWK's kty does (RSA, EC, OKP).
func KeyType(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	case ed25519.PublicKey:
		return "OKP"
	}
	return fmt.Sprintf("%T", pub)
}

// JWK is one JSON Web Key (RFC 7517), public members only.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	// RSA
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC and OKP
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

// PublicJWK returns the JWK of pub, with kid and alg set.
func PublicJWK(pub crypto.PublicKey, kid, alg string) (JWK, error) {
	j := JWK{Kid: kid, Alg: alg, Use: "sig"}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64.EncodeToString(k.N.Bytes()), b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		ecdh, err := k.ECDH()
		if err != nil {
			return JWK{}, err
		}
		raw := ecdh.Bytes() // 0x04 || X || Y
		j.Kty, j.Crv = "EC", k.Curve.Params().Name
		j.X, j.Y = b64.EncodeToString(raw[1:1+size]), b64.EncodeToString(raw[1+size:])
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(k)
	default:
		return JWK{}, fmt.Errorf("unsupported key type %T", pub)
	}
	return j, nil
}

// Thumbprint is the RFC 7638 thumbprint of pub (SHA-256, base64url): the
// kid of the gateway's keys.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	j, err := PublicJWK(pub, "", "")
	if err != nil {
		return "", err
	}
	// The required members only, in lexicographic order, no white space.
	var canon string
	switch j.Kty {
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, j.E, j.N)
	case "EC":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j.Crv, j.X, j.Y)
	case "OKP":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, j.Crv, j.X)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:]), nil
}

// PublicKey decodes a JWK's public key.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	dec := func(s string) ([]byte, error) { return b64.DecodeString(strings.TrimRight(s, "=")) }
	switch j.Kty {
	case "RSA":
		n, err1 := dec(j.N)
		e, err2 := dec(j.E)
		if err := errors.Join(err1, err2); err != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA JWK")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 {
			return nil, errors.New("RSA JWK too weak")
		}
		return pub, nil
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("unsupported EC curve %q", j.Crv)
		}
		x, err1 := dec(j.X)
		y, err2 := dec(j.Y)
		size := (curve.Params().BitSize + 7) / 8
		if errors.Join(err1, err2) != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC JWK")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("bad EC JWK: point not on the curve")
		}
		return pub, nil
	case "OKP":
		x, err := dec(j.X)
		if err != nil || j.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad OKP JWK")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("unsupported JWK key type %q", j.Kty)
}

// ParseJWKS decodes a JWKS document; keys that do not decode, or are not
// signature keys, are skipped.
func ParseJWKS(data []byte) (map[string]PublicEntry, error) {
	var set JWKS
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("decoding JWKS: %w", err)
	}
	out := make(map[string]PublicEntry, len(set.Keys))
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			continue
		}
		kid := k.Kid
		if kid == "" {
			if kid, err = Thumbprint(pub); err != nil {
				continue
			}
		}
		out[kid] = PublicEntry{Key: pub, Alg: k.Alg}
	}
	return out, nil
}

// PublicEntry is a verification key and, when its source names one, the
// one algorithm it may verify.
type PublicEntry struct {
	Key crypto.PublicKey
	Alg string
}
