package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	plaintexts := [][]byte{{}, {0}, testPlaintext, bytes.Repeat([]byte{0xa5}, 4096)}
	for _, kdf := range fastKDFs {
		for _, c := range ciphers {
			s := fastSettings(kdf, c)
			t.Run(s.String(), func(t *testing.T) {
				k, v := unlockNew(t, testSecret, s)
				sealed := make([][]byte, len(plaintexts))
				for i, p := range plaintexts {
					sealed[i] = mustSeal(t, k, testAAD, p)
					if len(p) > 4 && bytes.Contains(sealed[i], p) {
						t.Fatal("sealed record contains the plaintext")
					}
					if got := cipherID(sealed[i][1]).name(); got != c {
						t.Fatalf("record cipher %s, want %s", got, c)
					}
				}
				// A restart: unlock again from the stored verifier.
				k2, nv, err := Unlock(testSecret, v, s)
				if err != nil {
					t.Fatalf("Unlock with the verifier: %v", err)
				}
				defer k2.Close()
				if nv != nil {
					t.Fatal("Unlock with unchanged settings returned a new verifier")
				}
				if k2.KeyID() != k.KeyID() {
					t.Fatalf("key id %s after unlock, want %s", k2.KeyID(), k.KeyID())
				}
				for i, p := range plaintexts {
					got, err := k2.Open(testAAD, sealed[i])
					if err != nil {
						t.Fatalf("Open record %d: %v", i, err)
					}
					if !bytes.Equal(got, p) {
						t.Fatalf("Open record %d = %q, want %q", i, got, p)
					}
					if k2.Stale(sealed[i]) {
						t.Fatalf("record %d is stale under its own settings", i)
					}
				}
				again := mustSeal(t, k, testAAD, testPlaintext)
				if bytes.Equal(again, sealed[2]) {
					t.Fatal("sealing twice gave the same record (nonce reuse)")
				}
			})
		}
	}
}

