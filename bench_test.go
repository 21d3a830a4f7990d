package a1_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/a1-go/a1"
)

// Baselines first: one crypto/ed25519.Verify, and two (what a naive 2-hop
// verify costs). Report chain verifies as ratios to the single baseline.
func BenchmarkEd25519VerifyBaseline(b *testing.B) {
	k, pk := newKey(1)
	msg := make([]byte, 32)
	sig := ed25519.Sign(k, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(ed25519.PublicKey(pk[:]), msg, sig) {
			b.Fatal("verify")
		}
	}
}

func BenchmarkEd25519VerifyBaselineTwice(b *testing.B) {
	k, pk := newKey(1)
	msg := make([]byte, 32)
	sig := ed25519.Sign(k, msg)
	b.ReportAllocs()
	for b.Loop() {
		ok1 := ed25519.Verify(ed25519.PublicKey(pk[:]), msg, sig)
		ok2 := ed25519.Verify(ed25519.PublicKey(pk[:]), msg, sig)
		if !ok1 || !ok2 {
			b.Fatal("verify")
		}
	}
}

func benchVerify(b *testing.B, f *fixture, v *a1.Verifier, req *a1.Request) {
	b.Helper()
	if _, err := v.Verify(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyChain2Hop: both signatures verified every time (no
// signature cache); the validated-key cache is on, as in the gateway, where
// principal and orchestrator keys recur.
func BenchmarkVerifyChain2Hop(b *testing.B) {
	f := newFixture(b, nil)
	v := f.verifier(a1.WithSigCache(nil))
	benchVerify(b, f, v, f.req(b, "trade.equity"))
}

// BenchmarkVerifyChain2HopCold: no cache at all: every key is decoded,
// checked for small order and expanded, every signature verified.
func BenchmarkVerifyChain2HopCold(b *testing.B) {
	f := newFixture(b, nil)
	v := f.verifier(a1.WithSigCache(nil), a1.WithKeyCache(nil))
	benchVerify(b, f, v, f.req(b, "trade.equity"))
}

// BenchmarkVerifyChain2HopCachedRoot: the root cert (a reused passport or
// orchestrator delegation) is in the signature cache; the leaf is new each
// time.
func BenchmarkVerifyChain2HopCachedRoot(b *testing.B) {
	f := newFixture(b, nil)
	cache := a1.NewSigCache(16)
	v := f.verifier(a1.WithSigCache(cache))
	// Warm the cache with the root only: verify a chain of just c0.
	one := a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0)
	if _, err := v.Verify(&a1.Request{Chain: one, Executor: f.orchPK, Intent: hashes(b, "trade.equity")[0],
		Proof: mustProof(b, "trade.equity")}); err != nil {
		b.Fatal(err)
	}
	// Fresh leaves so the leaf signature is never cached.
	const n = 256
	reqs := make([]*a1.Request, n)
	tree, _ := a1.NewIntentTree(hashes(b, "trade.equity", "trade.fx", "portfolio.read"))
	for i := range reqs {
		c1, _ := a1.NewSubCert(f.toolPK, tree, hashes(b, "trade.equity", "trade.fx"), t0+10, 3600+uint64(i))
		if err := c1.Sign(f.orch); err != nil {
			b.Fatal(err)
		}
		reqs[i] = &a1.Request{Chain: a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, c1), Executor: f.toolPK,
			Intent: hashes(b, "trade.equity")[0]}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(reqs[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
		if i%n == 0 {
			b.StopTimer()
			// Evict the leaves again (cache of 16 keeps the root hot only
			// if re-added): re-warm the root.
			_, _ = v.Verify(&a1.Request{Chain: one, Executor: f.orchPK, Intent: hashes(b, "trade.equity")[0], Proof: mustProof(b, "trade.equity")})
			b.StartTimer()
		}
	}
}

func mustProof(b testing.TB, action string) *a1.MerkleProof {
	tree, _ := a1.NewIntentTree(hashes(b, "trade.equity", "trade.fx", "portfolio.read"))
	p, err := tree.Prove(hashes(b, action)[0])
	if err != nil {
		b.Fatal(err)
	}
	return &p
}

// BenchmarkVerifyChain4Hop: four certs, no cache.
func BenchmarkVerifyChain4Hop(b *testing.B) {
	keys := make([]ed25519.PrivateKey, 5)
	pks := make([]a1.PublicKey, 5)
	for i := range keys {
		keys[i], pks[i] = newKey(byte(10 + i))
	}
	scope := hashes(b, "trade.equity")
	var certs []*a1.Cert
	for i := 0; i < 4; i++ {
		c, _ := a1.NewCert(pks[i+1], scope, t0, 86400-uint64(i))
		if err := c.Sign(keys[i]); err != nil {
			b.Fatal(err)
		}
		certs = append(certs, c)
	}
	sc := a1.NewChain(pks[0], scope[0], certs...)
	v := a1.NewVerifier(a1.NewRootSet(pks[0]), a1.WithClock(fixed(t0+100)), a1.WithSigCache(nil))
	// Four uncached signatures take the batch path.
	benchVerify(b, nil, v, &a1.Request{Chain: sc, Executor: pks[4], Intent: scope[0]})
}

// BenchmarkDecodeChain2Hop: the bounded strict decoder on the reference form.
func BenchmarkDecodeChain2Hop(b *testing.B) {
	f := newFixture(b, nil)
	raw, _ := f.chain.MarshalJSON()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a1.DecodeSignedChain(raw); err != nil {
			b.Fatal(err)
		}
	}
}
