package secrets

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
)

// Record layout: version | cipher id | key id | nonce | ciphertext+tag.
const (
	recordVersion = 1
	keyIDLen      = 8
	headerLen     = 2 + keyIDLen
	dataKeyLen    = 32
)

// MinSecretLen is the shortest master secret accepted for a new verifier
// (first init or rotation) unless Settings.AllowWeak. Existing verifiers
// unlock with any secret length.
const MinSecretLen = 12

// Keyring holds the data key unlocked from the master secret, in memory
// only. It seals new records with the current settings and opens records
// sealed with any supported cipher under its key. It is safe for concurrent
// use; Seal and Open cost microseconds.
type Keyring struct {
	keyID    [keyIDLen]byte
	cipher   cipherID // for new records
	settings Settings
	state    atomic.Pointer[keyState] // nil once closed
}

type keyState struct {
	keys [][]byte                  // data key and subkeys, cleared by Close
	aead [numCipherIDs]cipher.AEAD // by cipher id
}

// Unlock derives the key-encryption key from the master secret (running the
// KDF once) and returns the keyring.
//
// On first init verifier is nil: Unlock creates a random data key and
// returns the verifier to store. Otherwise it opens the verifier with the
// parameters stored in it; a wrong secret returns [ErrWrongMasterSecret] and
// nothing else happens. If the stored KDF parameters or cipher differ from s,
// Unlock rewraps the data key with s (one more KDF run) and returns the new
// verifier. newVerifier is nil when the stored one is current; when it is
// not nil the caller must store it (keeping the old one is harmless: the
// next Unlock rewraps again).
func Unlock(secret, verifier []byte, s Settings) (k *Keyring, newVerifier []byte, err error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	if len(secret) == 0 {
		return nil, nil, errors.New("master secret is empty")
	}
	if len(verifier) == 0 {
		return create(secret, s, nil)
	}
	doc, keyID, err := parseVerifier(verifier)
	if err != nil {
		return nil, nil, err
	}
	dataKey, err := doc.unwrap(secret)
	if err != nil {
		return nil, nil, err
	}
	defer clear(dataKey)
	k, err = newKeyring(dataKey, keyID, s)
	if err != nil {
		return nil, nil, err
	}
	if doc.KDF == s.KDF && doc.Cipher == s.Cipher {
		return k, nil, nil
	}
	// A settings change keeps a data key rotation's link for followers.
	newVerifier, err = wrap(secret, dataKey, keyID, s, doc.PrevKeyID, doc.Link)
	if err != nil {
		k.Close()
		return nil, nil, err
	}
	return k, newVerifier, nil
}