func TestDefaultSettingsRoundTrip(t *testing.T) {
	s := DefaultSettings()
	want := Settings{
		KDF:    KDFParams{Algorithm: "argon2id", MemoryKiB: 65536, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32},
		Cipher: "aes-256-gcm",
	}
	if s != want {
		t.Fatalf("DefaultSettings() = %+v, want %+v", s, want)
	}
	if got := s.String(); got != "argon2id(m=65536,t=3,p=2) aes-256-gcm" {
		t.Fatalf("String() = %q", got)
	}
	k, v := unlockNew(t, testSecret, Settings{}) // zero value means defaults
	sealed := mustSeal(t, k, testAAD, testPlaintext)
	var doc verifierDoc
	if err := json.Unmarshal(v, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.KDF != want.KDF || doc.Cipher != want.Cipher || len(doc.Salt) != 16 {
		t.Fatalf("verifier holds %+v %s salt %d bytes, want the defaults", doc.KDF, doc.Cipher, len(doc.Salt))
	}
	k2, nv, err := Unlock(testSecret, v, s)
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	defer k2.Close()
	if nv != nil {
		t.Fatal("explicit defaults differ from the zero value's")
	}
	if got, err := k2.Open(testAAD, sealed); err != nil || !bytes.Equal(got, testPlaintext) {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestWrongMasterSecret(t *testing.T) {
	flipped := bytes.Clone(testSecret)
	flipped[0] ^= 1
	wrong := []struct {
		name   string
		secret []byte
	}{
		{"other secret", otherSecret},
		{"one bit off", flipped},
		{"prefix", testSecret[:len(testSecret)-1]},
		{"with newline", append(bytes.Clone(testSecret), '\n')},
	}
	for _, kdf := range fastKDFs {
		s := fastSettings(kdf, "")
		t.Run(kdf.String(), func(t *testing.T) {
			_, v := unlockNew(t, testSecret, s)
			for _, w := range wrong {
				t.Run(w.name, func(t *testing.T) {
					k, nv, err := Unlock(w.secret, v, s)
					if !errors.Is(err, ErrWrongMasterSecret) {
						t.Fatalf("Unlock error = %v, want ErrWrongMasterSecret", err)
					}
					if err.Error() != "wrong master secret" {
						t.Fatalf("error message %q", err.Error())
					}
					if k != nil || nv != nil {
						t.Fatal("Unlock with a wrong secret returned a keyring or a verifier")
					}
					assertNoLeak(t, err, testSecret, w.secret)
				})
			}
		})
	}
	t.Run("empty secret", func(t *testing.T) {
		s := fastSettings(fastKDFs[0], "")
		_, v := unlockNew(t, testSecret, s)
		if _, _, err := Unlock(nil, v, s); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Fatalf("Unlock with an empty secret: %v", err)
		}
	})
}

// TestTamperedVerifier alters each field of a stored verifier. None may
// unlock; parameters out of the hard limits are refused before the KDF runs.
func TestTamperedVerifier(t *testing.T) {
	s := fastSettings(fastKDFs[0], "")
	_, v := unlockNew(t, testSecret, s)
	var orig verifierDoc
	if err := json.Unmarshal(v, &orig); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(d *verifierDoc)) []byte {
		d := orig
		d.Salt = bytes.Clone(orig.Salt)
		d.WrappedKey = bytes.Clone(orig.WrappedKey)
		f(&d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		verifier  []byte
		wantWrong bool   // ErrWrongMasterSecret
		wantErr   string // otherwise, a substring
	}{
		{"salt", edit(func(d *verifierDoc) { d.Salt[0] ^= 1 }), true, ""},
		{"kdf time", edit(func(d *verifierDoc) { d.KDF.Time = 2 }), true, ""},
		{"kdf memory", edit(func(d *verifierDoc) { d.KDF.MemoryKiB = 128 }), true, ""},
		{"key id", edit(func(d *verifierDoc) { d.KeyID = strings.Repeat("0", 16) }), true, ""},
		{"wrapped key", edit(func(d *verifierDoc) { d.WrappedKey[len(d.WrappedKey)-1] ^= 1 }), true, ""},
		{"wrapped key truncated", edit(func(d *verifierDoc) { d.WrappedKey = d.WrappedKey[:20] }), false, "wrong length"},
		{"cipher", edit(func(d *verifierDoc) { d.Cipher = CipherXChaCha20Poly1305 }), false, "wrong length"},
		{"unknown cipher", edit(func(d *verifierDoc) { d.Cipher = "rot13" }), false, "unknown cipher"},
		{"version", edit(func(d *verifierDoc) { d.Version = 2 }), false, "unsupported version"},
		{"salt length", edit(func(d *verifierDoc) { d.Salt = d.Salt[:10] }), false, "salt of 10 bytes"},
		{"bad key id", edit(func(d *verifierDoc) { d.KeyID = "xyz" }), false, "key id"},
		{"memory bomb", edit(func(d *verifierDoc) { d.KDF.MemoryKiB = 1 << 30 }), false, "out of range"},
		{"time bomb", edit(func(d *verifierDoc) { d.KDF.Time = 1 << 30 }), false, "above the limit"},
		{"unknown algorithm", edit(func(d *verifierDoc) { d.KDF.Algorithm = "pbkdf2-sha1" }), false, "unknown kdf"},
		{"incomplete params", edit(func(d *verifierDoc) { d.KDF.Time = 0 }), false, "incomplete"},
		{"unknown field", []byte(strings.Replace(string(v), `{`, `{"extra":1,`, 1)), false, "unknown field"},
		{"trailing data", append(bytes.Clone(v), []byte(" {}")...), false, "trailing data"},
		{"not JSON", []byte("garbage"), false, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, nv, err := Unlock(testSecret, tt.verifier, s)
			if k != nil || nv != nil {
				t.Fatal("a tampered verifier unlocked")
			}
			if tt.wantWrong {
				if !errors.Is(err, ErrWrongMasterSecret) {
					t.Fatalf("error = %v, want ErrWrongMasterSecret", err)
				}
			} else if err == nil || errors.Is(err, ErrWrongMasterSecret) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			assertNoLeak(t, err, testSecret)
		})
	}
}

func TestIntegrity(t *testing.T) {
	for _, c := range ciphers {
		t.Run(c, func(t *testing.T) {
			k, _ := unlockNew(t, testSecret, fastSettings(fastKDFs[0], c))
			sealed := mustSeal(t, k, testAAD, testPlaintext)
			t.Run("flipped byte", func(t *testing.T) {
				for i := range sealed {
					for _, mask := range []byte{0x01, 0x80, 0xff} {
						bad := bytes.Clone(sealed)
						bad[i] ^= mask
						got, err := k.Open(testAAD, bad)
						if !errors.Is(err, ErrIntegrity) {
							t.Fatalf("byte %d ^ %#x: Open = %q, %v; want ErrIntegrity", i, mask, got, err)
						}
						assertNoLeak(t, err, testPlaintext, testSecret)
					}
				}
			})
			t.Run("truncated", func(t *testing.T) {
				for n := range len(sealed) {
					if _, err := k.Open(testAAD, sealed[:n]); !errors.Is(err, ErrIntegrity) {
						t.Fatalf("truncated to %d bytes: %v; want ErrIntegrity", n, err)
					}
				}
			})
			t.Run("extended", func(t *testing.T) {
				if _, err := k.Open(testAAD, append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrIntegrity) {
					t.Fatalf("extended record: %v; want ErrIntegrity", err)
				}
			})
			t.Run("other identity", func(t *testing.T) {
				for _, aad := range []string{"alias/sandbox/other", "alias/prod/ldap-bind-password", "", testAAD + " ", strings.ToUpper(testAAD)} {
					if _, err := k.Open(aad, sealed); !errors.Is(err, ErrIntegrity) {
						t.Fatalf("Open under %q: %v; want ErrIntegrity", aad, err)
					}
				}
			})
			t.Run("other keyring", func(t *testing.T) {
				other, _ := unlockNew(t, testSecret, fastSettings(fastKDFs[0], c))
				_, err := other.Open(testAAD, sealed)
				if !errors.Is(err, ErrIntegrity) || !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("Open with another keyring: %v; want ErrIntegrity and ErrUnknownKey", err)
				}
			})
		})
	}
}

