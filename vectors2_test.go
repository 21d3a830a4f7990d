package a1_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

func keyOf(t testing.TB, v obj, name string) ed25519.PrivateKey {
	t.Helper()
	for _, k := range arr(v, "keys") {
		if s(k, "name") == name {
			seed, _ := hex.DecodeString(s(k, "seed_hex"))
			priv := ed25519.NewKeyFromSeed(seed)
			if hex.EncodeToString(priv.Public().(ed25519.PublicKey)) != s(k, "public_key_hex") {
				t.Fatalf("key %s: public key mismatch", name)
			}
			return priv
		}
	}
	t.Fatalf("no key %s", name)
	return nil
}

// checkCertVector decodes cert_json and reproduces every listed value; it
// also re-signs with the named key and expects the identical signature.
func checkCertVector(t *testing.T, cv any, signer ed25519.PrivateKey) *a1.Cert {
	t.Helper()
	var c a1.Cert
	if err := json.Unmarshal(raw(t, o(cv, "cert_json")), &c); err != nil {
		t.Fatal(err)
	}
	label, _ := cv.(obj)["label"].(string)
	pc := c.ScopeProof.Commitment()
	eqHex(t, label+" scope_proof_commitment", pc[:], s(cv, "scope_proof_commitment_hex"))
	ec := c.Extensions.Commitment()
	eqHex(t, label+" extensions_commitment", ec[:], s(cv, "extensions_commitment_hex"))
	d := c.Digest()
	eqHex(t, label+" digest", d[:], s(cv, "signature_preimage_hex"))
	eqHex(t, label+" signature", c.Signature[:], s(cv, "signature_hex"))
	fp := c.Fingerprint()
	eqHex(t, label+" fingerprint", fp[:], s(cv, "fingerprint_hex"))
	eqHex(t, label+" scope_root", c.ScopeRoot[:], s(cv, "scope_root_hex"))
	eqHex(t, label+" nonce", c.Nonce[:], s(cv, "nonce_hex"))
	if c.IssuedAt != u64(cv, "issued_at") || c.ExpirationUnix != u64(cv, "expiration_unix") || uint64(c.MaxDepth) != u64(cv, "max_depth") {
		t.Errorf("%s: times/depth differ", label)
	}
	if err := c.VerifySignature(); err != nil {
		t.Errorf("%s: signature does not verify: %v", label, err)
	}
	if signer != nil {
		re := c
		re.Signature = [64]byte{}
		if err := re.Sign(signer); err != nil {
			t.Fatal(err)
		}
		if re.Signature != c.Signature {
			t.Errorf("%s: re-signing gives a different signature", label)
		}
	}
	return &c
}

