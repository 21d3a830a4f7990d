package a1_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/a1-go/a1"
)

// A chain of never-seen certs is rejected at its first bad signature,
// before any later hop's key is looked at: an unauthenticated client cannot
// make the verifier expand 32 keys and check 32 signatures (the weak key at
// a later hop would be reported if it were).
func TestGarbageChainStopsAtFirstBadSignature(t *testing.T) {
	_, human := newKey(1)
	scope := [32]byte{9}
	var certs []*a1.Cert
	from := human
	for i := 0; i < a1.MaxDecodeCerts; i++ {
		var to a1.PublicKey
		switch i {
		case 4:
			to = a1.PublicKey{1} // small order: hop 5's delegator
		default:
			_, to = newKey(byte(10 + i))
		}
		c := &a1.Cert{Version: a1.CertVersion, DelegatorPK: from, DelegatePK: to, ScopeRoot: scope,
			IssuedAt: t0, ExpirationUnix: t0 + 1000, MaxDepth: 64}
		rand.Read(c.Nonce[:])
		rand.Read(c.Signature[:])
		certs = append(certs, c)
		from = to
	}
	v := a1.NewVerifier(a1.NewRootSet(human), a1.WithClock(fixed(t0+100)))
	_, err := v.Verify(&a1.Request{Chain: a1.NewChain(human, scope, certs...), Executor: from, Intent: a1.IntentHash(scope)})
	if !errors.Is(err, a1.ErrInvalidSignature) {
		t.Fatalf("want INVALID_SIGNATURE, got %v", err)
	}
	if hop, _ := a1.HopOf(err); hop != 0 {
		t.Fatalf("want hop 0, got %d", hop)
	}
}

// With a valid (cached) prefix, the first bad signature after it is the
// answer, and a good chain still verifies with the rest batched.
func TestSignatureOrderAfterCachedPrefix(t *testing.T) {
	f := newFixture(t, nil)
	v := f.verifier()
	if _, err := v.Verify(f.req(t, "trade.equity")); err != nil {
		t.Fatal(err)
	}
	bad := *f.c1
	bad.Signature[0] ^= 1
	chain := a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, &bad)
	_, err := v.Verify(&a1.Request{Chain: chain, Executor: f.toolPK, Intent: hashes(t, "trade.equity")[0]})
	if hop, _ := a1.HopOf(err); !errors.Is(err, a1.ErrInvalidSignature) || hop != 1 {
		t.Fatalf("want INVALID_SIGNATURE at hop 1, got %v", err)
	}
}

// The other intents of a batch reuse the chain checks of the first; what
// depends on the intent is still checked, and a request that is not on
// the first's chain, executor and namespace is verified in full.
func TestBatchItemReusesChainChecks(t *testing.T) {
	f := newFixture(t, nil)
	v := f.verifier()
	first, err := v.Verify(f.req(t, "trade.equity"))
	if err != nil {
		t.Fatal(err)
	}
	item, err := v.VerifyBatchItem(first, f.req(t, "trade.fx"))
	if err != nil {
		t.Fatal(err)
	}
	if item.Receipt.Intent != hashes(t, "trade.fx")[0] || item.ChainFingerprint != first.ChainFingerprint ||
		item.Receipt.VerifiedScopeRoot != first.Receipt.VerifiedScopeRoot || len(item.Nonces) != 1 || item.Nonces[0] != first.Nonces[0] {
		t.Fatalf("item result %+v\nfirst %+v", item, first)
	}
	if _, err := v.VerifyBatchItem(first, f.req(t, "portfolio.read")); !errors.Is(err, a1.ErrScopeViolation) {
		t.Fatalf("narrowed-away intent: %v", err)
	}
	other := f.req(t, "trade.fx")
	other.Executor = f.orchPK
	if _, err := v.VerifyBatchItem(first, other); !errors.Is(err, a1.ErrUnauthorizedExecutor) {
		t.Fatalf("other executor: %v", err)
	}
	copyChain := *f.chain // same content, another pointer: verified in full
	same := f.req(t, "trade.fx")
	same.Chain = &copyChain
	if _, err := v.VerifyBatchItem(first, same); err != nil {
		t.Fatalf("equal chain: %v", err)
	}
	g := newFixture(t, nil) // another chain (fresh nonces)
	diff := g.req(t, "trade.fx")
	if _, err := v.VerifyBatchItem(first, diff); !errors.Is(err, a1.ErrMalformed) {
		t.Fatalf("another chain: %v", err)
	}
	// A result of another verifier is not reused.
	w := f.verifier(a1.WithRequirePoP(true))
	if _, err := w.VerifyBatchItem(first, f.req(t, "trade.fx")); !errors.Is(err, a1.ErrProofRequired) {
		t.Fatalf("other verifier: %v", err)
	}
}