// TestChangingSettings changes the KDF and the cipher between unlocks: old
// records keep opening, new ones use the new settings, and Reseal upgrades.
func TestChangingSettings(t *testing.T) {
	settingsA := fastSettings(fastKDFs[0], CipherAES256GCM)         // argon2id, AES-GCM
	settingsB := fastSettings(fastKDFs[1], CipherXChaCha20Poly1305) // scrypt, XChaCha
	settingsC := fastSettings(fastKDFs[2], CipherXChaCha20Poly1305) // pbkdf2, XChaCha
	kA, vA := unlockNew(t, testSecret, settingsA)
	oldRecord := mustSeal(t, kA, testAAD, testPlaintext)

	kB, vB, err := Unlock(testSecret, vA, settingsB)
	if err != nil {
		t.Fatalf("Unlock with new settings: %v", err)
	}
	defer kB.Close()

	t.Run("verifier rewritten with the new KDF", func(t *testing.T) {
		if vB == nil {
			t.Fatal("Unlock with new settings returned no verifier")
		}
		var doc verifierDoc
		if err := json.Unmarshal(vB, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.KDF != settingsB.KDF.WithDefaults() || doc.Cipher != settingsB.Cipher {
			t.Fatalf("new verifier uses %s %s, want %s", doc.KDF, doc.Cipher, settingsB)
		}
		if kB.KeyID() != kA.KeyID() {
			t.Fatal("a settings change replaced the data key")
		}
		// Stored again, the new verifier is current.
		k, nv, err := Unlock(testSecret, vB, settingsB)
		if err != nil || nv != nil {
			t.Fatalf("Unlock with the new verifier: verifier %v, err %v; want current", nv != nil, err)
		}
		k.Close()
		// Not stored (crash before the write): the old one still works.
		k, _, err = Unlock(testSecret, vA, settingsB)
		if err != nil {
			t.Fatalf("Unlock with the old verifier after the change: %v", err)
		}
		k.Close()
	})
	t.Run("old record opens and is stale", func(t *testing.T) {
		got, err := kB.Open(testAAD, oldRecord)
		if err != nil || !bytes.Equal(got, testPlaintext) {
			t.Fatalf("Open old record = %q, %v", got, err)
		}
		if !kB.Stale(oldRecord) {
			t.Fatal("record sealed with AES-GCM is not stale under XChaCha settings")
		}
	})
	t.Run("new record uses the new cipher", func(t *testing.T) {
		rec := mustSeal(t, kB, testAAD, testPlaintext)
		if cipherID(rec[1]) != cipherXChaCha20Poly1305 || kB.Stale(rec) {
			t.Fatalf("new record cipher %s, stale %v", cipherID(rec[1]).name(), kB.Stale(rec))
		}
		if got, err := kA.Open(testAAD, rec); err != nil || !bytes.Equal(got, testPlaintext) {
			t.Fatalf("the old keyring (same data key) cannot open the new record: %v", err)
		}
	})
	t.Run("reseal upgrades", func(t *testing.T) {
		up, err := kB.Reseal(testAAD, oldRecord)
		if err != nil {
			t.Fatalf("Reseal: %v", err)
		}
		if kB.Stale(up) || cipherID(up[1]) != cipherXChaCha20Poly1305 {
			t.Fatal("resealed record is still stale")
		}
		if got, err := kB.Open(testAAD, up); err != nil || !bytes.Equal(got, testPlaintext) {
			t.Fatalf("Open resealed = %q, %v", got, err)
		}
		same, err := kB.Reseal(testAAD, up)
		if err != nil || !bytes.Equal(same, up) {
			t.Fatalf("Reseal of a current record changed it (err %v)", err)
		}
		if _, err := kB.Reseal("alias/other", oldRecord); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("Reseal under another identity: %v; want ErrIntegrity", err)
		}
	})
	t.Run("KDF-only change leaves records current", func(t *testing.T) {
		kC, vC, err := Unlock(testSecret, vB, settingsC)
		if err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		defer kC.Close()
		if vC == nil {
			t.Fatal("a KDF change returned no verifier")
		}
		rec := mustSeal(t, kB, testAAD, testPlaintext)
		if kC.Stale(rec) {
			t.Fatal("a record is stale after a KDF-only change; the KDF protects the data key, not records")
		}
	})
	t.Run("malformed records are stale", func(t *testing.T) {
		for _, rec := range [][]byte{nil, {1}, {9, 1, 0, 0, 0, 0, 0, 0, 0, 0}} {
			if !kB.Stale(rec) {
				t.Fatalf("Stale(%x) = false", rec)
			}
		}
	})
}

