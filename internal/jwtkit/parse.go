package jwtkit

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes bounds the size of a token the gateway parses.
const MaxTokenBytes = 8 << 10

// DefaultLeeway is the clock skew accepted on exp and nbf.
const DefaultLeeway = 30 * time.Second

// ErrNotJWT: the string does not have a JWT's compact form at all (it may
// be another kind of token, such as a passcode).
var ErrNotJWT = errors.New("not a JWT")

// Header is the part of a JOSE header the gateway reads.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// LooksLikeJWT reports whether raw has the compact form header.claims.signature.
func LooksLikeJWT(raw string) bool { return strings.Count(raw, ".") == 2 }

// Precheck checks a token's form before any key is looked up: its size,
// three base64url segments, a header and claims that are JSON objects
// without duplicate keys (which parsers disagree about), and an algorithm
// other than "none". It returns the header.
func Precheck(raw string) (Header, error) {
	var h Header
	if len(raw) > MaxTokenBytes {
		return h, fmt.Errorf("token is %d bytes long (at most %d)", len(raw), MaxTokenBytes)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return h, ErrNotJWT
	}
	for i, name := range []string{"header", "claims"} {
		seg, err := b64.DecodeString(parts[i])
		if err != nil {
			return h, fmt.Errorf("malformed token %s", name)
		}
		if err := checkObject(seg); err != nil {
			return h, fmt.Errorf("token %s: %w", name, err)
		}
		if i == 0 {
			if err := json.Unmarshal(seg, &h); err != nil {
				return h, errors.New("malformed token header")
			}
		}
	}
	if h.Alg == "" || strings.EqualFold(h.Alg, "none") {
		return h, errors.New("unsigned token (alg none)")
	}
	if parts[2] == "" {
		return h, errors.New("token has no signature")
	}
	return h, nil
}

// checkObject checks that data is one JSON object whose objects, at any
// depth, have no duplicate keys.
func checkObject(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	if err := checkMembers(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// checkMembers reads the rest of an object whose '{' was read.
func checkMembers(dec *json.Decoder, depth int) error {
	if depth > 16 {
		return errors.New("JSON nested too deeply")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New("malformed JSON")
	}
	switch tok {
	case json.Delim('{'):
		return checkMembers(dec, depth+1)
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}

// KeyLookup finds the key that verifies a token with this header: a public
// key, or the secret of an HS256 topology. An error refuses the token.
type KeyLookup func(h Header) (any, error)

// VerifyOptions are the checks a verifier applies besides the signature.
type VerifyOptions struct {
	// Algorithms the verifier accepts; a token with another alg is refused.
	Algorithms []string
	// Issuer, when set, must equal iss.
	Issuer string
	// Audiences, when set: aud (a string or an array) must name one.
	Audiences []string
	// Leeway on exp and nbf; DefaultLeeway when 0.
	Leeway time.Duration
	// Now tells the time; time.Now when nil.
	Now func() time.Time
}

// Verify checks raw's form (Precheck), its signature with the key lookup
// returns, its algorithm against the pinned ones and the key's type, and
// its registered claims. exp is required. It returns the header and claims.
func Verify(raw string, lookup KeyLookup, o VerifyOptions) (Header, jwt.MapClaims, error) {
	h, err := Precheck(raw)
	if err != nil {
		return h, nil, err
	}
	if !slices.Contains(o.Algorithms, h.Alg) {
		return h, nil, fmt.Errorf("algorithm %s is not accepted", h.Alg)
	}
	key, err := lookup(h)
	if err != nil {
		return h, nil, err
	}
	if h.Alg == "HS256" {
		if _, ok := key.([]byte); !ok {
			return h, nil, errors.New("algorithm HS256 is not accepted with a public key")
		}
	} else if err := CheckKey(h.Alg, key.(crypto.PublicKey)); err != nil {
		return h, nil, err
	}
	leeway := o.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{h.Alg}),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithJSONNumber(),
	}
	if o.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(o.Now))
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if len(o.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(o.Audiences...))
	}
	claims := jwt.MapClaims{}
	_, err = jwt.NewParser(opts...).ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return h, nil, describe(err)
	}
	return h, claims, nil
}

// describe turns golang-jwt's errors into short reasons.
func describe(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errors.New("token not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errors.New("wrong issuer")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errors.New("wrong audience")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("bad signature")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("token has no expiry")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("malformed token")
	}
	return errors.New("invalid token")
}

// Sign signs claims with key under alg and kid.
func Sign(alg, kid string, key any, claims jwt.Claims) (string, error) {
	m := Method(alg)
	if m == nil {
		return "", fmt.Errorf("unsupported algorithm %q", alg)
	}
	t := jwt.NewWithClaims(m, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}
