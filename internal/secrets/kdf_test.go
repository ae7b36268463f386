package secrets

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestKDFDefaults(t *testing.T) {
	tests := []struct {
		in   KDFParams
		want KDFParams
	}{
		{KDFParams{}, KDFParams{Algorithm: KDFArgon2id, MemoryKiB: 65536, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{KDFParams{Algorithm: "Scrypt"}, KDFParams{Algorithm: KDFScrypt, N: 1 << 17, R: 8, P: 1, SaltLen: 16, KeyLen: 32}},
		{KDFParams{Algorithm: KDFPBKDF2SHA256}, KDFParams{Algorithm: KDFPBKDF2SHA256, Iterations: 600000, SaltLen: 16, KeyLen: 32}},
		{KDFParams{Algorithm: KDFPBKDF2SHA512, SaltLen: 32}, KDFParams{Algorithm: KDFPBKDF2SHA512, Iterations: 210000, SaltLen: 32, KeyLen: 32}},
		{KDFParams{MemoryKiB: 1 << 17}, KDFParams{Algorithm: KDFArgon2id, MemoryKiB: 1 << 17, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			got := tt.in.WithDefaults()
			if got != tt.want {
				t.Fatalf("WithDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err := got.Validate(false); err != nil {
				t.Fatalf("defaults do not validate: %v", err)
			}
		})
	}
}

func TestKDFValidate(t *testing.T) {
	tests := []struct {
		name string
		p    KDFParams
		// weak: refused with ErrWeakSettings and these reasons unless allowWeak.
		weak []string
		// invalid: refused even with allowWeak, with this substring.
		invalid string
	}{
		{name: "argon2id OWASP minimum", p: KDFParams{Algorithm: KDFArgon2id, MemoryKiB: 19456, Time: 2, Threads: 1}},
		{name: "scrypt minimum", p: KDFParams{Algorithm: KDFScrypt, N: 1 << 17}},
		{name: "pbkdf2-sha256 minimum", p: KDFParams{Algorithm: KDFPBKDF2SHA256, Iterations: 600000}},
		{name: "pbkdf2-sha512 minimum", p: KDFParams{Algorithm: KDFPBKDF2SHA512, Iterations: 210000}},
		{name: "long salt and key", p: KDFParams{SaltLen: 64, KeyLen: 64}},

		{name: "argon2id low memory", p: KDFParams{MemoryKiB: 19455, Time: 2}, weak: []string{"argon2id memory 19455 KiB below 19456 KiB"}},
		{name: "argon2id one pass", p: KDFParams{Time: 1}, weak: []string{"argon2id time 1 below 2"}},
		{name: "scrypt small N", p: KDFParams{Algorithm: KDFScrypt, N: 1 << 16}, weak: []string{"scrypt n 65536 below 131072"}},
		{name: "pbkdf2-sha256 few iterations", p: KDFParams{Algorithm: KDFPBKDF2SHA256, Iterations: 599999}, weak: []string{"pbkdf2-sha256 iterations 599999 below 600000"}},
		{name: "pbkdf2-sha512 few iterations", p: KDFParams{Algorithm: KDFPBKDF2SHA512, Iterations: 209999}, weak: []string{"pbkdf2-sha512 iterations 209999 below 210000"}},
		{name: "short salt", p: KDFParams{SaltLen: 8}, weak: []string{"salt 8 bytes below 16"}},
		{name: "short key", p: KDFParams{KeyLen: 16}, weak: []string{"key 16 bytes below 32"}},
		{
			name: "Knox's parameters, SHA-256 for SHA-1",
			p:    KDFParams{Algorithm: KDFPBKDF2SHA256, Iterations: 65536, SaltLen: 8, KeyLen: 16},
			weak: []string{"iterations 65536 below 600000", "salt 8 bytes below 16", "key 16 bytes below 32"},
		},

		{name: "unknown algorithm", p: KDFParams{Algorithm: "pbkdf2-sha1"}, invalid: `unknown kdf algorithm "pbkdf2-sha1" (allowed: argon2id, scrypt, pbkdf2-sha256, pbkdf2-sha512)`},
		{name: "argon2id with iterations", p: KDFParams{Iterations: 1000000}, invalid: "takes memory_kib, time and threads only"},
		{name: "scrypt with time", p: KDFParams{Algorithm: KDFScrypt, Time: 3}, invalid: "takes n, r and p only"},
		{name: "pbkdf2 with N", p: KDFParams{Algorithm: KDFPBKDF2SHA256, N: 1024}, invalid: "takes iterations only"},
		{name: "argon2id 8 GiB", p: KDFParams{MemoryKiB: 8 << 20}, invalid: "memory_kib"},
		{name: "argon2id memory below lanes", p: KDFParams{MemoryKiB: 8, Threads: 4}, invalid: "memory_kib"},
		{name: "argon2id 1000 passes", p: KDFParams{Time: 1000}, invalid: "above the limit"},
		{name: "scrypt N not a power of two", p: KDFParams{Algorithm: KDFScrypt, N: 150000}, invalid: "power of two"},
		{name: "scrypt N too large", p: KDFParams{Algorithm: KDFScrypt, N: 1 << 25}, invalid: "power of two"},
		{name: "scrypt 8 GiB", p: KDFParams{Algorithm: KDFScrypt, N: 1 << 23, R: 8}, invalid: "4 GiB"},
		{name: "scrypt p too large", p: KDFParams{Algorithm: KDFScrypt, P: 1000}, invalid: "out of range"},
		{name: "pbkdf2 10 iterations", p: KDFParams{Algorithm: KDFPBKDF2SHA512, Iterations: 10}, invalid: "out of range"},
		{name: "pbkdf2 a billion iterations", p: KDFParams{Algorithm: KDFPBKDF2SHA256, Iterations: 1e9}, invalid: "out of range"},
		{name: "tiny salt", p: KDFParams{SaltLen: 4}, invalid: "salt_len 4"},
		{name: "huge salt", p: KDFParams{SaltLen: 128}, invalid: "salt_len 128"},
		{name: "tiny key", p: KDFParams{KeyLen: 8}, invalid: "key_len 8"},
		{name: "negative key", p: KDFParams{KeyLen: -1}, invalid: "key_len -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strict, lax := tt.p.Validate(false), tt.p.Validate(true)
			switch {
			case tt.invalid != "":
				for _, err := range []error{strict, lax} {
					if err == nil || !strings.Contains(err.Error(), tt.invalid) || errors.Is(err, ErrWeakSettings) {
						t.Fatalf("Validate = %v, want an error containing %q", err, tt.invalid)
					}
				}
			case len(tt.weak) > 0:
				if !errors.Is(strict, ErrWeakSettings) {
					t.Fatalf("Validate(false) = %v, want ErrWeakSettings", strict)
				}
				for _, reason := range append(tt.weak, "allow_weak") {
					if !strings.Contains(strict.Error(), reason) {
						t.Fatalf("Validate(false) = %q, want the reason %q", strict, reason)
					}
				}
				if lax != nil {
					t.Fatalf("Validate(true) = %v, want nil", lax)
				}
			default:
				if strict != nil || lax != nil {
					t.Fatalf("Validate = %v / %v, want nil", strict, lax)
				}
			}
		})
	}
}

func TestSettingsValidate(t *testing.T) {
	weak := KDFParams{Algorithm: KDFPBKDF2SHA256, Iterations: 1000}
	tests := []struct {
		name    string
		s       Settings
		wantErr string
	}{
		{"zero value", Settings{}, ""},
		{"xchacha", Settings{Cipher: "XChaCha20-Poly1305"}, ""},
		{"unknown cipher", Settings{Cipher: "aes-128-cbc"}, `unknown cipher "aes-128-cbc" (allowed: aes-256-gcm, xchacha20-poly1305)`},
		{"weak refused", Settings{KDF: weak}, "pbkdf2-sha256 iterations 1000 below 600000"},
		{"weak allowed", Settings{KDF: weak, AllowWeak: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			// Unlock applies the same checks before doing anything.
			k, v, uerr := Unlock(testSecret, nil, withFastKDF(tt.s))
			if (uerr == nil) != (withFastKDF(tt.s).Validate() == nil) {
				t.Fatalf("Unlock error %v disagrees with Validate", uerr)
			}
			if uerr == nil {
				k.Close()
				if v == nil {
					t.Fatal("no verifier")
				}
			}
		})
	}
	t.Run("short master secret", func(t *testing.T) {
		short := []byte("eleven char")
		if _, _, err := Unlock(short, nil, Settings{}); !errors.Is(err, ErrWeakSettings) || !strings.Contains(err.Error(), "shorter than 12 bytes") {
			t.Fatalf("Unlock with an 11-byte secret: %v", err)
		}
		k, _, err := Unlock(short, nil, fastSettings(fastKDFs[0], ""))
		if err != nil {
			t.Fatalf("Unlock with an 11-byte secret and allow_weak: %v", err)
		}
		k.Close()
	})
}

// withFastKDF keeps a test from running the default (slow) KDF when the
// settings under test do not set one.
func withFastKDF(s Settings) Settings {
	if s.KDF == (KDFParams{}) {
		s.KDF = KDFParams{Algorithm: KDFScrypt, N: 1 << 17, R: 1}
	}
	return s
}

func TestKDFString(t *testing.T) {
	tests := []struct {
		p    KDFParams
		want string
	}{
		{KDFParams{}, "argon2id(m=65536,t=3,p=2)"},
		{KDFParams{Algorithm: KDFScrypt}, "scrypt(N=131072,r=8,p=1)"},
		{KDFParams{Algorithm: KDFPBKDF2SHA256}, "pbkdf2-sha256(i=600000)"},
		{KDFParams{Algorithm: KDFPBKDF2SHA512, SaltLen: 32, KeyLen: 64}, "pbkdf2-sha512(i=210000,salt=32,key=64)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSettingsYAML decodes the crypto: section of gateway.yaml strictly.
func TestSettingsYAML(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    Settings
		wantErr bool
	}{
		{"empty", "{}", Settings{}, false},
		{"scrypt and xchacha", `
kdf:
  algorithm: scrypt
  n: 262144
  salt_len: 32
cipher: xchacha20-poly1305
`, Settings{KDF: KDFParams{Algorithm: KDFScrypt, N: 262144, SaltLen: 32}, Cipher: CipherXChaCha20Poly1305}, false},
		{"argon2id tuned, weak allowed", `
kdf: {algorithm: argon2id, memory_kib: 16384, time: 1, threads: 4, key_len: 32}
allow_weak: true
`, Settings{KDF: KDFParams{Algorithm: KDFArgon2id, MemoryKiB: 16384, Time: 1, Threads: 4, KeyLen: 32}, AllowWeak: true}, false},
		{"pbkdf2", "kdf: {algorithm: pbkdf2-sha512, iterations: 300000}", Settings{KDF: KDFParams{Algorithm: KDFPBKDF2SHA512, Iterations: 300000}}, false},
		{"unknown key", "kdf: {iters: 5}", Settings{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Settings
			dec := yaml.NewDecoder(strings.NewReader(tt.doc))
			dec.KnownFields(true)
			err := dec.Decode(&got)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tt.want {
				t.Fatalf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}
