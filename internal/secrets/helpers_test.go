package secrets

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// testSecret and testPlaintext are distinctive so that a leak into an error
// string is easy to detect.
var (
	testSecret    = []byte("correct horse battery staple 42")
	otherSecret   = []byte("tr0ub4dor&3 is not the secret")
	testPlaintext = []byte("ldap-bind-p4ssw0rd-do-not-leak")
)

const testAAD = "alias/sandbox/ldap-bind-password"

// fastKDFs are one cheap parameter set per algorithm (AllowWeak needed), so
// that tests run every combination quickly under the race detector.
var fastKDFs = []KDFParams{
	{Algorithm: KDFArgon2id, MemoryKiB: 64, Time: 1, Threads: 1},
	{Algorithm: KDFScrypt, N: 1024, R: 8, P: 1},
	{Algorithm: KDFPBKDF2SHA256, Iterations: 1000},
	{Algorithm: KDFPBKDF2SHA512, Iterations: 1000},
}

var ciphers = []string{CipherAES256GCM, CipherXChaCha20Poly1305}

func fastSettings(kdf KDFParams, cipher string) Settings {
	return Settings{KDF: kdf, Cipher: cipher, AllowWeak: true}
}

// unlockNew creates a keyring and its verifier.
func unlockNew(t testing.TB, secret []byte, s Settings) (*Keyring, []byte) {
	t.Helper()
	k, v, err := Unlock(secret, nil, s)
	if err != nil {
		t.Fatalf("Unlock (first init) with %s: %v", s, err)
	}
	if v == nil {
		t.Fatal("first Unlock returned no verifier")
	}
	t.Cleanup(k.Close)
	return k, v
}

func mustSeal(t testing.TB, k *Keyring, aad string, plaintext []byte) []byte {
	t.Helper()
	sealed, err := k.Seal(aad, plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// assertNoLeak fails if err's message contains any of the values, raw or in
// hex or base64.
func assertNoLeak(t *testing.T, err error, values ...[]byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, v := range values {
		for _, form := range []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v)} {
			if strings.Contains(msg, form) {
				t.Fatalf("error message contains a secret value: %q", msg)
			}
		}
	}
}
