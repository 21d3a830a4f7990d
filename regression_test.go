package a1_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

// Rust's str::to_lowercase skips every Case_Ignorable character when it
// applies the Final_Sigma rule. U+055F ARMENIAN ABBREVIATION MARK and U+2027
// HYPHENATION POINT are Case_Ignorable (Word_Break=MidLetter) but are neither
// Mn/Me/Cf/Lm/Sk, so they must be listed explicitly. Expected values are
// those of a full Unicode lower-casing with Final_Sigma (CPython's
// str.lower, which follows the same rule as Rust).
func TestRustLowercaseMidLetter(t *testing.T) {
	for in, want := range map[string]string{
		"ΑΣ\u2027Β": "ασ\u2027β", // a cased letter follows the ignorable
		"ΑΣ\u2027":  "ας\u2027",
		"Α\u2027Σ":  "α\u2027ς", // a cased letter precedes the ignorable
		"ΑΣ\u055fΒ": "ασ\u055fβ",
		"ΑΣ\u055f":  "ας\u055f",
	} {
		if got := a1.NormalizeParam(in); got != want {
			t.Errorf("NormalizeParam(%+q) = %+q, want %+q", in, got, want)
		}
	}
}

// A decoded cert's extensions are bounded by MaxExtensionBytes and
// MaxExtensionFields (docs/spec.md §5); the empty key, which the reference
// decodes, must not be a way around the bounds.
func TestDecodeEmptyExtensionKeyBounded(t *testing.T) {
	f := newFixture(t, nil)
	good := string(mustJSON(f.c0))
	for name, fields := range map[string]string{
		"empty key over the byte bound": `{"":"` + strings.Repeat("a", a1.MaxExtensionBytes+1) + `"}`,
		"empty key as field 65":         `{` + manyFields(a1.MaxExtensionFields) + `,"":"x"}`,
	} {
		b := strings.Replace(good, `"extensions":{"fields":{}}`, `"extensions":{"fields":`+fields+`}`, 1)
		if b == good {
			t.Fatal("fixture has unexpected extensions")
		}
		var c a1.Cert
		if err := c.UnmarshalJSON([]byte(b)); !errors.Is(err, a1.ErrMalformed) {
			t.Errorf("%s: want MALFORMED_REQUEST, got %v", name, err)
		}
	}
	// The empty key itself stays decodable, as in the reference.
	b := strings.Replace(good, `"extensions":{"fields":{}}`, `"extensions":{"fields":{"":"x"}}`, 1)
	var c a1.Cert
	if err := c.UnmarshalJSON([]byte(b)); err != nil {
		t.Fatalf("empty extension key: %v", err)
	}
}

func manyFields(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	return b.String()
}

// The PoP request nonce is kept for twice the drift; a huge drift must
// saturate, not wrap to a zero retention that makes the proof replayable.
func TestPoPNonceRetentionSaturates(t *testing.T) {
	f := newFixture(t, nil)
	const aud = "gw"
	v := f.verifier(a1.WithAudience(aud), a1.WithDrift(1<<63))
	intent := hashes(t, "trade.equity")[0]
	p, err := a1.SignPoP(f.tool, aud, f.chain.Fingerprint(), intent, t0+100)
	if err != nil {
		t.Fatal(err)
	}
	r := f.req(t, "trade.equity")
	r.PoP = p
	res, err := v.Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Nonces[0].ExpiresAt; !got.Equal(store.MaxExpiry) {
		t.Fatalf("PoP nonce kept until %v, want the cap %v", got, store.MaxExpiry)
	}
}

// TestGuardChecksPassportRoot: a chain in the reference's passport shape
// ([sub, …], the root cert left out) is still bound by the passport's root:
// Guard refuses it once the root is revoked, expired or not yet valid, and
// reports it without a hop (the root is not one of the chain's hops). With
// the root in the chain it is hop 0, checked like any cert.
func TestGuardChecksPassportRoot(t *testing.T) {
	holder, _ := newKey(60)
	_, agent := newKey(61)
	issue := func(t *testing.T) (*a1.Passport, *a1.Cert) {
		p, err := a1.IssuePassport(holder, "acme", []string{"trade.equity", "portfolio.read"}, t0, 3600)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := p.IssueSub(holder, agent, []string{"trade.equity"}, t0, 600)
		if err != nil {
			t.Fatal(err)
		}
		return p, sub
	}
	v := a1.NewVerifier(a1.TrustAnyRoot{}, a1.WithClock(fixed(t0+100)))
	guard := func(p *a1.Passport, sc *a1.SignedChain, st *memState) error {
		_, err := p.Guard(context.Background(), v, &a1.Request{Chain: sc, Executor: agent,
			Intent: hashes(t, "trade.equity")[0], Action: "trade.equity"}, "", st)
		return err
	}
	wantNoHop := func(t *testing.T, err error, kind *a1.Kind) {
		t.Helper()
		var e *a1.Error
		if !errors.As(err, &e) || e.Kind != kind || e.HasHop {
			t.Fatalf("got %v, want %s without a hop", err, kind.Code())
		}
	}

	p, sub := issue(t)
	if err := guard(p, p.Chain(sub), newMemState()); err != nil {
		t.Fatalf("valid passport: %v", err)
	}

	st := newMemState()
	st.revoked[p.Cert.Fingerprint()] = true
	wantNoHop(t, guard(p, p.Chain(sub), st), a1.ErrRevoked)
	if len(st.nonces) != 0 {
		t.Errorf("a denied guard consumed %d nonces", len(st.nonces))
	}

	st = newMemState()
	st.revoked[sub.Fingerprint()] = true
	var e *a1.Error
	if err := guard(p, p.Chain(sub), st); !errors.As(err, &e) || e.Kind != a1.ErrRevoked || !e.HasHop || e.Hop != 0 {
		t.Errorf("revoked sub-cert: %v, want CERT_REVOKED at hop 0", err)
	}

	// The root in the chain: hop 0, as any cert.
	st = newMemState()
	st.revoked[p.Cert.Fingerprint()] = true
	withRoot := a1.NewChain(p.Holder(), p.Cert.ScopeRoot, p.Cert, sub)
	if err := guard(p, withRoot, st); !errors.As(err, &e) || e.Kind != a1.ErrRevoked || !e.HasHop || e.Hop != 0 {
		t.Errorf("revoked root in the chain: %v, want CERT_REVOKED at hop 0", err)
	}

	// The root's validity window, with the verifier's clock and drift (the
	// sub-cert alone is still valid at t0+100).
	p, sub = issue(t)
	p.Cert.ExpirationUnix = t0 + 100 - a1.DefaultDriftSecs - 1
	wantNoHop(t, guard(p, p.Chain(sub), newMemState()), a1.ErrExpired)
	p.Cert.ExpirationUnix = t0 + 100 - a1.DefaultDriftSecs
	if err := guard(p, p.Chain(sub), newMemState()); err != nil {
		t.Errorf("root expiring within the drift: %v", err)
	}
	p, sub = issue(t)
	p.Cert.IssuedAt = t0 + 100 + a1.DefaultDriftSecs + 1
	wantNoHop(t, guard(p, p.Chain(sub), newMemState()), a1.ErrNotYetValid)
}

