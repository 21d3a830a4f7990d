package a1_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

const t0 = 1_700_000_000

func newKey(seed byte) (ed25519.PrivateKey, a1.PublicKey) {
	s := make([]byte, 32)
	for i := range s {
		s[i] = seed
	}
	k := ed25519.NewKeyFromSeed(s)
	return k, a1.PublicKey(k.Public().(ed25519.PublicKey))
}

func hashes(t testing.TB, actions ...string) []a1.IntentHash {
	var out []a1.IntentHash
	for _, a := range actions {
		h, err := a1.HashIntent(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// fixture is a 2-hop chain: human → orchestrator over {trade.equity,
// trade.fx, portfolio.read}, orchestrator → tool narrowed to {trade.equity,
// trade.fx}.
type fixture struct {
	human, orch, tool ed25519.PrivateKey
	humanPK, orchPK   a1.PublicKey
	toolPK            a1.PublicKey
	c0, c1            *a1.Cert
	chain             *a1.SignedChain
}

func newFixture(t testing.TB, mutate func(c0, c1 *a1.Cert)) *fixture {
	t.Helper()
	f := &fixture{}
	f.human, f.humanPK = newKey(1)
	f.orch, f.orchPK = newKey(2)
	f.tool, f.toolPK = newKey(3)
	scope := hashes(t, "trade.equity", "trade.fx", "portfolio.read")
	tree, _ := a1.NewIntentTree(scope)
	var err error
	f.c0, err = a1.NewCert(f.orchPK, scope, t0, 86400)
	if err != nil {
		t.Fatal(err)
	}
	f.c0.MaxDepth = 8
	f.c1, err = a1.NewSubCert(f.toolPK, tree, hashes(t, "trade.equity", "trade.fx"), t0+10, 3600)
	if err != nil {
		t.Fatal(err)
	}
	f.c1.MaxDepth = 0
	if mutate != nil {
		mutate(f.c0, f.c1)
	}
	if err := f.c0.Sign(f.human); err != nil && mutate == nil {
		t.Fatal(err)
	}
	if err := f.c1.Sign(f.orch); err != nil && mutate == nil {
		t.Fatal(err)
	}
	f.chain = a1.NewChain(f.humanPK, tree.Root(), f.c0, f.c1)
	return f
}

func (f *fixture) verifier(opts ...a1.Option) *a1.Verifier {
	return a1.NewVerifier(a1.NewRootSet(f.humanPK), append([]a1.Option{a1.WithClock(fixed(t0 + 100))}, opts...)...)
}

func (f *fixture) req(t testing.TB, action string) *a1.Request {
	return &a1.Request{Chain: f.chain, Executor: f.toolPK, Intent: hashes(t, action)[0], Action: action}
}

func TestVerifyAllowsMultiIntentTerminalWithoutProof(t *testing.T) {
	f := newFixture(t, nil)
	for _, a := range []string{"trade.equity", "trade.fx"} {
		if _, err := f.verifier().Verify(f.req(t, a)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	if _, err := f.verifier().Verify(f.req(t, "portfolio.read")); !errors.Is(err, a1.ErrScopeViolation) {
		t.Errorf("portfolio.read was narrowed away: %v", err)
	}
}

// Every check of the verifier rejects (table): each row breaks exactly one
// property and names the error kind and hop.
func TestVerifyRejects(t *testing.T) {
	_, strangerPK := newKey(9)
	rows := []struct {
		name   string
		mutate func(c0, c1 *a1.Cert)
		edit   func(f *fixture, r *a1.Request, opts *[]a1.Option)
		kind   *a1.Kind
		hop    int // -1: no hop
	}{
		{"untrusted root", nil, func(f *fixture, r *a1.Request, o *[]a1.Option) {
			*o = append(*o, func(v *a1.Verifier) {}) // keep options
			r.Chain = a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, f.c1)
		}, nil, -1},
		{"empty chain", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) {
			r.Chain = a1.NewChain(f.humanPK, f.chain.PrincipalScope)
		}, a1.ErrEmptyChain, -1},
		{"root mismatch", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) {
			r.Chain = a1.NewChain(strangerPK, f.chain.PrincipalScope, f.c0, f.c1)
		}, a1.ErrRootMismatch, -1},
		{"broken linkage", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) {
			r.Chain = a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, f.c0)
		}, a1.ErrBrokenLinkage, 1},
		{"bad version", func(c0, c1 *a1.Cert) { c1.Version = 2 }, nil, a1.ErrUnsupportedVersion, 1},
		{"issued_at >= expiration", func(c0, c1 *a1.Cert) { c1.ExpirationUnix = c1.IssuedAt }, nil, a1.ErrInvalidValidity, 1},
		{"not yet valid", func(c0, c1 *a1.Cert) { c1.IssuedAt = t0 + 200; c1.ExpirationUnix = t0 + 3000 }, nil, a1.ErrNotYetValid, 1},
		{"expired", func(c0, c1 *a1.Cert) { c1.IssuedAt = t0; c1.ExpirationUnix = t0 + 50 }, nil, a1.ErrExpired, 1},
		{"outlives parent", func(c0, c1 *a1.Cert) { c1.ExpirationUnix = c0.ExpirationUnix + 1 }, nil, a1.ErrTemporalViolation, 1},
		{"depth", func(c0, c1 *a1.Cert) { c0.MaxDepth = 1 }, nil, a1.ErrDepthExceeded, 1},
		{"duplicate nonce", func(c0, c1 *a1.Cert) { c0.Nonce = [16]byte{1}; c1.Nonce = [16]byte{1} }, nil, a1.ErrNonceReplay, 1},
		{"scope escalation", func(c0, c1 *a1.Cert) { c1.ScopeRoot = hashes(t, "admin.delete")[0] }, nil, a1.ErrScopeEscalation, 1},
		{"mask without masked parent", func(c0, c1 *a1.Cert) { _ = c1.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.FullMask.Hex())) }, nil, a1.ErrNarrowingViolation, 1},
		{"mask wider than parent", func(c0, c1 *a1.Cert) {
			_ = c0.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.MaskOf("trade.equity").Hex()))
			_ = c1.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.MaskOf("trade.equity", "trade.fx").Hex()))
		}, nil, a1.ErrNarrowingViolation, 1},
		{"malformed mask", func(c0, c1 *a1.Cert) { _ = c0.Extensions.Set(a1.ExtPassportMask, a1.StrValue("zz")) }, nil, a1.ErrMalformed, 0},
		{"intent outside mask", func(c0, c1 *a1.Cert) {
			_ = c0.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.MaskOf("trade.equity").Hex()))
		}, func(f *fixture, r *a1.Request, _ *[]a1.Option) { *r = *f.req(t, "trade.fx") }, a1.ErrNarrowingViolation, -1},
		{"wrong executor", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) { r.Executor = f.orchPK }, a1.ErrUnauthorizedExecutor, -1},
		{"tampered after signing", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) {
			c := *f.c1
			c.ExpirationUnix--
			r.Chain = a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, &c)
		}, a1.ErrInvalidSignature, 1},
		{"scope violation", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) { *r = *f.req(t, "funds.withdraw") }, a1.ErrScopeViolation, -1},
		{"bogus proof", nil, func(f *fixture, r *a1.Request, _ *[]a1.Option) {
			r.Proof = &a1.MerkleProof{Siblings: []a1.ProofStep{{Hash: [32]byte{9}}}}
		}, a1.ErrScopeViolation, -1},
		{"pop required", nil, func(f *fixture, r *a1.Request, o *[]a1.Option) { *o = append(*o, a1.WithRequirePoP(true)) }, a1.ErrProofRequired, -1},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			f := newFixture(t, row.mutate)
			if row.mutate != nil {
				// Re-sign so only the mutated property is wrong.
				f.c0.Signature, f.c1.Signature = [64]byte{}, [64]byte{}
				signRaw(t, f.c0, f.human)
				signRaw(t, f.c1, f.orch)
			}
			r := f.req(t, "trade.equity")
			var opts []a1.Option
			if row.edit != nil {
				row.edit(f, r, &opts)
			}
			v := f.verifier(opts...)
			if row.kind == nil { // untrusted root: a verifier that trusts someone else
				v = a1.NewVerifier(a1.NewRootSet(strangerPK), a1.WithClock(fixed(t0+100)))
				row.kind = a1.ErrUntrustedRoot
			}
			_, err := v.Verify(r)
			if !errors.Is(err, row.kind) {
				t.Fatalf("want %s, got %v (%s)", row.kind.Code(), err, a1.ErrorCode(err))
			}
			hop, ok := a1.HopOf(err)
			if row.hop >= 0 && (!ok || hop != row.hop) {
				t.Fatalf("want hop %d, got %d/%v", row.hop, hop, ok)
			}
			if row.hop < 0 && ok {
				t.Fatalf("want no hop, got %d", hop)
			}
		})
	}
}