// Rewrap returns a verifier that protects k's data key with newSecret (a
// new salt, the KDF parameters of s): a master-secret rotation that
// changes no record. Every process already running with the data key
// keeps sealing and opening; a process that starts later needs newSecret.
func Rewrap(k *Keyring, newSecret []byte, s Settings) ([]byte, error) {
	st := k.state.Load()
	if st == nil {
		return nil, fmt.Errorf("re-wrapping: %w", ErrClosed)
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(newSecret) == 0 {
		return nil, errors.New("new master secret is empty")
	}
	if len(newSecret) < MinSecretLen && !s.AllowWeak {
		return nil, fmt.Errorf("%w: master secret shorter than %d bytes (set allow_weak to accept)", ErrWeakSettings, MinSecretLen)
	}
	return wrap(newSecret, st.keys[0], k.keyID, s, "", nil)
}

// Follow returns the keyring of the data key verifier holds when that key
// replaced k's by a data key rotation ([Rotate]): its link opens with k's
// data key, no master secret needed. It returns nil when verifier holds
// k's key. A verifier whose key does not follow from k's (rotated twice
// since, or re-wrapped after a rotation) fails with [ErrUnknownKey]: only
// the master secret opens it then.
func Follow(k *Keyring, verifier []byte, s Settings) (*Keyring, error) {
	st := k.state.Load()
	if st == nil {
		return nil, fmt.Errorf("following the data key: %w", ErrClosed)
	}
	d, keyID, err := parseVerifier(verifier)
	if err != nil {
		return nil, err
	}
	if keyID == k.keyID {
		return nil, nil
	}
	if d.PrevKeyID != k.KeyID() {
		return nil, fmt.Errorf("%w: the stored data key %s does not follow from %s (restart with the current master secret)", ErrUnknownKey, d.KeyID, k.KeyID())
	}
	dataKey, err := openLink(st.keys[0], k.keyID, keyID, d.Link)
	if err != nil {
		return nil, err
	}
	defer clear(dataKey)
	return newKeyring(dataKey, keyID, s.WithDefaults())
}

// Rotate creates a new data key protected by newSecret (which may equal the
// old secret to rotate only the data key). The caller reseals every record
// with old.ResealWith(next, …) and stores newVerifier, all in one store
// transaction, then closes old. newVerifier also holds the new data key
// sealed under the old one, so that other processes running with the old
// key follow ([Follow]) until the next [Rewrap] drops that link.
func Rotate(old *Keyring, newSecret []byte, s Settings) (next *Keyring, newVerifier []byte, err error) {
	if old == nil || old.state.Load() == nil {
		return nil, nil, fmt.Errorf("rotating: old keyring: %w", ErrClosed)
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	if len(newSecret) == 0 {
		return nil, nil, errors.New("new master secret is empty")
	}
	next, v, err := create(newSecret, s, old)
	if err != nil {
		return nil, nil, err
	}
	return next, v, nil
}

// create makes a new data key and key id (different from prev's) and its
// verifier, linked to prev's data key when prev is not nil.
func create(secret []byte, s Settings, prev *Keyring) (*Keyring, []byte, error) {
	if len(secret) < MinSecretLen && !s.AllowWeak {
		return nil, nil, fmt.Errorf("%w: master secret shorter than %d bytes (set allow_weak to accept)", ErrWeakSettings, MinSecretLen)
	}
	var keyID [keyIDLen]byte
	for {
		_, _ = rand.Read(keyID[:]) // crypto/rand.Read never fails
		if prev == nil || keyID != prev.keyID {
			break
		}
	}
	dataKey := make([]byte, dataKeyLen)
	_, _ = rand.Read(dataKey)
	defer clear(dataKey)
	k, err := newKeyring(dataKey, keyID, s)
	if err != nil {
		return nil, nil, err
	}
	prevID := ""
	var link []byte
	if prev != nil {
		pst := prev.state.Load()
		if pst == nil {
			k.Close()
			return nil, nil, fmt.Errorf("linking the new data key: %w", ErrClosed)
		}
		if link, err = sealLink(pst.keys[0], prev.keyID, keyID, dataKey); err != nil {
			k.Close()
			return nil, nil, err
		}
		prevID = prev.KeyID()
	}
	v, err := wrap(secret, dataKey, keyID, s, prevID, link)
	if err != nil {
		k.Close()
		return nil, nil, err
	}
	return k, v, nil
}

// linkAEAD is the AEAD that seals a new data key under the previous one,
// with the additional data binding both key ids.
func linkAEAD(prevKey []byte, prevID, keyID [keyIDLen]byte) (aeadFor, error) {
	key, err := subkey(prevKey, "data key link")
	if err != nil {
		return aeadFor{}, fmt.Errorf("deriving the link key: %w", err)
	}
	defer clear(key)
	a, err := newAEAD(cipherAES256GCM, key)
	if err != nil {
		return aeadFor{}, err
	}
	ad := append([]byte("securegw/secrets/v1 link\x00"), prevID[:]...)
	return aeadFor{a, append(ad, keyID[:]...)}, nil
}

func sealLink(prevKey []byte, prevID, keyID [keyIDLen]byte, dataKey []byte) ([]byte, error) {
	a, err := linkAEAD(prevKey, prevID, keyID)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(dataKey)+a.Overhead())
	_, _ = rand.Read(nonce)
	return a.Seal(nonce, nonce, dataKey, a.ad), nil
}

func openLink(prevKey []byte, prevID, keyID [keyIDLen]byte, link []byte) ([]byte, error) {
	a, err := linkAEAD(prevKey, prevID, keyID)
	if err != nil {
		return nil, err
	}
	ns := a.NonceSize()
	if len(link) != ns+dataKeyLen+a.Overhead() {
		return nil, fmt.Errorf("%w: the data key link has the wrong length", ErrIntegrity)
	}
	dataKey, err := a.Open(nil, link[:ns], link[ns:], a.ad)
	if err != nil {
		return nil, fmt.Errorf("%w: the data key link does not authenticate", ErrIntegrity)
	}
	return dataKey, nil
}

func newKeyring(dataKey []byte, keyID [keyIDLen]byte, s Settings) (*Keyring, error) {
	c, err := cipherByName(s.Cipher)
	if err != nil {
		return nil, err
	}
	st := &keyState{keys: [][]byte{bytes.Clone(dataKey)}}
	for _, id := range []cipherID{cipherAES256GCM, cipherXChaCha20Poly1305} {
		key, err := subkey(dataKey, "record key "+id.name())
		if err != nil {
			return nil, fmt.Errorf("deriving record key: %w", err)
		}
		st.keys = append(st.keys, key)
		if st.aead[id], err = newAEAD(id, key); err != nil {
			return nil, fmt.Errorf("creating %s: %w", id.name(), err)
		}
	}
	k := &Keyring{keyID: keyID, cipher: c, settings: s}
	k.state.Store(st)
	return k, nil
}

// KeyID identifies the data key (16 hex digits); it is not secret.
func (k *Keyring) KeyID() string { return hex.EncodeToString(k.keyID[:]) }

// Settings returns the settings new records are sealed with.
func (k *Keyring) Settings() Settings { return k.settings }

// DeriveKey returns a 32-byte key for purpose (for example "datanode
// targets"), derived from the data key by HKDF-SHA256 under a label no
// record key uses: gateways unlocking the same store derive the same key,
// and the key changes when a master rotation replaces the data key.
func (k *Keyring) DeriveKey(purpose string) ([]byte, error) {
	st := k.state.Load()
	if st == nil {
		return nil, ErrClosed
	}
	if purpose == "" {
		return nil, errors.New("secrets: DeriveKey needs a purpose")
	}
	return subkey(st.keys[0], "derived key "+purpose)
}

// Seal encrypts plaintext for the record identified by aad (for example
// "alias/sandbox/ldap-bind-password"); Open needs the same aad.
func (k *Keyring) Seal(aad string, plaintext []byte) ([]byte, error) {
	st := k.state.Load()
	if st == nil {
		return nil, ErrClosed
	}
	a := st.aead[k.cipher]
	ns := a.NonceSize()
	out := make([]byte, headerLen+ns, headerLen+ns+len(plaintext)+a.Overhead())
	out[0] = recordVersion
	out[1] = byte(k.cipher)
	copy(out[2:headerLen], k.keyID[:])
	nonce := out[headerLen:]
	_, _ = rand.Read(nonce) // random nonces: 96 bits (GCM) or 192 bits (XChaCha) per record
	return a.Seal(out, nonce, plaintext, additionalData(out[:headerLen], aad)), nil
}

// Open decrypts a record sealed under this keyring's data key with any
// supported cipher. A record that is truncated, altered, sealed for another
// aad or under another key fails with an error wrapping [ErrIntegrity]
// (and [ErrUnknownKey] for another key).
func (k *Keyring) Open(aad string, sealed []byte) ([]byte, error) {
	st := k.state.Load()
	if st == nil {
		return nil, ErrClosed
	}
	if len(sealed) < headerLen {
		return nil, fmt.Errorf("%w: record of %d bytes is too short", ErrIntegrity, len(sealed))
	}
	if sealed[0] != recordVersion {
		return nil, fmt.Errorf("%w: unsupported record version %d", ErrIntegrity, sealed[0])
	}
	id := cipherID(sealed[1])
	if id == 0 || id >= numCipherIDs {
		return nil, fmt.Errorf("%w: unknown cipher id %d", ErrIntegrity, sealed[1])
	}
	if !bytes.Equal(sealed[2:headerLen], k.keyID[:]) {
		return nil, fmt.Errorf("%w: %w (record key %x, keyring key %s)", ErrIntegrity, ErrUnknownKey, sealed[2:headerLen], k.KeyID())
	}
	a := st.aead[id]
	ns := a.NonceSize()
	if len(sealed) < headerLen+ns+a.Overhead() {
		return nil, fmt.Errorf("%w: record of %d bytes is too short", ErrIntegrity, len(sealed))
	}
	plaintext, err := a.Open(nil, sealed[headerLen:headerLen+ns], sealed[headerLen+ns:], additionalData(sealed[:headerLen], aad))
	if err != nil {
		return nil, fmt.Errorf("%w: record does not authenticate (altered, or sealed for another identity)", ErrIntegrity)
	}
	return plaintext, nil
}

// additionalData binds a record's header and identity. The header has a
// fixed length, so the concatenation is unambiguous.
func additionalData(header []byte, aad string) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}

