package a1_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store/memory"
)

// Authorization-semantics tests at the verifier level (the gateway's
// counterparts are in gateway/semantics_test.go).

type semKey struct {
	priv ed25519.PrivateKey
	pk   a1.PublicKey
}

func newSemKey(t *testing.T) semKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return semKey{priv: priv, pk: a1.PublicKey(priv.Public().(ed25519.PublicKey))}
}

func (k semKey) signer() crypto.Signer { return k.priv }

func semHash(t *testing.T, name string) a1.IntentHash {
	h, err := a1.HashIntent(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// semCert issues a cert from `from` to `to` over intents (a pass-through
// of the parent scope when parent is nil and the intents are the parent's).
func semCert(t *testing.T, from semKey, to a1.PublicKey, parent *a1.IntentTree, intents []a1.IntentHash, issued, ttl uint64, depth uint8) *a1.Cert {
	t.Helper()
	var c *a1.Cert
	var err error
	if parent == nil {
		c, err = a1.NewCert(to, intents, issued, ttl)
	} else {
		c, err = a1.NewSubCert(to, parent, intents, issued, ttl)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.MaxDepth = depth
	if err := c.Sign(from.signer()); err != nil {
		t.Fatal(err)
	}
	return c
}

// semClock is a settable clock shared by the verifier and the store.
type semClock struct{ ns atomic.Int64 }

func (c *semClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *semClock) now() time.Time  { return time.Unix(0, c.ns.Load()) }

// TestSemanticsCertNonceOutlivesAcceptance: a proof-less chain is
// single-use. The verifier accepts a cert until expiration_unix + drift
// (inclusive, at one-second resolution), so its consumed nonce must still
// count as consumed during that whole last second; it used to be kept
// only until expiration_unix + drift exactly, so in the last second of
// acceptance the chain could be replayed any number of times.
func TestSemanticsCertNonceOutlivesAcceptance(t *testing.T) {
	human, tool := newSemKey(t), newSemKey(t)
	in := semHash(t, "ping")
	const drift = 15
	base := uint64(time.Now().Unix())
	c := semCert(t, human, tool.pk, nil, []a1.IntentHash{in}, base-100, 100, 0)
	exp := c.ExpirationUnix
	chain := a1.NewChain(human.pk, c.ScopeRoot, c)

	for _, frac := range []time.Duration{0, 500 * time.Millisecond, 999 * time.Millisecond} {
		clk := &semClock{}
		clk.set(time.Unix(int64(exp+drift), 0).Add(frac))
		v := a1.NewVerifier(a1.NewRootSet(human.pk), a1.WithDrift(drift), a1.WithClock(clk.now))
		st := memory.New(memory.Options{Now: clk.now})
		req := &a1.Request{Chain: chain, Executor: tool.pk, Intent: in}
		if _, err := v.Authorize(context.Background(), req, "t", st); err != nil {
			t.Fatalf("+%v: first use in the last accepted second: %v", frac, err)
		}
		_, err := v.Authorize(context.Background(), req, "t", st)
		if !errors.Is(err, a1.ErrNonceReplay) {
			t.Errorf("+%v: second use of a single-use chain: err = %v, want NONCE_REPLAY", frac, err)
		}
		st.Close()
	}

	// The store compares expiries with its own clock: one running ahead of
	// the gateway's by up to the drift must not free the nonce early.
	for _, skew := range []time.Duration{time.Second, drift * time.Second} {
		clk, stClk := &semClock{}, &semClock{}
		at := time.Unix(int64(exp+drift), 0).Add(999 * time.Millisecond)
		clk.set(at)
		stClk.set(at.Add(skew))
		v := a1.NewVerifier(a1.NewRootSet(human.pk), a1.WithDrift(drift), a1.WithClock(clk.now))
		st := memory.New(memory.Options{Now: stClk.now})
		req := &a1.Request{Chain: chain, Executor: tool.pk, Intent: in}
		if _, err := v.Authorize(context.Background(), req, "t", st); err != nil {
			t.Fatalf("store clock +%v: first use: %v", skew, err)
		}
		if _, err := v.Authorize(context.Background(), req, "t", st); !errors.Is(err, a1.ErrNonceReplay) {
			t.Errorf("store clock +%v: second use: err = %v, want NONCE_REPLAY", skew, err)
		}
		st.Close()
	}
}

// TestSemanticsPoPNonceOutlivesAcceptance: a proof issued drift seconds
// in the future is accepted until issued_at + drift (inclusive); its
// request nonce must stay consumed that long. It used to be kept for
// now + 2·drift, which ends exactly at issued_at + drift: in that last
// second the same proof could be replayed.
func TestSemanticsPoPNonceOutlivesAcceptance(t *testing.T) {
	human, tool := newSemKey(t), newSemKey(t)
	in := semHash(t, "ping")
	const drift = 15
	const aud = "gw-sem"
	t0 := uint64(time.Now().Unix())
	c := semCert(t, human, tool.pk, nil, []a1.IntentHash{in}, t0-10, 3600, 0)
	chain := a1.NewChain(human.pk, c.ScopeRoot, c)
	pop, err := a1.SignPoP(tool.signer(), aud, chain.Fingerprint(), in, t0+drift)
	if err != nil {
		t.Fatal(err)
	}
	clk := &semClock{}
	clk.set(time.Unix(int64(t0), 0))
	v := a1.NewVerifier(a1.NewRootSet(human.pk), a1.WithDrift(drift), a1.WithClock(clk.now), a1.WithAudience(aud))
	st := memory.New(memory.Options{Now: clk.now})
	defer st.Close()
	req := &a1.Request{Chain: chain, Executor: tool.pk, Intent: in, PoP: pop}
	if _, err := v.Authorize(context.Background(), req, "t", st); err != nil {
		t.Fatalf("first use: %v", err)
	}
	for _, at := range []time.Duration{drift * time.Second, 2*drift*time.Second + 500*time.Millisecond} {
		clk.set(time.Unix(int64(t0), 0).Add(at))
		if _, err := v.Authorize(context.Background(), req, "t", st); !errors.Is(err, a1.ErrNonceReplay) {
			t.Errorf("replay of the proof at +%v (proof still in its window): err = %v, want NONCE_REPLAY", at, err)
		}
	}
	// Past the window the proof itself is refused.
	clk.set(time.Unix(int64(t0+2*drift+1), 0))
	if _, err := v.Authorize(context.Background(), req, "t", st); !errors.Is(err, a1.ErrProofExpired) {
		t.Errorf("after the window: err = %v, want PROOF_EXPIRED", err)
	}
}

// revCast is a delegation tree under one trusted human:
//
//	human ─C1→ orch (depth 8) ─C2→ tool (depth 0)
//	human ─C3→ peer (depth 8) ─C4→ other (depth 0)
type revCast struct {
	human, orch, tool, peer, other semKey
	intents                        []a1.IntentHash
	tree                           *a1.IntentTree
	c1, c2, c3, c4                 *a1.Cert
}

func newRevCast(t *testing.T) *revCast {
	r := &revCast{human: newSemKey(t), orch: newSemKey(t), tool: newSemKey(t), peer: newSemKey(t), other: newSemKey(t)}
	r.intents = []a1.IntentHash{semHash(t, "a"), semHash(t, "b")}
	var err error
	if r.tree, err = a1.NewIntentTree(r.intents); err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().Unix())
	r.c1 = semCert(t, r.human, r.orch.pk, nil, r.intents, now-10, 3600, 8)
	r.c2 = semCert(t, r.orch, r.tool.pk, r.tree, r.intents[:1], now-10, 600, 0)
	r.c3 = semCert(t, r.human, r.peer.pk, nil, r.intents, now-10, 3600, 8)
	r.c4 = semCert(t, r.peer, r.other.pk, r.tree, r.intents[:1], now-10, 600, 0)
	return r
}

func (r *revCast) chain(certs ...*a1.Cert) *a1.SignedChain {
	return a1.NewChain(r.human.pk, certs[0].ScopeRoot, certs...)
}

func revoke(t *testing.T, r *revCast, chain *a1.SignedChain, index int, by semKey) error {
	t.Helper()
	const aud = "gw-sem"
	now := uint64(time.Now().Unix())
	sr := &a1.SignedRevocation{Chain: chain, Index: index, Reason: "test", IssuedAt: now}
	if err := sr.Sign(by.signer(), aud); err != nil {
		t.Fatal(err)
	}
	_, err := a1.VerifyRevocation(sr, a1.NewRootSet(r.human.pk), aud, now)
	return err
}

// TestSemanticsSignedRevocationAuthority: the documented rule (docs/spec.md
// §2) lets an ancestor revoke what descends from it and nobody else; in
// particular the leaf holder may not revoke its own cert's ancestors. A
// revoker signs any cert it likes, so a chain can always be extended by a
// forged link "revoker → X" and then by any cert X ever signed; only the
// authorization checks (depth, scope narrowing, expiry nesting, no nonce
// twice) stop such a path from making the revoker an "ancestor" of
// anything. They used to be skipped (only linkage and signatures were
// checked).
func TestSemanticsSignedRevocationAuthority(t *testing.T) {
	r := newRevCast(t)
	now := uint64(time.Now().Unix())

	// Legitimate: the principal and the orchestrator revoke C2; the
	// orchestrator revokes a grandchild.
	if err := revoke(t, r, r.chain(r.c1, r.c2), 1, r.orch); err != nil {
		t.Errorf("orchestrator revokes its sub-cert: %v", err)
	}
	if err := revoke(t, r, r.chain(r.c1, r.c2), 1, r.human); err != nil {
		t.Errorf("principal revokes a grandchild: %v", err)
	}
	mid := semCert(t, r.orch, r.tool.pk, r.tree, r.intents, now-10, 600, 8)
	leaf := semCert(t, r.tool, r.other.pk, nil, r.intents, now-10, 300, 0)
	if err := revoke(t, r, r.chain(r.c1, mid, leaf), 2, r.orch); err != nil {
		t.Errorf("orchestrator revokes a grandchild: %v", err)
	}
	// An expired chain can still be revoked.
	old1 := semCert(t, r.human, r.orch.pk, nil, r.intents, now-7200, 3600, 8)
	old2 := semCert(t, r.orch, r.tool.pk, r.tree, r.intents[:1], now-7200, 600, 0)
	if err := revoke(t, r, r.chain(old1, old2), 1, r.orch); err != nil {
		t.Errorf("revoking an expired cert: %v", err)
	}
	// Naive attempts are refused.
	if err := revoke(t, r, r.chain(r.c1, r.c2), 1, r.tool); !errors.Is(err, a1.ErrRevocationDenied) {
		t.Errorf("holder revokes its own cert as 'delegator': %v", err)
	}
	if err := revoke(t, r, r.chain(r.c1, r.c2), 0, r.orch); !errors.Is(err, a1.ErrRevocationDenied) {
		t.Errorf("orchestrator revokes its parent: %v", err)
	}

	// Forged paths. The tool (max_depth 0) signs "tool → human" and
	// appends C1 again: it would revoke its own ancestor.
	cyc := semCert(t, r.tool, r.human.pk, nil, r.intents, now-10, 300, 8)
	if err := revoke(t, r, r.chain(r.c1, r.c2, cyc, r.c1), 3, r.tool); err == nil {
		t.Errorf("leaf revoked its own ancestor C1 through the forged link tool→human")
	}
	// The tool signs "tool → peer" and appends the peer's C4: a cert of
	// another branch.
	fake := semCert(t, r.tool, r.peer.pk, nil, r.intents, now-10, 300, 8)
	if err := revoke(t, r, r.chain(r.c1, r.c2, fake, r.c4), 3, r.tool); err == nil {
		t.Errorf("leaf revoked C4 of another branch through the forged link tool→peer")
	}
	// The orchestrator (depth 8) signs "orch → human" and appends its own
	// parent C1 (the same cert twice in one path).
	back := semCert(t, r.orch, r.human.pk, nil, r.intents, now-10, 600, 8)
	if err := revoke(t, r, r.chain(r.c1, back, r.c1), 2, r.orch); err == nil {
		t.Errorf("orchestrator revoked its own parent C1 through a cycle")
	}
	// The tool signs a link whose validity ends after its own cert's
	// (escaping its own expiry) to reach the peer's C3 (longer-lived).
	wide := semCert(t, r.tool, r.human.pk, nil, r.intents, now-10, 7200, 8)
	if err := revoke(t, r, r.chain(r.c1, r.c2, wide, r.c3), 3, r.tool); err == nil {
		t.Errorf("leaf revoked the peer's C3 through the forged link tool→human")
	}
}
