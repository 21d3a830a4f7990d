package a1_test

import (
	"context"
	"errors"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
)

// TestBoundSubCertFollowsRootRevocation: a sub-cert issued with
// IssueBoundSub carries its passport root's fingerprint, signed, and every
// verification adds it to the revocation check: revoking the passport stops
// the sub-cert in a [sub] chain (the root left out: the reference's shape, or
// a [root, sub] chain whose holder dropped hop 0), reported without a hop,
// and in a [root, sub] chain at hop 0. A sub-cert from IssueSub (the
// reference's, without the extension) is untouched, and a malformed
// extension is refused.
func TestBoundSubCertFollowsRootRevocation(t *testing.T) {
	holder, holderPK := newKey(64)
	_, agentPK := newKey(65)
	p, err := a1.IssuePassport(holder, "acme", []string{"trade.equity", "portfolio.read"}, t0, 3600)
	if err != nil {
		t.Fatal(err)
	}
	bound, err := p.IssueBoundSub(holder, agentPK, []string{"trade.equity"}, t0, 600)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := p.IssueSub(holder, agentPK, []string{"trade.equity"}, t0, 600)
	if err != nil {
		t.Fatal(err)
	}
	v := a1.NewVerifier(a1.NewRootSet(holderPK), a1.WithClock(fixed(t0+100)))
	intent := hashes(t, "trade.equity")[0]
	authorize := func(sc *a1.SignedChain, st *memState) (*a1.Result, error) {
		return v.Authorize(context.Background(), &a1.Request{Chain: sc, Executor: agentPK, Intent: intent, Action: "trade.equity"}, "", st)
	}
	rootFP := p.Cert.Fingerprint()
	withRoot := func(sub *a1.Cert) *a1.SignedChain { return a1.NewChain(holderPK, p.Cert.ScopeRoot, p.Cert, sub) }

	// Not revoked: both shapes authorize; the root is checked once.
	res, err := authorize(p.Chain(bound), newMemState())
	if err != nil || len(res.Fingerprints) != 2 || res.Fingerprints[1] != rootFP || res.Depth != 1 {
		t.Fatalf("[bound sub]: %v, fingerprints %d (want the hop and the root)", err, len(res.Fingerprints))
	}
	res, err = authorize(withRoot(bound), newMemState())
	if err != nil || len(res.Fingerprints) != 2 {
		t.Fatalf("[root, bound sub]: %v, fingerprints %d (want the two hops, no duplicate)", err, len(res.Fingerprints))
	}

	revoked := func() *memState { st := newMemState(); st.revoked[rootFP] = true; return st }
	var e *a1.Error
	st := revoked()
	if _, err := authorize(p.Chain(bound), st); !errors.As(err, &e) || e.Kind != a1.ErrRevoked || e.HasHop {
		t.Fatalf("[bound sub] with the root revoked: %v, want CERT_REVOKED without a hop", err)
	}
	if len(st.nonces) != 0 {
		t.Fatalf("a denied authorization consumed %d nonces", len(st.nonces))
	}
	if _, err := authorize(withRoot(bound), revoked()); !errors.As(err, &e) || e.Kind != a1.ErrRevoked || !e.HasHop || e.Hop != 0 {
		t.Fatalf("[root, bound sub] with the root revoked: %v, want CERT_REVOKED at hop 0", err)
	}
	st = newMemState()
	st.revoked[bound.Fingerprint()] = true
	if _, err := authorize(p.Chain(bound), st); !errors.As(err, &e) || e.Kind != a1.ErrRevoked || !e.HasHop || e.Hop != 0 {
		t.Fatalf("[bound sub] revoked itself: %v, want CERT_REVOKED at hop 0", err)
	}
	// Guard over a bound sub-cert: the root once, revoked without a hop.
	if _, err := p.Guard(context.Background(), v, &a1.Request{Chain: p.Chain(bound), Executor: agentPK, Intent: intent, Action: "trade.equity"}, "", revoked()); !errors.Is(err, a1.ErrRevoked) {
		t.Fatalf("Guard of a bound sub-cert, root revoked: %v", err)
	}

	// The reference's sub-cert does not carry the root: a [sub] chain of
	// it is not stopped by the root's revocation (ADR 0014).
	if _, err := authorize(p.Chain(plain), revoked()); err != nil {
		t.Fatalf("[plain sub] with the root revoked: %v (only bound sub-certs follow the root)", err)
	}

	// A malformed binding is refused.
	bad, err := p.IssueSub(holder, agentPK, []string{"trade.equity"}, t0, 600)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Extensions.Set(a1.ExtPassportRoot, a1.StrValue("not-a-fingerprint")); err != nil {
		t.Fatal(err)
	}
	if err := bad.Sign(holder); err != nil {
		t.Fatal(err)
	}
	if _, err := authorize(p.Chain(bad), newMemState()); !errors.As(err, &e) || e.Kind != a1.ErrMalformed || !e.HasHop || e.Hop != 0 {
		t.Fatalf("malformed %s: %v, want MALFORMED_REQUEST at hop 0", a1.ExtPassportRoot, err)
	}
}