// Stale reports whether sealed was not written with this keyring's current
// cipher and key, so that [Keyring.Reseal] would rewrite it. A malformed
// record is stale (Reseal then says what is wrong with it).
func (k *Keyring) Stale(sealed []byte) bool {
	if len(sealed) < headerLen || sealed[0] != recordVersion {
		return true
	}
	return cipherID(sealed[1]) != k.cipher || !bytes.Equal(sealed[2:headerLen], k.keyID[:])
}

// Reseal opens sealed and, if it is stale, seals it again with the current
// settings. A current record is returned unchanged after it authenticates.
func (k *Keyring) Reseal(aad string, sealed []byte) ([]byte, error) {
	plaintext, err := k.Open(aad, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	if !k.Stale(sealed) {
		return sealed, nil
	}
	return k.Seal(aad, plaintext)
}

// ResealWith opens sealed with k and seals it with next, for rotation.
func (k *Keyring) ResealWith(next *Keyring, aad string, sealed []byte) ([]byte, error) {
	plaintext, err := k.Open(aad, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	return next.Seal(aad, plaintext)
}

// Close clears the key bytes the keyring holds (best effort: the ciphers'
// own expanded keys are left to the garbage collector). Seal and Open then
// fail with [ErrClosed]. Close is idempotent.
func (k *Keyring) Close() {
	st := k.state.Swap(nil)
	if st == nil {
		return
	}
	for _, key := range st.keys {
		clear(key)
	}
}
