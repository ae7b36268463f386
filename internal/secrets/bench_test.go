package secrets

import (
	"bytes"
	"testing"
)

// BenchmarkUnlock measures the KDF time per unlock (an existing verifier,
// settings unchanged) for each algorithm with its default parameters.
func BenchmarkUnlock(b *testing.B) {
	for _, alg := range kdfAlgorithms {
		s := Settings{KDF: KDFParams{Algorithm: alg}}
		b.Run(s.KDF.String(), func(b *testing.B) {
			_, v := unlockNew(b, testSecret, s)
			for b.Loop() {
				k, _, err := Unlock(testSecret, v, s)
				if err != nil {
					b.Fatal(err)
				}
				k.Close()
			}
		})
	}
}

// payload is the size of a typical credential.
var payload = bytes.Repeat([]byte("p"), 64)

func BenchmarkSeal(b *testing.B) {
	for _, c := range ciphers {
		b.Run(c, func(b *testing.B) {
			k, _ := unlockNew(b, testSecret, fastSettings(fastKDFs[0], c))
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := k.Seal(testAAD, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, c := range ciphers {
		b.Run(c, func(b *testing.B) {
			k, _ := unlockNew(b, testSecret, fastSettings(fastKDFs[0], c))
			sealed := mustSeal(b, k, testAAD, payload)
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := k.Open(testAAD, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
