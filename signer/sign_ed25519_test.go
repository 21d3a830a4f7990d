package signer_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	mrand "math/rand/v2"
	"testing"

	"github.com/a1-go/a1/signer"
)

// TestSignEd25519MatchesStdlib checks that the curve25519-voi signing path
// gives byte-identical signatures to crypto/ed25519 (Ed25519 is
// deterministic), on the RFC 8032 test 1 and test 2 vectors and on many
// random keys and messages of varied lengths.
func TestSignEd25519MatchesStdlib(t *testing.T) {
	vectors := []struct{ seed, msg, sig string }{
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	}
	for i, v := range vectors {
		seed, _ := hex.DecodeString(v.seed)
		msg, _ := hex.DecodeString(v.msg)
		got := signer.SignEd25519(ed25519.NewKeyFromSeed(seed), msg)
		if hex.EncodeToString(got) != v.sig {
			t.Errorf("RFC 8032 vector %d: got %x, want %s", i+1, got, v.sig)
		}
	}
	rng := mrand.New(mrand.NewChaCha8([32]byte{'a', '1'}))
	seed := make([]byte, ed25519.SeedSize)
	for i := 0; i < 2000; i++ {
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		msg := make([]byte, rng.IntN(300))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		got, want := signer.SignEd25519(priv, msg), ed25519.Sign(priv, msg)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (seed %x, %d-byte message): voi %x != crypto/ed25519 %x", i, seed, len(msg), got, want)
		}
	}
}

func BenchmarkSignEd25519(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := make([]byte, 32)
	b.Run("voi", func(b *testing.B) {
		for b.Loop() {
			signer.SignEd25519(priv, msg)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
}
