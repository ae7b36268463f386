package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/securegw/gateway/proxy/internal/webhost"
)

// Errors of Open. Callers answer both the same way (a client learns
// nothing about which check failed); logs may tell them apart.
var (
	ErrInvalid = errors.New("sealed target is invalid: forged, altered or issued for another service")
	ErrExpired = errors.New("sealed target has expired")
)

// KeySize is the size of a sealing key.
const KeySize = chacha20poly1305.KeySize

// MaxTokenLen bounds a token Open accepts (a target of about 6 KiB).
const MaxTokenLen = 8 << 10

// version is the first byte of a token's plaintext.
const version = 1

// Sealer seals and opens targets. It is safe for concurrent use.
type Sealer struct {
	keys atomic.Pointer[keySet]
	ttl  time.Duration
	now  func() time.Time
	mu   sync.Mutex // serialises Rotate
}

// keySet is the key that seals and the keys it replaced, which still open
// the tokens they sealed until those expire.
type keySet struct {
	cur  cipher.AEAD
	prev []retiredKey
}

// retiredKey is a key Rotate replaced: no token it sealed is valid after
// until (its replacement plus the TTL), and it is dropped then.
type retiredKey struct {
	aead  cipher.AEAD
	until time.Time
}

// Option configures a Sealer.
type Option func(*Sealer)

// WithClock sets the clock expiries are computed and checked with.
func WithClock(now func() time.Time) Option { return func(s *Sealer) { s.now = now } }

// New returns a Sealer with a KeySize-byte key; tokens expire ttl after
// they were sealed.
func New(key []byte, ttl time.Duration, opts ...Option) (*Sealer, error) {
	if ttl <= 0 {
		return nil, errors.New("seal: ttl must be positive")
	}
	a, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{ttl: ttl, now: time.Now}
	s.keys.Store(&keySet{cur: a})
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return a, nil
}

// Rotate makes key the sealing key (a master-key rotation derived a new
// one). The tokens the replaced key sealed still open until they expire:
// it is kept for one TTL, the longest such a token lives, then dropped.
func (s *Sealer) Rotate(key []byte) error {
	a, err := newAEAD(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.keys.Load()
	now := s.now()
	next := &keySet{cur: a, prev: make([]retiredKey, 0, len(old.prev)+1)}
	for _, r := range old.prev {
		if !now.After(r.until) {
			next.prev = append(next.prev, r)
		}
	}
	// Expiries are whole seconds, rounded down: a second more covers them.
	next.prev = append(next.prev, retiredKey{aead: old.cur, until: now.Add(s.ttl + time.Second)})
	s.keys.Store(next)
	return nil
}

// TTL is how long a token stays valid.
func (s *Sealer) TTL() time.Duration { return s.ttl }

// Seal returns a URL-safe token carrying target, valid for binding until
// the Sealer's ttl has passed.
func (s *Sealer) Seal(binding, target string) (string, error) {
	if len(target) > MaxTokenLen*3/4-128 {
		return "", fmt.Errorf("seal: target is %d bytes long", len(target))
	}
	a := s.keys.Load().cur
	ns := a.NonceSize()
	buf := make([]byte, ns, ns+9+len(target)+a.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	pt := make([]byte, 9, 9+len(target))
	pt[0] = version
	binary.BigEndian.PutUint64(pt[1:], uint64(s.now().Add(s.ttl).Unix()))
	pt = append(pt, target...)
	out := a.Seal(buf, buf[:ns], pt, []byte(binding))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the target sealed in token for binding: ErrInvalid when the
// token was not sealed by this key (or one Rotate replaced less than a TTL
// ago) for this binding or was altered, ErrExpired when it was but its
// time has passed.
func (s *Sealer) Open(binding, token string) (string, error) {
	if len(token) > MaxTokenLen {
		return "", ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	ks := s.keys.Load()
	ns := ks.cur.NonceSize()
	if err != nil || len(raw) < ns+9+ks.cur.Overhead() {
		return "", ErrInvalid
	}
	pt, err := ks.cur.Open(nil, raw[:ns], raw[ns:], []byte(binding))
	if err != nil && len(ks.prev) > 0 {
		now := s.now()
		for _, r := range ks.prev {
			if !now.After(r.until) {
				if pt, err = r.aead.Open(nil, raw[:ns], raw[ns:], []byte(binding)); err == nil {
					break
				}
			}
		}
	}
	if err != nil || pt[0] != version {
		return "", ErrInvalid
	}
	if exp := int64(binary.BigEndian.Uint64(pt[1:9])); s.now().Unix() > exp {
		return "", ErrExpired
	}
	return string(pt[9:]), nil
}

// metadataHosts are names of cloud metadata services.
var metadataHosts = []string{"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}

// CheckTarget refuses a target the gateway must not dispatch to: a scheme
// other than http and https, user info, no host, a host a browser or a C
// resolver would not read as written (2852039166, 0xa9.254.169.254 and
// 169.254.43518 are 169.254.169.254 to getaddrinfo), or a host that is a
// metadata service's name or an address CheckAddr refuses. Names are
// checked again where they resolve: the dial of a sealed target refuses
// an address CheckAddr refuses (a name that resolves to the metadata
// service).
func CheckTarget(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("URL carries user info")
	}
	if u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	host, ok := webhost.Host(u.Hostname())
	if !ok {
		return fmt.Errorf("host %q is not a valid URL host", host)
	}
	for _, m := range metadataHosts {
		if host == m {
			return fmt.Errorf("host %q is a cloud metadata service", host)
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return CheckAddr(a)
	}
	return nil
}

// CheckAddr refuses an address the gateway must not connect to on a
// backend's word: link-local (169.254.0.0/16, fe80::/10: cloud metadata),
// unspecified, multicast, or the EC2 metadata service's IPv6 address.
func CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return fmt.Errorf("address %s is link-local (cloud metadata)", a)
	case a.IsUnspecified():
		return fmt.Errorf("address %s is unspecified", a)
	case a.IsMulticast():
		return fmt.Errorf("address %s is multicast", a)
	case a == ec2Metadata6:
		return fmt.Errorf("address %s is a cloud metadata service", a)
	}
	return nil
}

var ec2Metadata6 = netip.MustParseAddr("fd00:ec2::254")
