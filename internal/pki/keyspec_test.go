package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"strings"
	"testing"
)

func TestParseKeySpec(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		bits    int
		curve   string
		want    KeySpec
		wantErr string // substring; empty means success
	}{
		{name: "default is ecdsa P-256", want: KeySpec{Type: KeyECDSA, Curve: "P-256"}},
		{name: "ecdsa default curve", typ: "ecdsa", want: KeySpec{Type: KeyECDSA, Curve: "P-256"}},
		{name: "ecdsa P-384", typ: "ecdsa", curve: "P-384", want: KeySpec{Type: KeyECDSA, Curve: "P-384"}},
		{name: "curve alias", typ: "ECDSA", curve: "secp384r1", want: KeySpec{Type: KeyECDSA, Curve: "P-384"}},
		{name: "curve lower case", typ: "ecdsa", curve: "p256", want: KeySpec{Type: KeyECDSA, Curve: "P-256"}},
		{name: "rsa default size", typ: "rsa", want: KeySpec{Type: KeyRSA, RSABits: 3072}},
		{name: "rsa 2048", typ: "rsa", bits: 2048, want: KeySpec{Type: KeyRSA, RSABits: 2048}},
		{name: "rsa 4096", typ: " RSA ", bits: 4096, want: KeySpec{Type: KeyRSA, RSABits: 4096}},
		{name: "ed25519", typ: "ed25519", want: KeySpec{Type: KeyEd25519}},
		{name: "unknown type", typ: "dsa", wantErr: `unknown key type "dsa" (allowed: rsa, ecdsa, ed25519)`},
		{name: "rsa too small", typ: "rsa", bits: 1024, wantErr: "allowed: 2048, 3072, 4096"},
		{name: "rsa odd size", typ: "rsa", bits: 3000, wantErr: "allowed: 2048, 3072, 4096"},
		{name: "rsa negative size", typ: "rsa", bits: -1, wantErr: "allowed: 2048, 3072, 4096"},
		{name: "unknown curve", typ: "ecdsa", curve: "P-521", wantErr: "allowed: P-256, P-384"},
		{name: "curve for rsa", typ: "rsa", curve: "P-256", wantErr: "only to ecdsa"},
		{name: "bits for ecdsa", typ: "ecdsa", bits: 3072, wantErr: "only to rsa"},
		{name: "bits for default type", bits: 2048, wantErr: "only to rsa"},
		{name: "bits for ed25519", typ: "ed25519", bits: 256, wantErr: "neither a size nor a curve"},
		{name: "curve for ed25519", typ: "ed25519", curve: "P-256", wantErr: "neither a size nor a curve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeySpec(tt.typ, tt.bits, tt.curve)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeySpec(%q, %d, %q) error = %v, want one containing %q", tt.typ, tt.bits, tt.curve, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeySpec(%q, %d, %q): %v", tt.typ, tt.bits, tt.curve, err)
			}
			if got != tt.want {
				t.Fatalf("ParseKeySpec(%q, %d, %q) = %+v, want %+v", tt.typ, tt.bits, tt.curve, got, tt.want)
			}
		})
	}
}

func TestKeySpecString(t *testing.T) {
	tests := []struct {
		spec KeySpec
		want string
	}{
		{KeySpec{}, "ecdsa-P-256"},
		{KeySpec{Type: "ecdsa", Curve: "P-384"}, "ecdsa-P-384"},
		{KeySpec{Type: "rsa"}, "rsa-3072"},
		{KeySpec{Type: "rsa", RSABits: 4096}, "rsa-4096"},
		{KeySpec{Type: "ed25519"}, "ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.spec.String(); got != tt.want {
				t.Fatalf("%+v.String() = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		spec    KeySpec
		check   func(any) bool
		wantErr bool
	}{
		{spec: KeySpec{}, check: func(k any) bool { p, ok := k.(*ecdsa.PrivateKey); return ok && p.Curve.Params().Name == "P-256" }},
		{spec: KeySpec{Type: "ecdsa", Curve: "P-384"}, check: func(k any) bool { p, ok := k.(*ecdsa.PrivateKey); return ok && p.Curve.Params().Name == "P-384" }},
		{spec: KeySpec{Type: "rsa", RSABits: 2048}, check: func(k any) bool { p, ok := k.(*rsa.PrivateKey); return ok && p.N.BitLen() == 2048 }},
		{spec: KeySpec{Type: "ed25519"}, check: func(k any) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
		{spec: KeySpec{Type: "rsa", RSABits: 1024}, wantErr: true},
		{spec: KeySpec{Type: "x25519"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec.String(), func(t *testing.T) {
			key, err := tt.spec.Generate()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Generate(%+v) succeeded, want an error", tt.spec)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate(%+v): %v", tt.spec, err)
			}
			if !tt.check(key) {
				t.Fatalf("Generate(%+v) returned %T of the wrong kind", tt.spec, key)
			}
			if got := publicKeyType(key.Public()); got != tt.spec.String() {
				t.Fatalf("public key type %q, want %q", got, tt.spec.String())
			}
		})
	}
}
