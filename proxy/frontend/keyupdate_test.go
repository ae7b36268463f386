package frontend_test

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/proxy/frontend"
)

// tls13Sender writes a TLS 1.3 client's records itself (crypto/tls's
// client sends no KeyUpdate of its own): the application traffic secret
// comes from the client's key log; the client's tls.Conn reads the
// server's records (its KeyUpdate too) and writes nothing after the
// handshake.
type tls13Sender struct {
	hash   func() hash.Hash
	keyLen int
	suite  uint16
	secret []byte
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func expandLabel(t *testing.T, h func() hash.Hash, secret []byte, label string, n int) []byte {
	t.Helper()
	var info []byte
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len("tls13 ")+len(label)))
	info = append(info, "tls13 "+label...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *tls13Sender) rekey(t *testing.T) {
	t.Helper()
	key := expandLabel(t, s.hash, s.secret, "key", s.keyLen)
	s.iv = expandLabel(t, s.hash, s.secret, "iv", 12)
	var err error
	if s.suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		s.aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			s.aead, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s.seq = 0
}

// record returns a protected record of type typ holding data.
func (s *tls13Sender) record(typ byte, data []byte) []byte {
	inner := append(append([]byte(nil), data...), typ)
	hdr := []byte{23, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+s.aead.Overhead()))
	nonce := append([]byte(nil), s.iv...)
	for i := 0; i < 8; i++ {
		nonce[len(nonce)-1-i] ^= byte(s.seq >> (8 * i))
	}
	s.seq++
	return s.aead.Seal(hdr, nonce, inner, hdr)
}

func (s *tls13Sender) data(p string) []byte { return s.record(23, []byte(p)) }

// keyUpdate returns a KeyUpdate record and moves to the next secret.
func (s *tls13Sender) keyUpdate(t *testing.T, requested bool) []byte {
	t.Helper()
	var req byte
	if requested {
		req = 1
	}
	rec := s.record(22, []byte{24, 0, 0, 1, req})
	s.secret = expandLabel(t, s.hash, s.secret, "traffic upd", s.hash().Size())
	s.rekey(t)
	return rec
}

// dialTLS13Sender handshakes TLS 1.3 with addr and returns the client
// connection (for reading), the raw connection (for writing) and the
// sender of the client's records.
func dialTLS13Sender(t *testing.T, addr string, ca *testpki.CA) (*tls.Conn, net.Conn, *tls13Sender) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	var keyLog bytes.Buffer
	c := tls.Client(raw, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS13, KeyLogWriter: &keyLog})
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	s := &tls13Sender{suite: c.ConnectionState().CipherSuite}
	switch s.suite {
	case tls.TLS_AES_128_GCM_SHA256:
		s.hash, s.keyLen = sha256.New, 16
	case tls.TLS_AES_256_GCM_SHA384:
		s.hash, s.keyLen = sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		s.hash, s.keyLen = sha256.New, 32
	default:
		t.Fatalf("cipher suite %x", s.suite)
	}
	for _, line := range strings.Split(keyLog.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "CLIENT_TRAFFIC_SECRET_0" {
			if s.secret, err = hex.DecodeString(f[2]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.secret == nil {
		t.Fatal("no client traffic secret in the key log")
	}
	s.rekey(t)
	return c, raw, s
}

// A TLS 1.3 client's KeyUpdate (asking for the server's) around keep-alive
// requests whose answers are deferred: whether crypto/tls finds it in its
// buffer with the next request (its KeyUpdate then goes out before the
// deferred answer, under the new key), or reads it in the wait the answer
// is sent from, every answer comes, in order.
func TestTLSKeyUpdateAroundDeferredAnswers(t *testing.T) {
	_, addr, ca := tlsLean(t, echo, frontend.ServerOptions{})
	for _, tc := range []struct {
		name string
		// writes returns the client's writes (each one write of the
		// connection) after the warm-up, and the paths answered after
		// each.
		writes func(s *tls13Sender) ([][]byte, [][]string)
	}{
		{"one write with both requests", func(s *tls13Sender) ([][]byte, [][]string) {
			w := append(s.data(get("/a")), s.keyUpdate(t, true)...)
			return [][]byte{append(w, s.data(get("/b"))...)}, [][]string{{"/a", "/b"}}
		}},
		{"with the next request", func(s *tls13Sender) ([][]byte, [][]string) {
			return [][]byte{s.data(get("/a")), append(s.keyUpdate(t, true), s.data(get("/b"))...)},
				[][]string{{"/a"}, {"/b"}}
		}},
		{"alone", func(s *tls13Sender) ([][]byte, [][]string) {
			return [][]byte{s.data(get("/a")), s.keyUpdate(t, true), s.data(get("/b"))},
				[][]string{{"/a"}, nil, {"/b"}}
		}},
		{"not requested", func(s *tls13Sender) ([][]byte, [][]string) {
			w := append(s.data(get("/a")), s.keyUpdate(t, false)...)
			return [][]byte{append(w, s.data(get("/b"))...)}, [][]string{{"/a", "/b"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, raw, s := dialTLS13Sender(t, addr, ca)
			br := bufio.NewReader(c)
			read := func(path string) {
				t.Helper()
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer for %s: %v", path, err)
				}
				b, _ := io.ReadAll(resp.Body)
				if want := `GET x ` + path + ` ""`; string(b) != want {
					t.Fatalf("answer %q, want %q", b, want)
				}
			}
			for i := 0; i < 3; i++ { // a busy connection: its answers are deferred
				raw.Write(s.data(get("/warm")))
				read("/warm")
			}
			writes, answers := tc.writes(s)
			for i, w := range writes {
				if _, err := raw.Write(w); err != nil {
					t.Fatal(err)
				}
				if answers[i] == nil {
					time.Sleep(3 * frontend.DeferredWait) // the server's wait reads it alone
				}
				for _, path := range answers[i] {
					read(path)
				}
			}
			raw.Write(s.data(get("/after")))
			read("/after")
		})
	}
}
