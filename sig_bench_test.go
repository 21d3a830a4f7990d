package a1

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// BenchmarkSigSet compares single and batch verification of n uncached
// signatures under the project's rule, to pick batchThreshold.
func BenchmarkSigSet(b *testing.B) {
	for _, n := range []int{2, 3, 4, 8} {
		entries := make([]sigEntry, n)
		for i := range entries {
			seed := make([]byte, 32)
			seed[0] = byte(i + 1)
			k := ed25519.NewKeyFromSeed(seed)
			entries[i].pk = PublicKey(k.Public().(ed25519.PublicKey))
			entries[i].digest[0] = byte(i)
			copy(entries[i].sig[:], ed25519.Sign(k, entries[i].digest[:]))
		}
		b.Run(fmt.Sprintf("single/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range entries {
					if !VerifySignature(entries[i].pk, entries[i].digest[:], entries[i].sig[:]) {
						b.Fatal("verify")
					}
				}
			}
		})
		b.Run(fmt.Sprintf("batch/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !batchRaw(entries) {
					b.Fatal("verify")
				}
			}
		})
	}
}