func TestRotate(t *testing.T) {
	s := fastSettings(fastKDFs[0], "")
	old, oldVerifier := unlockNew(t, testSecret, s)
	aliases := map[string][]byte{
		"alias/sandbox/ldap-bind-password": []byte("bind-pw"),
		"alias/sandbox/hmac-secret":        []byte("hmac-key"),
		"alias/prod/backend-token":         testPlaintext,
	}
	records := map[string][]byte{}
	for aad, p := range aliases {
		records[aad] = mustSeal(t, old, aad, p)
	}

	s2 := fastSettings(fastKDFs[1], CipherXChaCha20Poly1305)
	next, nextVerifier, err := Rotate(old, otherSecret, s2)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	defer next.Close()
	if next.KeyID() == old.KeyID() {
		t.Fatal("rotation kept the key id")
	}
	resealed := map[string][]byte{}
	for aad, rec := range records {
		if resealed[aad], err = old.ResealWith(next, aad, rec); err != nil {
			t.Fatalf("ResealWith %s: %v", aad, err)
		}
	}

	reopened, nv, err := Unlock(otherSecret, nextVerifier, s2)
	if err != nil || nv != nil {
		t.Fatalf("Unlock with the new secret: verifier %v, err %v", nv != nil, err)
	}
	defer reopened.Close()
	for aad, p := range aliases {
		t.Run(aad, func(t *testing.T) {
			for name, k := range map[string]*Keyring{"new keyring": next, "new keyring after restart": reopened} {
				got, err := k.Open(aad, resealed[aad])
				if err != nil || !bytes.Equal(got, p) {
					t.Fatalf("%s: Open = %q, %v", name, got, err)
				}
				if k.Stale(resealed[aad]) {
					t.Fatalf("%s: resealed record is stale", name)
				}
				if _, err := k.Open(aad, records[aad]); !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("%s opens a record of the old key: %v", name, err)
				}
			}
			if _, err := old.Open(aad, resealed[aad]); !errors.Is(err, ErrIntegrity) || !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("old keyring on a resealed record: %v; want ErrIntegrity and ErrUnknownKey", err)
			}
		})
	}
	t.Run("secrets", func(t *testing.T) {
		if _, _, err := Unlock(testSecret, nextVerifier, s2); !errors.Is(err, ErrWrongMasterSecret) {
			t.Fatalf("old secret on the new verifier: %v", err)
		}
		if _, _, err := Unlock(otherSecret, oldVerifier, s); !errors.Is(err, ErrWrongMasterSecret) {
			t.Fatalf("new secret on the old verifier: %v", err)
		}
	})
	t.Run("same secret, new data key", func(t *testing.T) {
		k, _, err := Rotate(old, testSecret, s)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		defer k.Close()
		if k.KeyID() == old.KeyID() {
			t.Fatal("rotation kept the key id")
		}
	})
	t.Run("refusals", func(t *testing.T) {
		if _, _, err := Rotate(old, []byte("short"), Settings{KDF: s.KDF}); !errors.Is(err, ErrWeakSettings) {
			t.Fatalf("Rotate with weak settings: %v; want ErrWeakSettings", err)
		}
		if _, _, err := Rotate(old, []byte("short"), DefaultSettings()); !errors.Is(err, ErrWeakSettings) {
			t.Fatalf("Rotate to a short secret: %v; want ErrWeakSettings", err)
		}
		if _, _, err := Rotate(old, nil, s); err == nil {
			t.Fatal("Rotate to an empty secret succeeded")
		}
		if _, _, err := Rotate(nil, otherSecret, s); !errors.Is(err, ErrClosed) {
			t.Fatalf("Rotate(nil): %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	k, _ := unlockNew(t, testSecret, fastSettings(fastKDFs[0], ""))
	sealed := mustSeal(t, k, testAAD, testPlaintext)
	st := k.state.Load()
	k.Close()
	k.Close() // idempotent
	for i, key := range st.keys {
		if !bytes.Equal(key, make([]byte, len(key))) {
			t.Fatalf("key %d not cleared by Close", i)
		}
	}
	if _, err := k.Seal(testAAD, testPlaintext); !errors.Is(err, ErrClosed) {
		t.Fatalf("Seal after Close: %v", err)
	}
	if _, err := k.Open(testAAD, sealed); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	if _, _, err := Rotate(k, otherSecret, fastSettings(fastKDFs[0], "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Rotate from a closed keyring: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	k, _ := unlockNew(t, testSecret, fastSettings(fastKDFs[0], ""))
	const workers, rounds = 8, 200
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aad := fmt.Sprintf("alias/t/%d", w)
			for i := range rounds {
				p := []byte(fmt.Sprintf("value-%d-%d", w, i))
				sealed, err := k.Seal(aad, p)
				if err != nil {
					errs <- err
					return
				}
				got, err := k.Open(aad, sealed)
				if err != nil || !bytes.Equal(got, p) {
					errs <- fmt.Errorf("worker %d round %d: %q, %v", w, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNoSecretInErrors drives every failure path with distinctive secrets
// and plaintexts and checks that no error message carries them.
func TestNoSecretInErrors(t *testing.T) {
	s := fastSettings(fastKDFs[0], "")
	k, v := unlockNew(t, testSecret, s)
	sealed := mustSeal(t, k, testAAD, testPlaintext)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	shortSecret := []byte("Xq9!zz")

	cases := []struct {
		name string
		err  func() error
	}{
		{"wrong secret", func() error { _, _, err := Unlock(otherSecret, v, s); return err }},
		{"weak settings", func() error {
			_, _, err := Unlock(testSecret, nil, Settings{KDF: KDFParams{Iterations: 1000, Algorithm: KDFPBKDF2SHA256}})
			return err
		}},
		{"short secret", func() error { _, _, err := Unlock(shortSecret, nil, DefaultSettings()); return err }},
		{"bad verifier", func() error { _, _, err := Unlock(testSecret, []byte(`{"version":1}`), s); return err }},
		{"tampered record", func() error { _, err := k.Open(testAAD, tampered); return err }},
		{"other identity", func() error { _, err := k.Open("alias/x", sealed); return err }},
		{"oversized input", func() error { _, err := ReadSecret(bytes.NewReader(testSecret), 8); return err }},
		{"rotate weak", func() error { _, _, err := Rotate(k, shortSecret, DefaultSettings()); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatal("no error")
			}
			assertNoLeak(t, err, testSecret, otherSecret, shortSecret, testPlaintext)
		})
	}
}

// DeriveKey gives gateways unlocking one store the same key per purpose,
// distinct per purpose, and a new one after a rotation.
func TestDeriveKey(t *testing.T) {
	s := fastSettings(fastKDFs[0], CipherAES256GCM)
	k, v := unlockNew(t, testSecret, s)
	a, err := k.DeriveKey("datanode targets")
	if err != nil || len(a) != 32 {
		t.Fatalf("DeriveKey: %d bytes, %v", len(a), err)
	}
	k2, _, err := Unlock(testSecret, v, s)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if b, _ := k2.DeriveKey("datanode targets"); !bytes.Equal(a, b) {
		t.Error("a second unlock of the store derives another key")
	}
	if b, _ := k.DeriveKey("other"); bytes.Equal(a, b) {
		t.Error("two purposes derive the same key")
	}
	if _, err := k.DeriveKey(""); err == nil {
		t.Error("empty purpose accepted")
	}
	next, _, err := Rotate(k, testSecret, s)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if b, _ := next.DeriveKey("datanode targets"); bytes.Equal(a, b) {
		t.Error("a rotation keeps the derived key")
	}
	k2.Close()
	if _, err := k2.DeriveKey("datanode targets"); !errors.Is(err, ErrClosed) {
		t.Errorf("closed keyring: %v", err)
	}
}

// A master rotation by Rewrap: the data key stays, so a keyring running with
// it (another gateway) keeps opening and sealing; only the new secret
// unlocks the new verifier, and the old secret no longer does.
func TestRewrap(t *testing.T) {
	s := fastSettings(fastKDFs[0], "")
	k, oldVerifier := unlockNew(t, testSecret, s)
	rec := mustSeal(t, k, testAAD, testPlaintext)

	v, err := Rewrap(k, otherSecret, s)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if bytes.Equal(v, oldVerifier) {
		t.Fatal("Rewrap returned the old verifier")
	}
	reopened, nv, err := Unlock(otherSecret, v, s)
	if err != nil || nv != nil {
		t.Fatalf("Unlock with the new secret: verifier %v, err %v", nv != nil, err)
	}
	defer reopened.Close()
	if reopened.KeyID() != k.KeyID() {
		t.Fatalf("key id %s after Rewrap, want %s", reopened.KeyID(), k.KeyID())
	}
	if got, err := reopened.Open(testAAD, rec); err != nil || !bytes.Equal(got, testPlaintext) {
		t.Fatalf("a record of before the rewrap: %q, %v", got, err)
	}
	if got, err := k.Open(testAAD, mustSeal(t, reopened, testAAD, testPlaintext)); err != nil || !bytes.Equal(got, testPlaintext) {
		t.Fatalf("the running keyring on a record sealed after the rewrap: %q, %v", got, err)
	}
	if _, _, err := Unlock(testSecret, v, s); !errors.Is(err, ErrWrongMasterSecret) {
		t.Fatalf("the old secret on the new verifier: %v", err)
	}
	if f, err := Follow(k, v, s); f != nil || err != nil {
		t.Fatalf("Follow on a rewrapped verifier of the same key: %v, %v; want nothing to follow", f, err)
	}

	for _, tt := range []struct {
		name   string
		k      *Keyring
		secret []byte
		s      Settings
		want   error
	}{
		{"short secret", k, []byte("short"), DefaultSettings(), ErrWeakSettings},
		{"weak settings", k, otherSecret, Settings{KDF: s.KDF}, ErrWeakSettings},
		{"closed keyring", closedKeyring(t), otherSecret, s, ErrClosed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Rewrap(tt.k, tt.secret, tt.s); !errors.Is(err, tt.want) {
				t.Fatalf("Rewrap: %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Rewrap(k, nil, s); err == nil {
		t.Fatal("Rewrap to an empty secret succeeded")
	}
}

func closedKeyring(t *testing.T) *Keyring {
	k, _ := unlockNew(t, testSecret, fastSettings(fastKDFs[0], ""))
	k.Close()
	return k
}

// A data key rotation links the new key to the old one: a keyring running
// with the old key (another gateway) follows without the master secret, one
// rotation at a time; a tampered link, or a key two rotations away, does not.
func TestFollow(t *testing.T) {
	s := fastSettings(fastKDFs[0], "")
	old, _ := unlockNew(t, testSecret, s)
	next, v, err := Rotate(old, otherSecret, s)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	defer next.Close()
	rec := mustSeal(t, next, testAAD, testPlaintext)

	f, err := Follow(old, v, s)
	if err != nil || f == nil {
		t.Fatalf("Follow: %v, %v", f, err)
	}
	defer f.Close()
	if f.KeyID() != next.KeyID() {
		t.Fatalf("followed key %s, want %s", f.KeyID(), next.KeyID())
	}
	if got, err := f.Open(testAAD, rec); err != nil || !bytes.Equal(got, testPlaintext) {
		t.Fatalf("the followed keyring on a new record: %q, %v", got, err)
	}

	t.Run("the link survives a settings change", func(t *testing.T) {
		s2 := fastSettings(fastKDFs[1], CipherXChaCha20Poly1305)
		k, v2, err := Unlock(otherSecret, v, s2)
		if err != nil || v2 == nil {
			t.Fatalf("Unlock with new settings: %v, %v", v2 != nil, err)
		}
		k.Close()
		f, err := Follow(old, v2, s2)
		if err != nil || f == nil || f.KeyID() != next.KeyID() {
			t.Fatalf("Follow after a settings change: %v, %v", f, err)
		}
		f.Close()
	})
	t.Run("two rotations away", func(t *testing.T) {
		third, v3, err := Rotate(next, testSecret, s)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		third.Close()
		if _, err := Follow(old, v3, s); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Follow over two rotations: %v, want ErrUnknownKey", err)
		}
	})
	t.Run("a master rotation drops the link", func(t *testing.T) {
		v3, err := Rewrap(next, testSecret, s)
		if err != nil {
			t.Fatalf("Rewrap: %v", err)
		}
		if bytes.Contains(v3, []byte("link")) {
			t.Fatalf("the rewrapped verifier keeps the link: %s", v3)
		}
		if _, err := Follow(old, v3, s); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Follow after a rewrap: %v, want ErrUnknownKey", err)
		}
	})
	t.Run("tampered link", func(t *testing.T) {
		var d map[string]any
		if err := json.Unmarshal(v, &d); err != nil {
			t.Fatal(err)
		}
		link, _ := base64.StdEncoding.DecodeString(d["link"].(string))
		link[len(link)-1] ^= 1
		d["link"] = link
		bad, _ := json.Marshal(d)
		if _, err := Follow(old, bad, s); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("Follow with a tampered link: %v, want ErrIntegrity", err)
		}
		// The master secret's seal covers the link too.
		if _, _, err := Unlock(otherSecret, bad, s); !errors.Is(err, ErrWrongMasterSecret) {
			t.Fatalf("Unlock with a tampered link: %v", err)
		}
	})
	t.Run("another key's keyring", func(t *testing.T) {
		other, _ := unlockNew(t, testSecret, s)
		if _, err := Follow(other, v, s); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Follow from an unrelated key: %v, want ErrUnknownKey", err)
		}
	})
}
