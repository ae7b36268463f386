package fedsig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header is the request header carrying the signature.
const Header = "X-Gateway-Signature"

// version is the first token of a signature and the first field signed.
const version = "v1"

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 16

const (
	nonceLen = 16
	macLen   = sha256.Size
)

var enc = base64.RawURLEncoding

// Errors of Verify, for the receiver's log (errors.Is).
var (
	ErrMalformed = errors.New("malformed signature")
	ErrStale     = errors.New("timestamp outside the window")
	ErrMismatch  = errors.New("signature does not match (different secret, method, path, query, user or groups)")
	ErrReplayed  = errors.New("nonce already used")
)

// Request is what a signature covers.
type Request struct {
	Method string
	// Path is the decoded path, as the receiving gateway routes it.
	Path string
	// RawQuery is the query string as sent.
	RawQuery string
	User     string
	// Groups is the groups header's value as sent ("" when none).
	Groups string
}

// key is a secret with a pool of its HMAC states: hmac.New allocates, a
// Reset does not.
type key struct{ pool sync.Pool }

func newKey(secret []byte) (*key, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("the federation secret must be at least %d bytes, not %d", MinSecretLen, len(secret))
	}
	s := append([]byte(nil), secret...)
	k := &key{}
	k.pool.New = func() any { return hmac.New(sha256.New, s) }
	return k, nil
}

// mac writes the MAC of r at ts and nonce into dst.
func (k *key) mac(dst *[macLen]byte, r *Request, ts, nonce string) {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	var lb [binary.MaxVarintLen64]byte
	for _, f := range [...]string{version, r.Method, r.Path, r.RawQuery, ts, nonce, r.User, r.Groups} {
		h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(f)))])
		h.Write(stringBytes(f))
	}
	h.Sum(dst[:0])
	k.pool.Put(h)
}

// Signer signs requests with one secret. It is safe for concurrent use.
type Signer struct{ k *key }

// NewSigner returns a Signer for secret (at least MinSecretLen bytes),
// which it copies.
func NewSigner(secret []byte) (*Signer, error) {
	k, err := newKey(secret)
	if err != nil {
		return nil, err
	}
	return &Signer{k: k}, nil
}

// Sign returns the Header value signing r at now with a fresh nonce.
func (s *Signer) Sign(r *Request, now time.Time) string {
	var raw [nonceLen]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand panics instead)
	var nb [22]byte          // enc.EncodedLen(nonceLen)
	enc.Encode(nb[:], raw[:])
	var tb [20]byte
	ts := strconv.AppendInt(tb[:0], now.Unix(), 10)
	var sum [macLen]byte
	s.k.mac(&sum, r, stringOf(ts), stringOf(nb[:]))
	buf := make([]byte, 0, len(version)+4+len(ts)+4+len(nb)+3+43)
	buf = append(buf, version...)
	buf = append(buf, " t="...)
	buf = append(buf, ts...)
	buf = append(buf, " n="...)
	buf = append(buf, nb[:]...)
	buf = append(buf, " s="...)
	buf = enc.AppendEncode(buf, sum[:])
	return string(buf)
}

// ReplayCache accepts each key once while it is valid (chain.ReplayCache
// has this shape): Seen records key until until and reports false the
// first time, true for a key already recorded and still valid, and true
// when it cannot record (fail closed).
type ReplayCache interface {
	Seen(key string, until time.Time) bool
}

// Verifier checks signatures made with one secret. It is safe for
// concurrent use.
type Verifier struct {
	k      *key
	window time.Duration
	replay ReplayCache
}

// NewVerifier returns a Verifier for secret accepting timestamps at most
// window away from the receiver's clock, each nonce once (replay must not
// be nil).
func NewVerifier(secret []byte, window time.Duration, replay ReplayCache) (*Verifier, error) {
	if window <= 0 {
		return nil, errors.New("the signature window must be positive")
	}
	if replay == nil {
		return nil, errors.New("a replay cache is required")
	}
	k, err := newKey(secret)
	if err != nil {
		return nil, err
	}
	return &Verifier{k: k, window: window, replay: replay}, nil
}

// replayPrefix keeps the nonces apart from other users of a shared cache.
const replayPrefix = "fedsig:"

// Verify checks value (the Header's value) against r at now: its MAC
// (compared in constant time), its timestamp, then its nonce, which it
// records. The error wraps ErrMalformed, ErrStale, ErrMismatch or
// ErrReplayed.
func (v *Verifier) Verify(value string, r *Request, now time.Time) error {
	ts, nonce, sig, ok := parse(value)
	if !ok {
		return ErrMalformed
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(nonce) != 22 || len(sig) != 43 {
		return ErrMalformed
	}
	var got [macLen + 1]byte // 43 base64 characters decode to 32 bytes
	if n, err := enc.Decode(got[:], stringBytes(sig)); err != nil || n != macLen {
		return ErrMalformed
	}
	var want [macLen]byte
	v.k.mac(&want, r, ts, nonce)
	if !hmac.Equal(got[:macLen], want[:]) {
		return ErrMismatch
	}
	// Only a signature made with the secret gets this far: a client
	// without it can neither fill the replay cache nor probe the window.
	signed := time.Unix(t, 0)
	if d := now.Sub(signed); d > v.window || d < -v.window {
		return fmt.Errorf("%w (signed %s ago, window %s)", ErrStale, d.Round(time.Second), v.window)
	}
	if v.replay.Seen(replayPrefix+nonce, signed.Add(v.window+time.Second)) {
		return ErrReplayed
	}
	return nil
}

// parse splits "v1 t=TS n=NONCE s=SIG"; the order is fixed.
func parse(v string) (ts, nonce, sig string, ok bool) {
	rest, ok := strings.CutPrefix(v, version+" t=")
	if !ok {
		return "", "", "", false
	}
	ts, rest, ok = strings.Cut(rest, " n=")
	if !ok {
		return "", "", "", false
	}
	nonce, sig, ok = strings.Cut(rest, " s=")
	return ts, nonce, sig, ok
}
