package a1_test

// Rejecting tests for the checks that a mutation review (each check
// removed in turn, the suite run) found unguarded. Every row fails if the
// check it names is deleted or weakened.

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
)

type hopSpec struct {
	maxDepth uint8
	mask     *a1.Mask
}

// passChain signs a pass-through chain over {trade.equity}: principal (seed
// 20) → seed 21 → seed 22 …, one cert per hop. It returns the chain and the
// terminal delegate.
func passChain(t *testing.T, hops []hopSpec) (*a1.SignedChain, a1.PublicKey) {
	t.Helper()
	scope := hashes(t, "trade.equity")[0]
	keys := make([]ed25519.PrivateKey, len(hops)+1)
	pks := make([]a1.PublicKey, len(hops)+1)
	for i := range keys {
		keys[i], pks[i] = newKey(byte(20 + i))
	}
	var certs []*a1.Cert
	for i, h := range hops {
		c := &a1.Cert{Version: 1, DelegatePK: pks[i+1], ScopeRoot: scope, Nonce: [16]byte{byte(i + 1)},
			IssuedAt: t0, ExpirationUnix: t0 + 3600, MaxDepth: h.maxDepth}
		if h.mask != nil {
			if err := c.Extensions.Set(a1.ExtPassportMask, a1.StrValue(h.mask.Hex())); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Sign(keys[i]); err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return a1.NewChain(pks[0], scope, certs...), pks[len(hops)]
}

func passReq(t *testing.T, hops []hopSpec) (*a1.Verifier, *a1.Request) {
	sc, exec := passChain(t, hops)
	v := a1.NewVerifier(a1.NewRootSet(sc.PrincipalPK), a1.WithClock(fixed(t0+100)))
	return v, &a1.Request{Chain: sc, Executor: exec, Intent: hashes(t, "trade.equity")[0], Action: "trade.equity"}
}

func TestVerifyRejectsMutation(t *testing.T) {
	maskA := a1.MaskOf("trade.equity")
	maskAB := a1.MaskOf("trade.equity", "trade.fx")
	empty := a1.EmptyMask
	// fixtureReq builds the standard 2-hop fixture with mutate applied and
	// both certs re-signed, so that only the mutated property is wrong.
	fixtureReq := func(t *testing.T, mutate func(c0, c1 *a1.Cert)) (*fixture, *a1.Request) {
		f := newFixture(t, mutate)
		signRaw(t, f.c0, f.human)
		signRaw(t, f.c1, f.orch)
		return f, f.req(t, "trade.equity")
	}
	rows := []struct {
		name  string
		build func(t *testing.T) (*a1.Verifier, *a1.Request)
		kind  *a1.Kind
		hop   int // -1: no hop
	}{
		{"chain longer than 255 is rejected before any per-hop check", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			_, principal := newKey(20)
			certs := make([]*a1.Cert, a1.MaxChainCerts+1)
			for i := range certs {
				certs[i] = &a1.Cert{Version: 1} // hop 1 would be a broken linkage
			}
			certs[0].DelegatorPK = principal
			v := a1.NewVerifier(a1.NewRootSet(principal), a1.WithClock(fixed(t0)))
			return v, &a1.Request{Chain: a1.NewChain(principal, [32]byte{}, certs...)}
		}, a1.ErrDepthExceeded, a1.MaxChainCerts},
		{"max_depth caps are cumulative ([2,5,5])", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			return passReq(t, []hopSpec{{maxDepth: 2}, {maxDepth: 5}, {maxDepth: 5}})
		}, a1.ErrDepthExceeded, 2},
		{"empty mask under an unmasked parent", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			return passReq(t, []hopSpec{{maxDepth: 16}, {maxDepth: 16, mask: &empty}})
		}, a1.ErrNarrowingViolation, 1},
		{"a narrowed mask binds the later hops", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			return passReq(t, []hopSpec{{16, &maskAB}, {16, &maskA}, {16, &maskAB}})
		}, a1.ErrNarrowingViolation, 2},
		{"sub-scope proof with more proofs than intents", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			f, r := fixtureReq(t, func(c0, c1 *a1.Cert) {
				c1.ScopeProof.Proofs = append(c1.ScopeProof.Proofs, c1.ScopeProof.Proofs[0])
			})
			return f.verifier(), r
		}, a1.ErrScopeEscalation, 1},
		{"invalid sub-scope proof with an all-zero scope root", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			f, r := fixtureReq(t, func(c0, c1 *a1.Cert) {
				c1.ScopeRoot = [32]byte{}
				c1.ScopeProof.Proofs = c1.ScopeProof.Proofs[:1]
			})
			return f.verifier(), r
		}, a1.ErrScopeEscalation, 1},
		{"PoP under a small-order executor key", func(t *testing.T) (*a1.Verifier, *a1.Request) {
			weak := a1.PublicKey{1}
			f, r := fixtureReq(t, func(c0, c1 *a1.Cert) { c1.DelegatePK = weak })
			r.Executor = weak
			r.PoP = &a1.PoP{Audience: "gw", IssuedAt: t0 + 100}
			return f.verifier(a1.WithAudience("gw")), r
		}, a1.ErrInvalidProof, -1},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			v, r := row.build(t)
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