func TestVectorChain2Hop(t *testing.T) {
	v := loadVectors(t)
	ch := o(v, "chain_2hop")
	signers := []ed25519.PrivateKey{keyOf(t, v, "root"), keyOf(t, v, "agent_a")}
	for i, cv := range arr(ch, "certs") {
		checkCertVector(t, cv, signers[i])
	}
	wire := s(ch, "signed_chain_json")
	sc, err := a1.DecodeSignedChain([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(sc)
	if string(out) != wire {
		t.Fatalf("re-encoded chain differs:\n got %s\nwant %s", out, wire)
	}
	// The pretty form decodes to the same chain.
	sc2, err := a1.DecodeSignedChain([]byte(s(ch, "signed_chain_pretty")))
	if err != nil {
		t.Fatal(err)
	}
	if out2, _ := json.Marshal(sc2); !bytes.Equal(out2, out) {
		t.Fatal("pretty chain decodes differently")
	}
	// And so does the hex form of the same chain.
	hexForm := toHexForm(t, sc)
	sc3, err := a1.DecodeSignedChain(hexForm)
	if err != nil {
		t.Fatalf("hex form: %v\n%s", err, hexForm)
	}
	if out3, _ := json.Marshal(sc3); !bytes.Equal(out3, out) {
		t.Fatal("hex-form chain decodes differently")
	}
	fp := sc.Fingerprint()
	eqHex(t, "chain fingerprint", fp[:], s(ch, "chain_fingerprint_hex"))

	for _, az := range arr(ch, "authorizations") {
		var proof a1.MerkleProof
		if err := json.Unmarshal(raw(t, o(az, "proof")), &proof); err != nil {
			t.Fatal(err)
		}
		intent, _ := a1.HashIntent(s(az, "intent_action"), nil)
		eqHex(t, "intent", intent[:], s(az, "intent_hex"))
		ver := a1.NewVerifier(a1.NewRootSet(sc.PrincipalPK), a1.WithDrift(u64(az, "drift_tolerance_secs")),
			a1.WithClock(fixed(u64(az, "now_unix"))))
		res, err := ver.Authorize(context.Background(), &a1.Request{Chain: sc, Executor: a1.PublicKey(h32(t, s(az, "agent_pk_hex"))),
			Intent: intent, Proof: &proof}, "", newMemState())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(res.Receipt)
		if want := raw(t, o(az, "receipt")); !jsonEqual(got, want) {
			t.Errorf("receipt %s, want %s", got, want)
		}
	}

	tok := o(ch, "verified_token")
	var token a1.VerifiedToken
	if err := json.Unmarshal([]byte(s(tok, "token_json")), &token); err != nil {
		t.Fatal(err)
	}
	eqHex(t, "canonical bytes", token.Receipt.CanonicalBytes(), s(tok, "canonical_receipt_bytes_hex"))
	key := h32(t, s(tok, "mac_key_hex"))
	m := token.Receipt.MAC(key)
	eqHex(t, "mac", m[:], s(tok, "mac_hex"))
	if err := token.Verify(key); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(token); string(out) != s(tok, "token_json") {
		t.Errorf("token JSON %s, want %s", out, s(tok, "token_json"))
	}
	for _, neg := range arr(tok, "negative") {
		want := o(neg, "error")
		var err error
		switch s(neg, "name") {
		case "wrong_key":
			err = token.Verify(h32(t, s(neg, "key_hex")))
		default:
			if tk, ok := neg.(obj)["token"]; ok {
				var bad a1.VerifiedToken
				if err = json.Unmarshal(raw(t, tk), &bad); err == nil {
					err = bad.Verify(key)
				}
			} else {
				js := fmt.Sprintf(`{"receipt":%s,"mac":%q}`, raw(t, o(tok, "receipt")), s(neg, "mac"))
				var bad a1.VerifiedToken
				err = json.Unmarshal([]byte(js), &bad)
			}
		}
		if err == nil || !strings.Contains(err.Error(), s(want, "display")) || a1.ReferenceCode(err) != s(want, "error_code") {
			t.Errorf("%s: got %v (%s), want %q (%s)", s(neg, "name"), err, a1.ReferenceCode(err), s(want, "display"), s(want, "error_code"))
		}
	}
}

func TestVectorNamespacedChain(t *testing.T) {
	v := loadVectors(t)
	nc := o(v, "namespaced_chain")
	scope := a1.NamespaceScope(s(nc, "namespace"), h32(t, s(nc, "original_scope_hex")))
	eqHex(t, "namespaced scope", scope[:], s(nc, "namespaced_scope_hex"))
	c := checkCertVector(t, o(nc, "cert"), keyOf(t, v, "root"))
	sc, err := a1.DecodeSignedChain([]byte(s(nc, "signed_chain_json")))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(sc); string(out) != s(nc, "signed_chain_json") {
		t.Error("namespaced chain re-encoding differs")
	}
	fp := sc.FingerprintNS(s(nc, "namespace"))
	eqHex(t, "chain fp", fp[:], s(nc, "chain_fingerprint_hex"))
	fp0 := sc.Fingerprint()
	eqHex(t, "chain fp without ns", fp0[:], s(nc, "chain_fingerprint_without_namespace_same_certs_hex"))
	ver := a1.NewVerifier(a1.NewRootSet(sc.PrincipalPK), a1.WithClock(fixed(u64(nc, "authorize_now_unix"))))
	res, err := ver.Authorize(context.Background(), &a1.Request{Chain: sc, Namespace: s(nc, "namespace"),
		Executor: c.DelegatePK, Intent: a1.IntentHash(h32(t, s(nc, "authorize_intent_hex")))}, "", newMemState())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(res.Receipt), raw(t, o(nc, "receipt")); !jsonEqual(got, want) {
		t.Errorf("receipt %s, want %s", got, want)
	}
	eqHex(t, "token canonical bytes", res.Receipt.CanonicalBytes(), s(nc, "token_canonical_receipt_bytes_hex"))
	m := res.Receipt.MAC(h32(t, s(nc, "token_mac_key_hex")))
	eqHex(t, "token mac", m[:], s(nc, "token_mac_hex"))
}

func TestVectorNarrowing(t *testing.T) {
	v := loadVectors(t)
	n := o(v, "narrowing")
	for _, one := range arr(n, "single") {
		m := a1.MaskOf(s(one, "capability"))
		eqHex(t, "mask "+s(one, "capability"), m[:], s(one, "mask_hex"))
		b, bit := a1.CapabilityBit(s(one, "capability"))
		if uint64(b) != u64(one, "byte_index") || uint64(bit) != u64(one, "bit_index") {
			t.Errorf("%s: bit (%d,%d)", s(one, "capability"), b, bit)
		}
		c := m.Commitment()
		eqHex(t, "commitment", c[:], s(one, "commitment_hex"))
	}
	for _, set := range arr(n, "sets") {
		var caps []string
		for _, c := range arr(set, "capabilities") {
			caps = append(caps, c.(string))
		}
		m := a1.MaskOf(caps...)
		eqHex(t, "set mask", m[:], s(set, "mask_hex"))
		c := m.Commitment()
		eqHex(t, "set commitment", c[:], s(set, "commitment_hex"))
		if uint64(m.Count()) != u64(set, "capacity_count") {
			t.Errorf("count %d", m.Count())
		}
		if fmt.Sprint(m.Bits()) != fmt.Sprint(arr(set, "bit_positions")) && len(m.Bits()) > 0 {
			t.Errorf("bits %v want %v", m.Bits(), arr(set, "bit_positions"))
		}
	}
	for _, rel := range arr(n, "subset_relations") {
		child, _ := a1.ParseMaskHex(s(rel, "child_mask_hex"))
		parent, _ := a1.ParseMaskHex(s(rel, "parent_mask_hex"))
		want := o(rel, "is_subset").(bool)
		if child.SubsetOf(parent) != want {
			t.Errorf("subset %s ⊆ %s = %v", child.Hex(), parent.Hex(), !want)
		}
		err := a1.EnforceNarrowing(child, parent)
		if (err == nil) != want {
			t.Errorf("enforce: %v", err)
		}
		if e, ok := rel.(obj)["enforce_error"]; ok && (err == nil || err.Error() != s(e, "display") || a1.ErrorCode(err) != s(e, "error_code")) {
			t.Errorf("enforce error %v", err)
		}
	}
	csv := o(n, "from_csv")
	m := a1.MaskFromCSV(s(csv, "csv"))
	eqHex(t, "csv mask", m[:], s(csv, "mask_hex"))
	in := o(n, "intersect")
	a, _ := a1.ParseMaskHex(s(in, "a_hex"))
	b, _ := a1.ParseMaskHex(s(in, "b_hex"))
	x := a.Intersect(b)
	eqHex(t, "intersect", x[:], s(in, "result_hex"))
	k := o(n, "constants")
	for _, c := range []struct {
		m    a1.Mask
		name string
	}{{a1.EmptyMask, "EMPTY"}, {a1.FullMask, "FULL"}} {
		eqHex(t, c.name, c.m[:], s(k, c.name+"_mask_hex"))
		cm := c.m.Commitment()
		eqHex(t, c.name+" commitment", cm[:], s(k, c.name+"_commitment_hex"))
	}
	reg := o(n, "capability_registry")
	var r a1.CapabilityRegistry
	for _, name := range arr(reg, "registered_in_order") {
		if _, err := r.Register(name.(string)); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, name := range arr(reg, "mask_for") {
		names = append(names, name.(string))
	}
	rm, err := r.BuildMask(names...)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "registry mask", rm[:], s(reg, "mask_hex"))
	rc := rm.Commitment()
	eqHex(t, "registry commitment", rc[:], s(reg, "commitment_hex"))
}

func TestVectorPassport(t *testing.T) {
	v := loadVectors(t)
	p := o(v, "passport")
	holder := keyOf(t, v, "passport_holder")
	root := checkCertVector(t, o(p, "root_cert"), holder)
	sub := checkCertVector(t, o(p, "sub_cert_trade_equity"), holder)

	file := s(p, "passport_file_json")
	pp, err := a1.ParsePassportFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if err := pp.Check(); err != nil {
		t.Fatalf("passport check: %v", err)
	}
	out, err := pp.MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != file {
		t.Fatalf("passport file differs:\n got %.400s\nwant %.400s", out, file)
	}
	if pp.Cert.Fingerprint() != root.Fingerprint() {
		t.Fatal("root cert differs")
	}
	eqHex(t, "passport mask", pp.Mask[:], s(p, "capability_mask_hex"))
	mc := pp.Mask.Commitment()
	eqHex(t, "mask commitment", mc[:], s(p, "capability_mask_commitment_hex"))

	// Re-issue deterministically: same fields give the same root and sub cert.
	re, err := a1.IssuePassport(holder, s(p, "namespace"), pp.Capabilities, u64(p, "issued_at"), u64(p, "ttl_secs"))
	if err != nil {
		t.Fatal(err)
	}
	re.Cert.Nonce = root.Nonce
	re.Cert.Signature = [64]byte{}
	if err := re.Cert.Sign(holder); err != nil {
		t.Fatal(err)
	}
	if re.Cert.Signature != root.Signature {
		t.Error("re-issued passport root differs from the vector")
	}
	two := o(p, "sub_cert_two_caps_shape_only")
	sub2, err := pp.IssueSub(holder, sub.DelegatePK, []string{"trade.equity", "portfolio.read"}, u64(p, "issued_at"), 3600)
	if err != nil {
		t.Fatal(err)
	}
	pc := sub2.ScopeProof.Commitment()
	eqHex(t, "two caps proof commitment", pc[:], s(two, "scope_proof_commitment_hex"))
	eqHex(t, "two caps scope root", sub2.ScopeRoot[:], s(two, "scope_root_hex"))
	ec := sub2.Extensions.Commitment()
	eqHex(t, "two caps ext commitment", ec[:], s(two, "extensions_commitment_hex"))
	if _, err := pp.IssueSub(holder, sub.DelegatePK, []string{"trade.equity", "funds.withdraw"}, u64(p, "issued_at"), 3600); !errors.Is(err, a1.ErrNarrowingViolation) ||
		err.Error() != s(p, "issue_sub_escalation_error", "display") {
		t.Errorf("escalating sub: %v", err)
	}

	chain := o(p, "chain")
	sc := pp.Chain(sub)
	fpNS := sc.FingerprintNS(s(chain, "namespace"))
	eqHex(t, "passport chain fp", fpNS[:], s(chain, "chain_fingerprint_hex"))
	wire, _ := json.Marshal(sc)
	if string(wire) != s(chain, "signed_chain_json") {
		t.Error("passport chain JSON differs")
	}
	fp := sc.Fingerprint()
	eqHex(t, "fp after wire round-trip", fp[:], s(chain, "chain_fingerprint_after_wire_roundtrip_hex"))

	g := o(p, "guard")
	ver := a1.NewVerifier(a1.NewRootSet(pp.Holder()), a1.WithClock(fixed(u64(g, "now_unix"))))
	intent, _ := a1.HashIntent(s(g, "intent_action"), nil)
	pr, err := pp.Guard(context.Background(), ver, &a1.Request{Chain: sc, Namespace: pp.Namespace, Executor: sub.DelegatePK,
		Intent: intent, Action: s(g, "intent_action")}, "", newMemState())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(pr), raw(t, o(g, "provable_receipt")); !jsonEqual(got, want) {
		t.Errorf("provable receipt %s\nwant %s", got, want)
	}
	if !pr.VerifyCommitment() {
		t.Error("commitment")
	}
	eqHex(t, "guard canonical", pr.Inner.CanonicalBytes(), s(g, "verified_token_canonical_bytes_hex"))
	gm := pr.Inner.MAC(h32(t, s(g, "verified_token_mac_key_hex")))
	eqHex(t, "guard mac", gm[:], s(g, "verified_token_mac_hex"))
	for _, neg := range arr(p, "guard_negative") {
		intent, _ := a1.HashIntent(s(neg, "intent_action"), nil)
		_, err := pp.Guard(context.Background(), ver, &a1.Request{Chain: sc, Executor: sub.DelegatePK, Intent: intent,
			Action: s(neg, "intent_action")}, "", newMemState())
		if err == nil || err.Error() != s(neg, "error", "display") || a1.ReferenceCode(err) != s(neg, "error", "error_code") {
			t.Errorf("guard %s: %v", s(neg, "intent_action"), err)
		}
	}
}

func fixed(unix uint64) func() time.Time {
	return func() time.Time { return time.Unix(int64(unix), 0) }
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return bytes.Equal(mustJSON(x), mustJSON(y))
}

// toHexForm rewrites a chain's integer arrays as hex strings.
func toHexForm(t *testing.T, sc *a1.SignedChain) []byte {
	var m any
	if err := json.Unmarshal(mustJSON(sc), &m); err != nil {
		t.Fatal(err)
	}
	var conv func(any) any
	conv = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				x[k] = conv(v)
			}
			return x
		case []any:
			if len(x) >= 16 {
				allNum := true
				b := make([]byte, len(x))
				for i, e := range x {
					f, ok := e.(float64)
					if !ok {
						allNum = false
						break
					}
					b[i] = byte(f)
				}
				if allNum {
					return hex.EncodeToString(b)
				}
			}
			for i := range x {
				x[i] = conv(x[i])
			}
			return x
		}
		return x
	}
	return mustJSON(conv(m))
}

// memState is the in-memory revocation and nonce state the conformance
// tests use (the real backends are tested in store/...).
type memState struct {
	mu      sync.Mutex
	revoked map[[32]byte]bool
	nonces  map[[32]byte]time.Time
}

func newMemState() *memState {
	return &memState{revoked: map[[32]byte]bool{}, nonces: map[[32]byte]time.Time{}}
}

func (m *memState) Authorize(_ context.Context, req store.AuthorizeRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, fp := range req.Fingerprints {
		if m.revoked[fp] {
			return &store.RevokedError{Index: i, Fingerprint: fp}
		}
	}
	for i, n := range req.Nonces {
		if _, ok := m.nonces[n.Key]; ok {
			return &store.ReplayError{Index: i}
		}
	}
	for _, n := range req.Nonces {
		m.nonces[n.Key] = n.ExpiresAt
	}
	return nil
}

var farFuture = time.Unix(1<<40, 0)
