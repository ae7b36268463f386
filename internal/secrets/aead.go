package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// cipherID is the cipher's byte in a sealed record. Values are stable.
type cipherID byte

const (
	cipherAES256GCM         cipherID = 1
	cipherXChaCha20Poly1305 cipherID = 2
	numCipherIDs                     = 3 // one past the largest id
)

func (c cipherID) name() string {
	switch c {
	case cipherAES256GCM:
		return CipherAES256GCM
	case cipherXChaCha20Poly1305:
		return CipherXChaCha20Poly1305
	default:
		return fmt.Sprintf("cipher-%d", byte(c))
	}
}

// newAEAD returns the cipher's AEAD for a 32-byte key. The AEAD keeps its
// own copy of the key, so the caller may clear key afterwards.
func newAEAD(c cipherID, key []byte) (cipher.AEAD, error) {
	switch c {
	case cipherAES256GCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	case cipherXChaCha20Poly1305:
		return chacha20poly1305.NewX(key)
	default:
		return nil, fmt.Errorf("unknown cipher id %d", byte(c))
	}
}

// subkey derives a 32-byte key for one purpose from key material.
func subkey(material []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, material, nil, "securegw/secrets/v1 "+purpose, 32)
}