// signRaw signs without the builder's validity check, like a hostile issuer.
func signRaw(t testing.TB, c *a1.Cert, k ed25519.PrivateKey) {
	c.DelegatorPK = a1.PublicKey(k.Public().(ed25519.PublicKey))
	d := c.Digest()
	copy(c.Signature[:], ed25519.Sign(k, d[:]))
}

func TestWeakKeyRejected(t *testing.T) {
	f := newFixture(t, nil)
	// The identity point as a delegate key: a chain ending in it cannot be
	// verified (the small-order key would sign anything under cofactored rules).
	weak := a1.PublicKey{1}
	c := *f.c1
	c.DelegatePK = weak
	signRaw(t, &c, f.orch)
	c2 := &a1.Cert{Version: 1, DelegatorPK: weak, DelegatePK: f.toolPK, ScopeRoot: c.ScopeRoot, Nonce: [16]byte{7},
		IssuedAt: t0, ExpirationUnix: t0 + 100}
	chain := a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, &c, c2)
	c.MaxDepth = 5
	f.c0.MaxDepth = 8
	signRaw(t, &c, f.orch)
	_, err := f.verifier().Verify(&a1.Request{Chain: chain, Executor: f.toolPK, Intent: hashes(t, "trade.equity")[0]})
	if !errors.Is(err, a1.ErrWeakKey) {
		t.Fatalf("want WEAK_PUBLIC_KEY, got %v", err)
	}
	if hop, _ := a1.HopOf(err); hop != 2 {
		t.Fatalf("want hop 2, got %d", hop)
	}
}