// The clock window uses saturating arithmetic: a clock earlier than the
// drift, or a drift that would overflow, must not wrap around.
func TestVerifyTimeWindowSaturates(t *testing.T) {
	h, hpk := newKey(30)
	_, apk := newKey(31)
	scope := hashes(t, "trade.equity")[0]
	for name, c := range map[string]struct {
		now, drift, issued, exp uint64
	}{
		"clock before the drift":      {now: 5, drift: 15, issued: 1, exp: 1000},
		"drift overflowing the clock": {now: 1 << 62, drift: 3 << 62, issued: t0, exp: 1 << 63},
	} {
		cert := &a1.Cert{Version: 1, DelegatePK: apk, ScopeRoot: scope, Nonce: [16]byte{1}, IssuedAt: c.issued,
			ExpirationUnix: c.exp, MaxDepth: 1}
		if err := cert.Sign(h); err != nil {
			t.Fatal(err)
		}
		v := a1.NewVerifier(a1.NewRootSet(hpk), a1.WithClock(func() time.Time { return time.Unix(int64(c.now), 0) }),
			a1.WithDrift(c.drift))
		if _, err := v.Verify(&a1.Request{Chain: a1.NewChain(hpk, scope, cert), Executor: apk, Intent: scope}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A consumed cert nonce is kept until the cert's expiry plus the drift
// (DESIGN.md §3.6), not merely until its expiry, plus one second: the cert
// is accepted during the whole second expiration_unix + drift
// (TestSemanticsCertNonceOutlivesAcceptance).
func TestCertNonceKeptUntilExpiryPlusTwoDrifts(t *testing.T) {
	f := newFixture(t, nil)
	res, err := f.verifier(a1.WithDrift(20)).Verify(f.req(t, "trade.equity"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(int64(f.c1.ExpirationUnix+20+1+20), 0); !res.Nonces[0].ExpiresAt.Equal(want) {
		t.Fatalf("nonce kept until %v, want %v", res.Nonces[0].ExpiresAt, want)
	}
}

func TestSignedRevocationRejects(t *testing.T) {
	f := newFixture(t, nil)
	_, strangerPK := newKey(9)
	const aud = "gw"
	tampered := *f.c0
	tampered.Signature[5] ^= 1
	rows := []struct {
		name   string
		chain  *a1.SignedChain
		index  int
		reason string
		at     uint64
		roots  a1.TrustAnchors
		kind   *a1.Kind
	}{
		{"index past the chain", f.chain, 2, "", t0, nil, a1.ErrMalformed},
		{"reason too long", f.chain, 1, strings.Repeat("r", a1.MaxRevocationReasonLen+1), t0, nil, a1.ErrMalformed},
		{"issued in the future", f.chain, 1, "", t0 + a1.RevocationMaxSkewSecs + 1, nil, a1.ErrProofExpired},
		{"root mismatch", a1.NewChain(strangerPK, f.chain.PrincipalScope, f.c0, f.c1), 1, "", t0,
			a1.NewRootSet(f.humanPK, strangerPK), a1.ErrRootMismatch},
		{"untrusted root", f.chain, 1, "", t0, a1.NewRootSet(strangerPK), a1.ErrUntrustedRoot},
		{"broken linkage", a1.NewChain(f.humanPK, f.chain.PrincipalScope, f.c0, f.c0), 1, "", t0, nil, a1.ErrBrokenLinkage},
		{"ancestor signature invalid", a1.NewChain(f.humanPK, f.chain.PrincipalScope, &tampered, f.c1), 1, "", t0, nil,
			a1.ErrInvalidSignature},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			roots := row.roots
			if roots == nil {
				roots = a1.NewRootSet(f.humanPK)
			}
			r := &a1.SignedRevocation{Chain: row.chain, Index: row.index, Reason: row.reason, IssuedAt: row.at}
			// Sign by hand: SignedRevocation.Sign refuses an out-of-range index.
			r.Revoker = f.humanPK
			var fp [32]byte
			if row.index < len(row.chain.Certs) {
				fp = row.chain.Certs[row.index].Fingerprint()
			}
			d := a1.RevocationDigest(aud, fp, row.at, row.reason)
			copy(r.Signature[:], ed25519.Sign(f.human, d[:]))
			if _, err := a1.VerifyRevocation(r, roots, aud, t0); !errors.Is(err, row.kind) {
				t.Fatalf("want %s, got %v", row.kind.Code(), err)
			}
		})
	}
}

func TestProveAbsentIntent(t *testing.T) {
	tree, err := a1.NewIntentTree(hashes(t, "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hashes(t, "d", "zzz", "0") {
		if _, err := tree.Prove(h); !errors.Is(err, a1.ErrIntentNotFound) {
			t.Errorf("Prove(absent) = %v, want INTENT_NOT_FOUND", err)
		}
		if tree.Contains(h) {
			t.Error("Contains(absent) = true")
		}
	}
	if _, err := a1.BuildSubScopeProof(tree, hashes(t, "a", "d")); !errors.Is(err, a1.ErrIntentNotFound) {
		t.Errorf("BuildSubScopeProof with an absent intent: %v", err)
	}
}

// lyingSigner signs with another key than the one it reports.
type lyingSigner struct{ pub, priv ed25519.PrivateKey }

func (s lyingSigner) Public() crypto.PublicKey { return s.pub.Public() }
func (s lyingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.priv.Sign(r, d, o)
}

func TestCertSignRejects(t *testing.T) {
	k, _ := newKey(40)
	other, _ := newKey(41)
	c := &a1.Cert{DelegatePK: a1.PublicKey{9}, IssuedAt: t0, ExpirationUnix: t0}
	if err := c.Sign(k); !errors.Is(err, a1.ErrMalformed) {
		t.Errorf("issued_at == expiration: %v", err)
	}
	c.ExpirationUnix = t0 + 1
	if err := c.Sign(lyingSigner{pub: k, priv: other}); err == nil {
		t.Error("a signer whose signature does not verify was accepted")
	}
}

func TestPassportChecksReject(t *testing.T) {
	holder, _ := newKey(50)
	_, otherPK := newKey(51)
	caps := []string{"trade.equity", "portfolio.read"}
	fresh := func(t *testing.T) *a1.Passport {
		p, err := a1.IssuePassport(holder, "acme", caps, t0, 3600)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, c := range map[string]struct {
		edit func(p *a1.Passport)
		kind *a1.Kind
	}{
		"not self-issued":        {func(p *a1.Passport) { p.Cert.DelegatePK = otherPK }, a1.ErrMalformed},
		"mask vs capabilities":   {func(p *a1.Passport) { p.Mask = a1.FullMask }, a1.ErrMalformed},
		"scope root":             {func(p *a1.Passport) { p.Cert.ScopeRoot = [32]byte{} }, a1.ErrMalformed},
		"signed mask":            {func(p *a1.Passport) { _ = p.Cert.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.FullMask.Hex())) }, a1.ErrMalformed},
		"namespace":              {func(p *a1.Passport) { p.Namespace = "other" }, a1.ErrMalformed},
		"root cert signature":    {func(p *a1.Passport) { p.Cert.Signature[0] ^= 1 }, a1.ErrInvalidSignature},
		"signed mask not a mask": {func(p *a1.Passport) { _ = p.Cert.Extensions.Set(a1.ExtPassportMask, a1.U64Value(1)) }, a1.ErrMalformed},
		"mask vs capabilities, re-signed": {func(p *a1.Passport) {
			p.Mask = a1.FullMask
			_ = p.Cert.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.FullMask.Hex()))
			if err := p.Cert.Sign(holder); err != nil {
				t.Fatal(err)
			}
		}, a1.ErrMalformed},
	} {
		p := fresh(t)
		c.edit(p)
		if err := p.Check(); !errors.Is(err, c.kind) {
			t.Errorf("%s: want %s, got %v", name, c.kind.Code(), err)
		}
	}

	// Sub-certs never outlive the passport.
	p := fresh(t)
	_, agent := newKey(52)
	sub, err := p.IssueSub(holder, agent, []string{"trade.equity"}, t0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if sub.ExpirationUnix != p.Cert.ExpirationUnix {
		t.Errorf("sub-cert expires at %d, after the passport (%d)", sub.ExpirationUnix, p.Cert.ExpirationUnix)
	}

	// Guard refuses a chain that is not anchored at this passport.
	other, err := a1.IssuePassport(holder, "other", []string{"trade.equity"}, t0, 3600)
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := other.IssueSub(holder, agent, []string{"trade.equity"}, t0, 600)
	if err != nil {
		t.Fatal(err)
	}
	v := a1.NewVerifier(a1.TrustAnyRoot{}, a1.WithClock(fixed(t0+10)))
	_, err = p.Guard(context.Background(), v, &a1.Request{Chain: other.Chain(sub2), Executor: agent,
		Intent: hashes(t, "trade.equity")[0], Action: "trade.equity"}, "", newMemState())
	if !errors.Is(err, a1.ErrRootMismatch) {
		t.Errorf("guard with another passport's chain: %v", err)
	}
}

func TestExtensionLimits(t *testing.T) {
	var e a1.Extensions
	if err := e.Set("", a1.StrValue("x")); !errors.Is(err, a1.ErrMalformed) {
		t.Errorf("empty key: %v", err)
	}
	if err := e.Set("big", a1.StrValue(strings.Repeat("x", a1.MaxExtensionBytes))); !errors.Is(err, a1.ErrMalformed) {
		t.Errorf("over the byte limit: %v", err)
	}
	if err := e.Set("list", a1.StringsValue(make([]string, a1.MaxExtensionListLen+1))); !errors.Is(err, a1.ErrMalformed) {
		t.Errorf("list too long: %v", err)
	}
	e = a1.Extensions{}
	for i := 0; i < a1.MaxExtensionFields; i++ {
		if err := e.Set("k"+strings.Repeat("x", i), a1.U64Value(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Set("one-more", a1.U64Value(1)); !errors.Is(err, a1.ErrMalformed) {
		t.Errorf("field %d: %v", a1.MaxExtensionFields+1, err)
	}
}

func TestIntentLimits(t *testing.T) {
	many := map[string]string{}
	for i := 0; i <= a1.MaxParams; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for name, params := range map[string]map[string]string{
		"too many params": many,
		"key too long":    {strings.Repeat("k", a1.MaxParamKeyLen+1): "v"},
		"value too long":  {"k": strings.Repeat("v", a1.MaxParamValueLen+1)},
	} {
		if _, err := a1.NewIntent("x", params); !errors.Is(err, a1.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The limits apply to the normalized form: trimmed spaces do not count.
	if _, err := a1.NewIntent("x", map[string]string{" " + strings.Repeat("k", a1.MaxParamKeyLen) + " ": "v"}); err != nil {
		t.Errorf("trimmed key at the limit: %v", err)
	}
}

// The chain decoder is strict (docs/spec.md §5): each row breaks one rule
// in an otherwise valid chain and must be refused as malformed.
func TestDecodeChainRejects(t *testing.T) {
	f := newFixture(t, nil)
	good := string(mustJSON(f.chain))
	if _, err := a1.DecodeSignedChain([]byte(good)); err != nil {
		t.Fatal(err)
	}
	nonce := string(mustJSON(f.c0))
	nonce = nonce[strings.Index(nonce, `"nonce":`):]
	nonce = nonce[:strings.Index(nonce, "]")+1] // `"nonce":[…16 ints…]`
	repl := func(old, new string) func() string {
		return func() string {
			if !strings.Contains(good, old) {
				t.Fatalf("fixture lacks %q", old)
			}
			return strings.Replace(good, old, new, 1)
		}
	}
	unknown := func(v string) func() string { return repl(`{"version":1,`, `{"x":`+v+`,"version":1,`) }
	ints := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]" }
	sibling := `{"hash":` + ints(32) + `,"is_left":true}`
	proof := func(n int) string {
		return `{"siblings":[` + strings.TrimSuffix(strings.Repeat(sibling+",", n), ",") + `]}`
	}
	certJSON := string(mustJSON(f.c0))
	rows := map[string]func() string{
		"duplicate field":         repl(`"max_depth":8`, `"max_depth":8,"max_depth":8`),
		"duplicate top-level":     repl(`{"version":1,`, `{"version":1,"version":1,`),
		"trailing characters":     func() string { return good + "x" },
		"second value":            func() string { return good + good },
		"leading zero":            repl(`"max_depth":8`, `"max_depth":08`),
		"fraction":                repl(`"max_depth":8`, `"max_depth":8.0`),
		"exponent":                repl(`"max_depth":8`, `"max_depth":8e0`),
		"negative":                repl(`"max_depth":8`, `"max_depth":-8`),
		"u8 out of range":         repl(`"max_depth":8`, `"max_depth":256`),
		"u64 out of range":        repl(`"issued_at":1700000000`, `"issued_at":18446744073709551616`),
		"byte out of range":       repl(nonce, `"nonce":[256`+ints(15)[1:]),
		"short byte array":        repl(nonce, `"nonce":`+ints(15)),
		"long byte array":         repl(nonce, `"nonce":`+ints(17)),
		"odd-length hex":          repl(nonce, `"nonce":"`+strings.Repeat("a", 31)+`"`),
		"non-hex":                 repl(nonce, `"nonce":"`+strings.Repeat("g", 32)+`"`),
		"missing cert field":      repl(nonce+",", ""),
		"missing principal_pk":    repl(`"principal_pk":`, `"principal_pk_":`),
		"case-sensitive names":    repl(`"principal_pk":`, `"Principal_PK":`),
		"extensions other key":    repl(`"extensions":{"fields":{}}`, `"extensions":{"field":{}}`),
		"extension bool":          repl(`"extensions":{"fields":{}}`, `"extensions":{"fields":{"k":true}}`),
		"extension negative":      repl(`"extensions":{"fields":{}}`, `"extensions":{"fields":{"k":-1}}`),
		"extension mixed list":    repl(`"extensions":{"fields":{}}`, `"extensions":{"fields":{"k":["a",1]}}`),
		"sibling without is_left": repl(`"is_left":false}`, `"is_left_":false}`),
		"too many siblings":       repl(`"proofs":[]`, `"proofs":[`+proof(a1.MaxProofSiblings+1)+`]`),
		"too many subset intents": repl(`"subset_intents":[]`, `"subset_intents":[`+strings.Repeat(ints(32)+",", a1.MaxSubsetIntents)+ints(32)+`]`),
		"too many certs": func() string {
			return strings.Replace(good, `"certs":[`, `"certs":[`+strings.Repeat(certJSON+",", a1.MaxDecodeCerts), 1)
		},
		"nesting too deep":        unknown(strings.Repeat("[", a1.MaxJSONDepth+1) + strings.Repeat("]", a1.MaxJSONDepth+1)),
		"objects nested too deep": unknown(strings.Repeat(`{"a":`, a1.MaxJSONDepth+1) + "1" + strings.Repeat("}", a1.MaxJSONDepth+1)),
		"control character":       unknown("\"a\x01b\""),
		"invalid UTF-8":           unknown("\"a\xffb\""),
		"lone surrogate":          unknown(`"\ud800"`),
		"bad literal":             unknown(`nul`),
		"chain too large":         unknown(`"` + strings.Repeat("a", a1.MaxChainJSONBytes) + `"`),
		"unterminated":            func() string { return good[:len(good)-1] },
		"object key not string":   repl(`{"version":1,`, `{version:1,`),
	}
	for name, mk := range rows {
		b := mk()
		if _, err := a1.DecodeSignedChain([]byte(b)); !errors.Is(err, a1.ErrMalformed) {
			t.Errorf("%s: want MALFORMED_REQUEST, got %v", name, err)
		}
	}
	// The lenient forms that are documented as accepted stay accepted, and
	// the bounds themselves are inclusive.
	for name, b := range map[string]string{
		"siblings at the bound":      strings.Replace(good, `"proofs":[]`, `"proofs":[`+proof(a1.MaxProofSiblings)+`]`, 1),
		"nesting at the bound":       strings.Replace(good, `{"version":1,`, `{"x":`+strings.Repeat(`{"a":`, a1.MaxJSONDepth-1)+"1"+strings.Repeat("}", a1.MaxJSONDepth-1)+`,"version":1,`, 1),
		"hex byte field, upper case": strings.Replace(good, nonce, `"nonce":"`+strings.Repeat("AB", 16)+`"`, 1),
		"unknown field":              strings.Replace(good, `{"version":1,`, `{"x":[1.5e3,{"y":null}],"version":1,`, 1),
		"empty extensions object":    strings.Replace(good, `"extensions":{"fields":{}}`, `"extensions":{}`, 1),
		"whitespace":                 strings.ReplaceAll(good, ",", " ,\n\t"),
	} {
		if _, err := a1.DecodeSignedChain([]byte(b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
