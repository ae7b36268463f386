package secrets

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// verifierVersion is the version of the verifier document.
const verifierVersion = 1

// verifierDoc is the stored verifier: everything needed to re-derive the
// key-encryption key from the master secret, and the data key sealed under
// it. All fields but WrappedKey are the seal's additional data.
type verifierDoc struct {
	Version int       `json:"version"`
	KeyID   string    `json:"key_id"`
	KDF     KDFParams `json:"kdf"`
	Salt    []byte    `json:"salt"`
	// Cipher seals the data key.
	Cipher string `json:"cipher"`
	// PrevKeyID and Link, set by a data key rotation ([Rotate]): the new
	// data key sealed under a key derived from the previous one, so that
	// gateways running with the previous key follow without the master
	// secret ([Follow]). A master rotation ([Rewrap]) drops them.
	PrevKeyID string `json:"prev_key_id,omitempty"`
	Link      []byte `json:"link,omitempty"`
	// WrappedKey is nonce | sealed data key.
	WrappedKey []byte `json:"wrapped_key,omitempty"`
}

// additionalData is the canonical encoding of the document without the
// wrapped key.
func (d verifierDoc) additionalData() ([]byte, error) {
	d.WrappedKey = nil
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return append([]byte("securegw/secrets/v1 verifier\x00"), b...), nil
}

// kekAEAD runs the KDF over secret and returns the AEAD that wraps the data key.
func (d verifierDoc) kekAEAD(secret []byte) (aeadFor, error) {
	c, err := cipherByName(d.Cipher)
	if err != nil {
		return aeadFor{}, err
	}
	raw, err := d.KDF.derive(secret, d.Salt)
	if err != nil {
		return aeadFor{}, fmt.Errorf("deriving key: %w", err)
	}
	defer clear(raw)
	kek, err := subkey(raw, "key-encryption key")
	if err != nil {
		return aeadFor{}, fmt.Errorf("deriving key: %w", err)
	}
	defer clear(kek)
	a, err := newAEAD(c, kek)
	if err != nil {
		return aeadFor{}, err
	}
	ad, err := d.additionalData()
	if err != nil {
		return aeadFor{}, err
	}
	return aeadFor{a, ad}, nil
}

// aeadFor is an AEAD with the additional data it is used with.
type aeadFor struct {
	cipher.AEAD
	ad []byte
}

// wrap seals dataKey under a key derived from secret with s and a new salt,
// and returns the encoded verifier. link, when not nil, is the data key
// sealed under the previous one (whose hex id is prev).
func wrap(secret, dataKey []byte, keyID [keyIDLen]byte, s Settings, prev string, link []byte) ([]byte, error) {
	d := verifierDoc{
		Version: verifierVersion,
		KeyID:   hex.EncodeToString(keyID[:]),
		KDF:     s.KDF,
		Salt:    make([]byte, s.KDF.SaltLen),
		Cipher:  s.Cipher,
	}
	if link != nil {
		d.PrevKeyID, d.Link = prev, link
	}
	_, _ = rand.Read(d.Salt)
	a, err := d.kekAEAD(secret)
	if err != nil {
		return nil, fmt.Errorf("creating master secret verifier: %w", err)
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(dataKey)+a.Overhead())
	_, _ = rand.Read(nonce)
	d.WrappedKey = a.Seal(nonce, nonce, dataKey, a.ad)
	return json.Marshal(d)
}

// parseVerifier decodes and checks a stored verifier. Its KDF parameters
// must be within the hard limits (weak ones are accepted: they were allowed
// when written, and the next Unlock with stronger settings replaces them).
func parseVerifier(raw []byte) (verifierDoc, [keyIDLen]byte, error) {
	var d verifierDoc
	var keyID [keyIDLen]byte
	bad := func(format string, args ...any) (verifierDoc, [keyIDLen]byte, error) {
		return verifierDoc{}, keyID, fmt.Errorf("master secret verifier is malformed: "+format, args...)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return bad("%v", err)
	}
	if dec.More() {
		return bad("trailing data")
	}
	if d.Version != verifierVersion {
		return bad("unsupported version %d", d.Version)
	}
	id, err := hex.DecodeString(d.KeyID)
	if err != nil || len(id) != keyIDLen {
		return bad("key id %q is not %d hex bytes", d.KeyID, keyIDLen)
	}
	copy(keyID[:], id)
	if d.KDF != d.KDF.WithDefaults() {
		return bad("kdf parameters incomplete")
	}
	if err := d.KDF.Validate(true); err != nil {
		return bad("%v", err)
	}
	if len(d.Salt) != d.KDF.SaltLen {
		return bad("salt of %d bytes, kdf says %d", len(d.Salt), d.KDF.SaltLen)
	}
	if _, err := cipherByName(d.Cipher); err != nil {
		return bad("%v", err)
	}
	if (d.PrevKeyID == "") != (len(d.Link) == 0) {
		return bad("a link needs the previous key id and the previous key id a link")
	}
	return d, keyID, nil
}

// unwrap derives the key-encryption key from secret and opens the data key.
func (d verifierDoc) unwrap(secret []byte) ([]byte, error) {
	a, err := d.kekAEAD(secret)
	if err != nil {
		return nil, fmt.Errorf("opening master secret verifier: %w", err)
	}
	ns := a.NonceSize()
	if len(d.WrappedKey) != ns+dataKeyLen+a.Overhead() {
		return nil, errors.New("master secret verifier is malformed: wrapped key has the wrong length")
	}
	dataKey, err := a.Open(nil, d.WrappedKey[:ns], d.WrappedKey[ns:], a.ad)
	if err != nil {
		return nil, ErrWrongMasterSecret
	}
	return dataKey, nil
}
