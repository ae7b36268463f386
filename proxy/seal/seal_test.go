package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

const (
	binding = "sandbox\x00webhdfs"
	target  = "http://dn1.internal:9864/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:8020&overwrite=true"
)

func TestSealOpen(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	s, err := New(key(1), time.Minute, WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Seal(binding, target)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "dn1") || strings.ContainsAny(tok, "+/=?&%") {
		t.Fatalf("token %q shows the target or is not URL-safe", tok)
	}
	if got, err := s.Open(binding, tok); err != nil || got != target {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Two seals of one target differ (random nonce).
	if tok2, _ := s.Seal(binding, target); tok2 == tok {
		t.Error("two tokens of one target are equal")
	}
	c.t = c.t.Add(time.Minute)
	if _, err := s.Open(binding, tok); err != nil {
		t.Fatalf("at the expiry second: %v", err)
	}
	c.t = c.t.Add(time.Second)
	if _, err := s.Open(binding, tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry: %v, want ErrExpired", err)
	}
}

// Every way of getting a target the gateway did not seal for this binding
// fails as ErrInvalid.
func TestOpenRefusesForgeries(t *testing.T) {
	s, _ := New(key(1), time.Minute)
	other, _ := New(key(2), time.Minute)
	tok, _ := s.Seal(binding, target)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	otherTok, _ := other.Seal(binding, target)
	for _, tt := range []struct{ name, binding, token string }{
		{"other topology", "other\x00webhdfs", tok},
		{"other service", "sandbox\x00webhdfs2", tok},
		{"flipped nonce byte", binding, flip(0)},
		{"flipped ciphertext byte", binding, flip(30)},
		{"flipped tag byte", binding, flip(len(raw) - 1)},
		{"other key", binding, otherTok},
		{"truncated", binding, tok[:len(tok)-4]},
		{"empty", binding, ""},
		{"not base64", binding, "not*base64!"},
		{"plain URL", binding, base64.RawURLEncoding.EncodeToString([]byte(target))},
		{"huge", binding, strings.Repeat("A", MaxTokenLen+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.Open(tt.binding, tt.token); !errors.Is(err, ErrInvalid) || got != "" {
				t.Fatalf("Open = %q, %v; want ErrInvalid", got, err)
			}
		})
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	if _, err := New(key(1)[:16], time.Minute); err == nil {
		t.Error("16-byte key accepted")
	}
	if _, err := New(key(1), 0); err == nil {
		t.Error("zero ttl accepted")
	}
}

func TestCheckTarget(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"http://dn1.internal:9864/webhdfs/v1/f", ""},
		{"https://10.0.0.7:9865/x", ""},
		{"http://127.0.0.1:9864/x", ""},
		{"file:///etc/passwd", `scheme "file"`},
		{"gopher://dn:70/x", `scheme "gopher"`},
		{"http://user:pw@dn/x", "user info"},
		{"http:///x", "no host"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[fe80::1]:80/", "link-local"},
		{"http://[::ffff:169.254.169.254]/", "link-local"},
		{"http://0.0.0.0:9864/", "unspecified"},
		{"http://[::]:9864/", "unspecified"},
		{"http://239.1.2.3/", "multicast"},
		{"http://224.0.0.1/", "link-local"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata"},
		{"http://METADATA.google.internal./x", "metadata"},
		{"http://[fd00:ec2::254]/", "metadata"},
		{"http://2852039166/", "link-local"},
		{"http://0xA9FEA9FE/", "link-local"},
		{"http://169.254.43518/", "link-local"},
		{"http://0251.0376.0251.0376/", "link-local"},
		{"http://[::ffff:a9fe:a9fe]/", "link-local"},
		{"http://0/", "unspecified"},
		{"http://0x0.0/", "unspecified"},
		{"http://METADATA./", "metadata"},
		{"http://1.2.3.256/", "not a valid URL host"},
		{"http://dn1.example.1/", "not a valid URL host"},
		{"http://Dn1.Internal.:9864/", ""},
		{"http://10.1:9864/", ""},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckTarget(u)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.url, err, tt.want)
		}
	}
}

// After Rotate, new tokens are sealed under the new key only; tokens of
// the replaced keys open until they expire (a second rotation within the
// TTL does not cut them short), then are refused.
func TestRotate(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	s, err := New(key(1), time.Minute, WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	tok1, _ := s.Seal(binding, target)
	c.t = c.t.Add(30 * time.Second)
	if err := s.Rotate(key(2)); err != nil {
		t.Fatal(err)
	}
	tok2, _ := s.Seal(binding, target)
	onlyNew, _ := New(key(2), time.Minute, WithClock(c.now))
	if got, err := onlyNew.Open(binding, tok2); err != nil || got != target {
		t.Fatalf("a token sealed after Rotate does not open with the new key alone: %v", err)
	}
	if _, err := onlyNew.Open(binding, tok1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("the new key alone opens a token of the old one: %v", err)
	}
	c.t = c.t.Add(10 * time.Second)
	if err := s.Rotate(key(3)); err != nil {
		t.Fatal(err)
	}
	for i, tok := range []string{tok1, tok2} {
		if got, err := s.Open(binding, tok); err != nil || got != target {
			t.Fatalf("token %d after two rotations, before its expiry: %q, %v", i+1, got, err)
		}
		if _, err := s.Open("other\x00webhdfs", tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("token %d of a replaced key opened for another binding: %v", i+1, err)
		}
	}
	c.t = c.t.Add(21 * time.Second) // tok1 was sealed 61 s ago
	if _, err := s.Open(binding, tok1); !errors.Is(err, ErrExpired) {
		t.Fatalf("token 1 after its expiry: %v, want ErrExpired", err)
	}
	if _, err := s.Open(binding, tok2); err != nil {
		t.Fatalf("token 2 before its expiry: %v", err)
	}
	// A replaced key is dropped a TTL after its replacement: a token of
	// it whose expiry is later (sealed before the clock stepped back) is
	// refused as invalid then.
	tok3, _ := s.Seal(binding, target)
	c.t = c.t.Add(-50 * time.Second)
	if err := s.Rotate(key(4)); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(62 * time.Second)
	if _, err := s.Open(binding, tok3); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a token of a key replaced more than a TTL ago: %v, want ErrInvalid", err)
	}
	c.t = c.t.Add(time.Minute)
	if err := s.Rotate(key(5)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.keys.Load().prev); n != 1 {
		t.Fatalf("%d replaced keys kept, want 1 (those past their TTL are dropped)", n)
	}
	if err := s.Rotate(key(1)[:5]); err == nil {
		t.Fatal("Rotate accepted a short key")
	}
	tok5, _ := s.Seal(binding, target)
	if _, err := s.Open(binding, tok5); err != nil {
		t.Fatalf("after a refused Rotate, the key in use changed: %v", err)
	}
}