func TestProofOfPossession(t *testing.T) {
	f := newFixture(t, nil)
	const aud = "gateway-1"
	v := f.verifier(a1.WithAudience(aud))
	intent := hashes(t, "trade.equity")[0]
	fp := f.chain.Fingerprint()
	st := newMemState()
	mk := func(signer ed25519.PrivateKey, audience string, at uint64) *a1.Request {
		p, err := a1.SignPoP(signer, audience, fp, intent, at)
		if err != nil {
			t.Fatal(err)
		}
		r := f.req(t, "trade.equity")
		r.PoP = p
		return r
	}
	// With a valid proof the chain is reusable: two requests, two nonces.
	for i := 0; i < 2; i++ {
		res, err := v.Authorize(context.Background(), mk(f.tool, aud, t0+100), "", st)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if len(res.Nonces) != 1 || res.Nonces[0].ExpiresAt != time.Unix(t0+100+45+1, 0) {
			t.Fatalf("PoP consumes only its request nonce, kept for three drifts plus one second (acceptance window, strict expiry, store clock ahead): %+v", res.Nonces)
		}
	}
	// Replaying one proof is denied.
	r := mk(f.tool, aud, t0+100)
	if _, err := v.Authorize(context.Background(), r, "", st); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authorize(context.Background(), r, "", st); !errors.Is(err, a1.ErrNonceReplay) {
		t.Fatalf("replayed proof: %v", err)
	}
	for name, c := range map[string]struct {
		req  *a1.Request
		kind *a1.Kind
	}{
		"wrong signer":   {mk(f.orch, aud, t0+100), a1.ErrInvalidProof},
		"wrong audience": {mk(f.tool, "other-gateway", t0+100), a1.ErrInvalidProof},
		"stale":          {mk(f.tool, aud, t0+100-16), a1.ErrProofExpired},
		"future":         {mk(f.tool, aud, t0+100+16), a1.ErrProofExpired},
	} {
		if _, err := v.Verify(c.req); !errors.Is(err, c.kind) {
			t.Errorf("%s: want %s, got %v", name, c.kind.Code(), err)
		}
	}
	// A proof for another intent does not carry over.
	r = mk(f.tool, aud, t0+100)
	r.Intent, r.Action = hashes(t, "trade.fx")[0], "trade.fx"
	if _, err := v.Verify(r); !errors.Is(err, a1.ErrInvalidProof) {
		t.Errorf("proof bound to another intent: %v", err)
	}
}