// TestBoundRootOutsideChainIdentity: the bound root joins the revocation
// check only. The chain fingerprint (what a client signs its proof of
// possession over, and what receipts carry) stays the hops', a batch's
// other intents share the first's fingerprints (root included) and one
// storage step refuses the whole batch once the root is revoked, and in
// NonceAll a [root, bound sub] chain consumes the sub-cert's nonce alone.
func TestBoundRootOutsideChainIdentity(t *testing.T) {
	holder, holderPK := newKey(66)
	_, agentPK := newKey(67)
	p, err := a1.IssuePassport(holder, "acme", []string{"trade.equity", "portfolio.read"}, t0, 3600)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := p.IssueBoundSub(holder, agentPK, []string{"trade.equity", "portfolio.read"}, t0, 600)
	if err != nil {
		t.Fatal(err)
	}
	rootFP := p.Cert.Fingerprint()
	sc := p.Chain(sub)
	v := a1.NewVerifier(a1.NewRootSet(holderPK), a1.WithClock(fixed(t0+100)))
	hs := hashes(t, "trade.equity", "portfolio.read")
	first, err := v.Verify(&a1.Request{Chain: sc, Executor: agentPK, Intent: hs[0], Action: "trade.equity"})
	if err != nil {
		t.Fatal(err)
	}
	if first.ChainFingerprint != sc.Fingerprint() || first.Receipt.ChainFingerprint != sc.Fingerprint() {
		t.Fatal("the bound root changed the chain fingerprint: a client's proof of possession would not verify")
	}
	if first.Depth != 1 || len(first.Fingerprints) != 2 || first.Fingerprints[1] != rootFP || first.Receipt.ChainDepth != 1 {
		t.Fatalf("depth %d, fingerprints %d: want depth 1, the hop then the root", first.Depth, len(first.Fingerprints))
	}
	item, err := v.VerifyBatchItem(first, &a1.Request{Chain: sc, Executor: agentPK, Intent: hs[1], Action: "portfolio.read"})
	if err != nil {
		t.Fatal(err)
	}
	if len(item.Fingerprints) != 2 || item.Fingerprints[1] != rootFP || item.Depth != 1 {
		t.Fatalf("batch item: depth %d, fingerprints %d", item.Depth, len(item.Fingerprints))
	}
	st := newMemState()
	st.revoked[rootFP] = true
	var e *a1.Error
	if err := a1.Consume(context.Background(), st, "", first); !errors.As(err, &e) || e.Kind != a1.ErrRevoked || e.HasHop {
		t.Fatalf("batch with the root revoked: %v, want CERT_REVOKED without a hop", err)
	}

	all := a1.NewVerifier(a1.NewRootSet(holderPK), a1.WithClock(fixed(t0+100)), a1.WithNonceMode(a1.NonceAll))
	res, err := all.Verify(&a1.Request{Chain: a1.NewChain(holderPK, p.Cert.ScopeRoot, p.Cert, sub), Executor: agentPK, Intent: hs[0], Action: "trade.equity"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nonces) != 1 || res.Nonces[0].Key != a1.NonceKey(sub.DelegatorPK, sub.Nonce) || len(res.Fingerprints) != 2 {
		t.Fatalf("NonceAll [root, bound sub]: %d nonces, %d fingerprints; want the sub-cert's nonce, the two hops", len(res.Nonces), len(res.Fingerprints))
	}
	// A passport root as the terminal cert is consumed like any other:
	// only one above other certs is kept.
	tree, err := p.Tree()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := tree.Prove(hs[0])
	if err != nil {
		t.Fatal(err)
	}
	res, err = all.Verify(&a1.Request{Chain: a1.NewChain(holderPK, p.Cert.ScopeRoot, p.Cert), Executor: holderPK, Intent: hs[0], Action: "trade.equity", Proof: &proof})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nonces) != 1 || res.Nonces[0].Key != a1.NonceKey(p.Cert.DelegatorPK, p.Cert.Nonce) {
		t.Fatalf("NonceAll [root]: %d nonces, want the root's", len(res.Nonces))
	}
}

// TestConsumeInvalidRequestIsMalformed: a storage step the store refuses as
// invalid (more fingerprints than one step takes, a bad tenant) is the
// caller's mistake, MALFORMED_REQUEST, not STORAGE_UNAVAILABLE (an outage
// that a gateway would count and answer with 503).
func TestConsumeInvalidRequestIsMalformed(t *testing.T) {
	res := &a1.Result{Depth: 1, Fingerprints: make([][32]byte, store.MaxAuthorizeFingerprints+1)}
	err := a1.Consume(context.Background(), memory.New(memory.Options{SweepInterval: -1}), "", res)
	if !errors.Is(err, a1.ErrMalformed) || errors.Is(err, a1.ErrStorage) {
		t.Fatalf("too many fingerprints: %v, want MALFORMED_REQUEST", err)
	}
	err = a1.Consume(context.Background(), memory.New(memory.Options{SweepInterval: -1}), "bad\ntenant", &a1.Result{Depth: 1, Fingerprints: make([][32]byte, 1)})
	if !errors.Is(err, a1.ErrMalformed) {
		t.Fatalf("bad tenant: %v, want MALFORMED_REQUEST", err)
	}
}