// TestBatchProofBindsEveryIntent: a batch's proof of possession signs
// BatchIntentHash of all its intents, in order (ADR 0015): it verifies only
// with exactly those intents, and never as a single request's proof (the
// batch hash lives in its own domain, also for a batch of one).
func TestBatchProofBindsEveryIntent(t *testing.T) {
	f := newFixture(t, nil)
	const aud = "gateway-1"
	v := f.verifier(a1.WithAudience(aud))
	hs := hashes(t, "trade.equity", "portfolio.read")
	batch := a1.BatchIntentHash(hs)
	p, err := a1.SignPoP(f.tool, aud, f.chain.Fingerprint(), batch, t0+100)
	if err != nil {
		t.Fatal(err)
	}
	req := func(bind a1.IntentHash) *a1.Request {
		r := f.req(t, "trade.equity")
		r.PoP, r.PoPIntent = p, bind
		return r
	}
	if _, err := v.Verify(req(batch)); err != nil {
		t.Fatalf("the batch's own intents: %v", err)
	}
	for name, bind := range map[string]a1.IntentHash{
		"as a single request's proof": {},
		"intents in another order":    a1.BatchIntentHash([]a1.IntentHash{hs[1], hs[0]}),
		"fewer intents":               a1.BatchIntentHash(hs[:1]),
		"one more intent":             a1.BatchIntentHash(append(hs[:2:2], hs[0])),
	} {
		if _, err := v.Verify(req(bind)); !errors.Is(err, a1.ErrInvalidProof) {
			t.Errorf("%s: %v, want INVALID_PROOF", name, err)
		}
	}
	if a1.BatchIntentHash(hs[:1]) == hs[0] {
		t.Error("a batch of one hashes to its intent's hash: a single request's proof would verify for it")
	}
}

// TestNonceAllKeepsPassportRoot: in NonceAll (the reference's consume-every
// nonce mode) a [root, sub] passport chain consumed the passport root's
// nonce, so only the first sub-cert chain of a passport ever authorized
// (the reference's passport chains leave the root out and never consume
// it). The root above other certs is kept reusable; every other cert's
// nonce is still consumed.
func TestNonceAllKeepsPassportRoot(t *testing.T) {
	holder, holderPK := newKey(62)
	_, agentPK := newKey(63)
	p, err := a1.IssuePassport(holder, "acme", []string{"trade.equity", "portfolio.read"}, t0, 3600)
	if err != nil {
		t.Fatal(err)
	}
	v := a1.NewVerifier(a1.NewRootSet(holderPK), a1.WithClock(fixed(t0+100)), a1.WithNonceMode(a1.NonceAll))
	intent := hashes(t, "trade.equity")[0]
	for i := range 2 { // two sub-certs of one passport, [root, sub] each
		sub, err := p.IssueSub(holder, agentPK, []string{"trade.equity"}, t0, 600)
		if err != nil {
			t.Fatal(err)
		}
		sc := a1.NewChain(holderPK, p.Cert.ScopeRoot, p.Cert, sub)
		res, err := v.Verify(&a1.Request{Chain: sc, Executor: agentPK, Intent: intent, Action: "trade.equity"})
		if err != nil {
			t.Fatalf("sub chain %d: %v", i, err)
		}
		if len(res.Nonces) != 1 || res.Nonces[0].Key != a1.NonceKey(sub.DelegatorPK, sub.Nonce) {
			t.Fatalf("sub chain %d: %d nonces consumed, want the sub-cert's alone", i, len(res.Nonces))
		}
	}
	// A chain of ordinary certs still consumes every nonce in NonceAll.
	f := newFixture(t, nil)
	res, err := f.verifier(a1.WithNonceMode(a1.NonceAll)).Verify(f.req(t, "trade.equity"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nonces) != len(f.chain.Certs) {
		t.Fatalf("ordinary chain in NonceAll: %d nonces, want %d", len(res.Nonces), len(f.chain.Certs))
	}
}