func TestSignedRevocation(t *testing.T) {
	f := newFixture(t, nil)
	roots := a1.NewRootSet(f.humanPK)
	const aud = "gw"
	for name, c := range map[string]struct {
		signer ed25519.PrivateKey
		index  int
		ok     bool
	}{
		"principal revokes leaf":   {f.human, 1, true},
		"delegator revokes leaf":   {f.orch, 1, true},
		"principal revokes root":   {f.human, 0, true},
		"leaf holder cannot":       {f.tool, 1, false},
		"orchestrator not on root": {f.orch, 0, false},
	} {
		r := &a1.SignedRevocation{Chain: f.chain, Index: c.index, Reason: "compromised", IssuedAt: t0}
		if err := r.Sign(c.signer, aud); err != nil {
			t.Fatal(err)
		}
		fp, err := a1.VerifyRevocation(r, roots, aud, t0+10)
		if c.ok && (err != nil || fp != f.chain.Certs[c.index].Fingerprint()) {
			t.Errorf("%s: %v", name, err)
		}
		if !c.ok && !errors.Is(err, a1.ErrRevocationDenied) {
			t.Errorf("%s: want REVOCATION_UNAUTHORIZED, got %v", name, err)
		}
	}
	r := &a1.SignedRevocation{Chain: f.chain, Index: 1, Reason: "x", IssuedAt: t0}
	_ = r.Sign(f.human, aud)
	if _, err := a1.VerifyRevocation(r, roots, aud, t0+301); !errors.Is(err, a1.ErrProofExpired) {
		t.Errorf("stale revocation: %v", err)
	}
	if _, err := a1.VerifyRevocation(r, roots, "other", t0); !errors.Is(err, a1.ErrInvalidProof) {
		t.Errorf("wrong audience: %v", err)
	}
	r.Reason = "edited"
	if _, err := a1.VerifyRevocation(r, roots, aud, t0); !errors.Is(err, a1.ErrInvalidProof) {
		t.Errorf("edited reason: %v", err)
	}
}

func TestStorageFailureFailsClosed(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.verifier().Authorize(context.Background(), f.req(t, "trade.equity"), "", failingStore{})
	if !errors.Is(err, a1.ErrStorage) || a1.HTTPStatus(err) != 503 {
		t.Fatalf("want STORAGE_UNAVAILABLE/503, got %v", err)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatal("the store's error must stay reachable")
	}
}

type failingStore struct{}

func (failingStore) Authorize(context.Context, store.AuthorizeRequest) error {
	return store.Unavailable("authorize", errors.New("connection refused"))
}

func TestRevokedHop(t *testing.T) {
	f := newFixture(t, nil)
	st := newMemState()
	st.revoked[f.c1.Fingerprint()] = true
	_, err := f.verifier().Authorize(context.Background(), f.req(t, "trade.equity"), "", st)
	if hop, ok := a1.HopOf(err); !errors.Is(err, a1.ErrRevoked) || !ok || hop != 1 {
		t.Fatalf("want CERT_REVOKED at hop 1, got %v", err)
	}
}

// TestVerifierConcurrent exercises the shared caches and hasher pools under
// the race detector: many goroutines, same and different chains.
func TestVerifierConcurrent(t *testing.T) {
	f := newFixture(t, nil)
	v := f.verifier(a1.WithSigCache(a1.NewSigCache(2)), a1.WithKeyCache(a1.NewKeyCache(2)))
	tree, _ := a1.NewIntentTree(hashes(t, "trade.equity", "trade.fx", "portfolio.read"))
	done := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func(g int) {
			for i := 0; i < 20; i++ {
				c1, _ := a1.NewSubCert(f.toolPK, tree, hashes(t, "trade.equity"), t0+10, 3600+uint64(g*100+i))
				if err := c1.Sign(f.orch); err != nil {
					done <- err
					return
				}
				req := &a1.Request{Chain: a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, c1), Executor: f.toolPK,
					Intent: hashes(t, "trade.equity")[0]}
				if _, err := v.Verify(req); err != nil {
					done <- err
					return
				}
				bad := *c1
				bad.Signature[0] ^= 1
				req.Chain = a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, &bad)
				if _, err := v.Verify(req); !errors.Is(err, a1.ErrInvalidSignature) {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 16; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// A cert that "never expires" keeps its nonce for good: the expiry handed
// to storage is capped, never overflowed into the past.
func TestFarFutureNonceExpiry(t *testing.T) {
	f := newFixture(t, func(c0, c1 *a1.Cert) {
		c0.ExpirationUnix = ^uint64(0)
		c1.ExpirationUnix = ^uint64(0) - 1
	})
	res, err := f.verifier().Verify(f.req(t, "trade.equity"))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Nonces[0].ExpiresAt; !got.Equal(store.MaxExpiry) {
		t.Fatalf("nonce expiry %v, want the cap %v", got, store.MaxExpiry)
	}
}
