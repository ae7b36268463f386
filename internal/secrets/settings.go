package secrets

import (
	"fmt"
	"strings"
)

// Ciphers for sealed records.
const (
	CipherAES256GCM         = "aes-256-gcm"
	CipherXChaCha20Poly1305 = "xchacha20-poly1305"
)

// Settings are the crypto settings of the alias store, decoded from the
// crypto: section of gateway.yaml. The zero value means the defaults.
type Settings struct {
	KDF KDFParams `yaml:"kdf" json:"kdf"`
	// Cipher is "aes-256-gcm" (default) or "xchacha20-poly1305".
	Cipher string `yaml:"cipher" json:"cipher"`
	// AllowWeak accepts parameters below the recommended minimums (and a
	// short master secret). Meant for tests and constrained machines.
	AllowWeak bool `yaml:"allow_weak" json:"allow_weak"`
}

// DefaultSettings returns argon2id(m=65536,t=3,p=2) and AES-256-GCM.
func DefaultSettings() Settings { return Settings{}.WithDefaults() }

// WithDefaults fills zero fields with their defaults.
func (s Settings) WithDefaults() Settings {
	s.KDF = s.KDF.WithDefaults()
	s.Cipher = strings.ToLower(strings.TrimSpace(s.Cipher))
	if s.Cipher == "" {
		s.Cipher = CipherAES256GCM
	}
	return s
}

// Validate checks the settings with defaults applied; weak KDF parameters
// are refused unless AllowWeak.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	if err := s.KDF.Validate(s.AllowWeak); err != nil {
		return err
	}
	if _, err := cipherByName(s.Cipher); err != nil {
		return err
	}
	return nil
}

// String describes the settings, for example
// "argon2id(m=65536,t=3,p=2) aes-256-gcm".
func (s Settings) String() string {
	s = s.WithDefaults()
	return s.KDF.String() + " " + s.Cipher
}

func cipherByName(name string) (cipherID, error) {
	switch name {
	case CipherAES256GCM:
		return cipherAES256GCM, nil
	case CipherXChaCha20Poly1305:
		return cipherXChaCha20Poly1305, nil
	default:
		return 0, fmt.Errorf("unknown cipher %q (allowed: %s, %s)", name, CipherAES256GCM, CipherXChaCha20Poly1305)
	}
}
