package gateway_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
)

// TestSeedSequence is the project's end-to-end story on the embedded
// (bbolt) store: a human issues C1 over several trade intents (max depth
// 8), the orchestrator narrows it to C2 (max depth 0), the tool authorizes
// [C1,C2]; replay is denied; revoking C1 denies the tool.
func TestSeedSequence(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_STORE"] = "bolt"
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)
	disc := g.discovery()
	gwPK, _ := a1.ParsePublicKeyHex(disc["receipt_signing_pk_hex"].(string))

	chain := sc.chain(t, 0)
	req := sc.authReq(chain, 0)
	req["return_token"] = true
	r := g.post("/v1/authorize", req)
	if r.status != 200 || r.body["authorized"] != true {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	if _, ok := r.body["error_code"]; !ok || r.body["error_code"] != nil {
		t.Errorf("error_code must be present and null: %s", r.raw)
	}
	if got := r.body["chain_depth"].(float64); got != 2 {
		t.Errorf("chain_depth = %v", got)
	}
	if fp := chain.Fingerprint(); r.body["chain_fingerprint"] != hex.EncodeToString(fp[:]) {
		t.Errorf("chain_fingerprint = %v, want %x", r.body["chain_fingerprint"], fp)
	}
	// The receipt signature verifies under the published receipt key.
	rc := a1.Receipt{ChainDepth: 2, VerifiedScopeRoot: chain.Certs[1].ScopeRoot, Intent: sc.intents[0],
		VerifiedAtUnix: uint64(r.body["verified_at_unix"].(float64)), ChainFingerprint: chain.Fingerprint()}
	sig, _ := hex.DecodeString(r.body["receipt_signature_hex"].(string))
	if !a1.VerifyReceiptSignature(gwPK, &rc, sig) {
		t.Errorf("receipt signature does not verify")
	}
	rec := r.body["receipt"].(map[string]any)
	if rec["capability_mask_hex"] != strings.Repeat("0", 64) || rec["passport_namespace"] != "" {
		t.Errorf("receipt = %v", rec)
	}
	// The token verifies; a tampered one does not.
	tok := r.body["token"]
	if v := g.post("/v1/token/verify", map[string]any{"token": tok}); v.status != 200 || v.body["valid"] != true {
		t.Errorf("token verify: %d %s", v.status, v.raw)
	}
	if v := g.post("/v1/token/verify", tok); v.status != 200 {
		t.Errorf("bare token verify: %d %s", v.status, v.raw)
	}
	bad := tok.(map[string]any)
	bad["mac"] = strings.Repeat("ab", 32)
	if v := g.post("/v1/token/verify", map[string]any{"token": bad}); v.status != 401 || v.body["valid"] != false || v.code() != "MAC_VERIFICATION_FAILED" {
		t.Errorf("tampered token: %d %s", v.status, v.raw)
	}

	// Replay of the same request: the terminal nonce is consumed.
	if r := g.post("/v1/authorize", req); r.status != 401 || r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	// C1 stays reusable: a fresh C2 under it is authorized (terminal mode).
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 200 {
		t.Fatalf("fresh C2: %d %s", r.status, r.raw)
	}
	// An intent outside C2's scope is a scope violation.
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 2)); r.status != 403 || r.code() != "SCOPE_VIOLATION" {
		t.Errorf("out of scope: %d %s", r.status, r.raw)
	}
	// Multi-intent C2 without client proofs: the gateway derives the proof.
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0, 3), 3)); r.status != 200 {
		t.Errorf("multi-intent C2: %d %s", r.status, r.raw)
	}

	// Revoke C1 (admin); the tool is denied with the hop of C1.
	fp1 := sc.c1.Fingerprint()
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(fp1[:]), "reason": "compromised"}); r.status != 200 || r.body["newly_revoked"] != true {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	r = g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0))
	if r.status != 401 || r.code() != "CERT_REVOKED" || r.body["hop"] != float64(0) {
		t.Fatalf("after revoke: %d %s", r.status, r.raw)
	}
	if s := g.do("GET", "/v1/cert/"+hex.EncodeToString(fp1[:]), nil, nil); s.status != 200 || s.body["revoked"] != true {
		t.Errorf("status: %d %s", s.status, s.raw)
	}
	if l := g.admin("GET", "/v1/revocations?limit=10", nil); l.status != 200 || len(l.body["revocations"].([]any)) != 1 {
		t.Errorf("list: %d %s", l.status, l.raw)
	}

	// Every decision was audited, allow and deny alike.
	waitFor(t, 5*time.Second, "audit events", func() bool {
		return strings.Count(g.audit.String(), `"kind":"authorize"`) >= 6
	})
	if !strings.Contains(g.audit.String(), `"decision":"allow"`) || !strings.Contains(g.audit.String(), `"error_code":"CERT_REVOKED"`) {
		t.Errorf("audit stream lacks the decisions: %.400s", g.audit.String())
	}
	if strings.Contains(g.stderr.String(), adminToken) {
		t.Errorf("the admin token appears in the logs")
	}
}

// TestProofOfPossession: with a valid PoP the chain is reusable and only
// the request nonce is consumed; replaying a proof is denied.
func TestProofOfPossession(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_GATEWAY_ID"] = "gw-pop-test"
	g := startGateway(t, env)
	if g.discovery()["gateway_id"] != "gw-pop-test" {
		t.Fatal("gateway id not published")
	}
	chain := sc.chain(t, 0)
	base := sc.authReq(chain, 0)
	for i := 0; i < 3; i++ {
		if r := g.post("/v1/authorize", sc.withPoP(t, base, chain, 0, "gw-pop-test")); r.status != 200 {
			t.Fatalf("PoP use %d: %d %s", i, r.status, r.raw)
		}
	}
	once := sc.withPoP(t, base, chain, 0, "gw-pop-test")
	if r := g.post("/v1/authorize", once); r.status != 200 {
		t.Fatalf("PoP: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/authorize", once); r.status != 401 || r.code() != "NONCE_REPLAY" {
		t.Errorf("PoP replay: %d %s", r.status, r.raw)
	}
	// Wrong audience, and a proof signed by someone else.
	if r := g.post("/v1/authorize", sc.withPoP(t, base, chain, 0, "another-gateway")); r.status != 401 || r.code() != "INVALID_PROOF" {
		t.Errorf("wrong audience: %d %s", r.status, r.raw)
	}
	thief := *sc
	thief.tool = newKey(t)
	stolen := thief.withPoP(t, base, chain, 0, "gw-pop-test")
	if r := g.post("/v1/authorize", stolen); r.status != 401 || r.code() != "INVALID_PROOF" {
		t.Errorf("stolen chain: %d %s", r.status, r.raw)
	}
	// The chain was never consumed: without PoP it is still usable once.
	if r := g.post("/v1/authorize", base); r.status != 200 {
		t.Errorf("no-PoP use after PoP uses: %d %s", r.status, r.raw)
	}
	// Batch: one chain, two intents, PoP over the first.
	chain2 := sc.chain(t, 0, 3)
	batch := map[string]any{
		"chain": chain2, "executor_pk_hex": sc.tool.pk.Hex(),
		"intents": []map[string]any{
			{"name": tradeIntents[0].name, "params": tradeIntents[0].params},
			{"name": tradeIntents[3].name, "params": tradeIntents[3].params},
			{"name": tradeIntents[2].name},
		},
	}
	// The batch's proof signs all three intents, in order.
	third, _ := a1.HashIntent(tradeIntents[2].name, nil)
	p, _ := a1.SignPoP(sc.tool.signer(), "gw-pop-test", chain2.Fingerprint(),
		a1.BatchIntentHash([]a1.IntentHash{sc.intents[0], sc.intents[3], third}), now())
	batch["proof"] = p.JSON()
	r := g.post("/v1/authorize/batch", batch)
	if r.status != 200 || r.body["authorized_count"] != float64(2) || r.body["all_authorized"] != false {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	if items := r.body["results"].([]any); items[2].(map[string]any)["error_code"] != "SCOPE_VIOLATION" {
		t.Errorf("batch item 2: %v", items[2])
	}
	if r := g.post("/v1/authorize/batch", batch); r.status != 401 || r.code() != "NONCE_REPLAY" {
		t.Errorf("batch PoP replay: %d %s", r.status, r.raw)
	}
}

// TestRequirePoPAndSignedRevocation: A1_REQUIRE_POP rejects requests
// without a proof; a delegator revokes its own sub-cert without the admin
// token, and a stranger cannot.
func TestRequirePoPAndSignedRevocation(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_REQUIRE_POP"] = "true"
	env["A1_NONCE_MODE"] = "all"
	delete(env, "A1_ADMIN_TOKEN")
	g := startGateway(t, env)
	aud := g.discovery()["gateway_id"].(string)
	if aud != g.discovery()["gateway_signing_pk_hex"] {
		t.Errorf("default gateway id must be the public key hex")
	}
	chain := sc.chain(t, 0)
	base := sc.authReq(chain, 0)
	if r := g.post("/v1/authorize", base); r.status != 401 || r.code() != "PROOF_REQUIRED" {
		t.Errorf("no proof: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/authorize", sc.withPoP(t, base, chain, 0, aud)); r.status != 200 {
		t.Fatalf("with proof: %d %s", r.status, r.raw)
	}
	signed := func(k key, idx int) map[string]any {
		rv := &a1.SignedRevocation{Chain: chain, Index: idx, Reason: "rotated", IssuedAt: now()}
		if err := rv.Sign(k.signer(), aud); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"chain": chain, "index": idx, "reason": rv.Reason, "issued_at": rv.IssuedAt,
			"revoker_pk_hex": rv.Revoker.Hex(), "signature_hex": hex.EncodeToString(rv.Signature[:])}
	}
	// The tool (not a delegator) may not revoke C2; the orchestrator may.
	if r := g.post("/v1/cert/revoke", signed(sc.tool, 1)); r.status != 403 || r.code() != "REVOCATION_UNAUTHORIZED" {
		t.Errorf("stranger revocation: %d %s", r.status, r.raw)
	}
	// The orchestrator cannot revoke its parent C1 either.
	if r := g.post("/v1/cert/revoke", signed(sc.orch, 0)); r.status != 403 {
		t.Errorf("child revoking parent: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/cert/revoke", signed(sc.orch, 1)); r.status != 200 {
		t.Fatalf("orchestrator revocation: %d %s", r.status, r.raw)
	}
	r := g.post("/v1/authorize", sc.withPoP(t, base, chain, 0, aud))
	if r.status != 401 || r.code() != "CERT_REVOKED" || r.body["hop"] != float64(1) {
		t.Errorf("after signed revocation: %d %s", r.status, r.raw)
	}
	// The audit trail names the revoker's key, not "anonymous".
	want := `"actor":"signed:` + sc.orch.pk.Hex() + `"`
	waitFor(t, 5*time.Second, "the signed revocation's audit event", func() bool {
		for _, line := range strings.Split(g.audit.String(), "\n") {
			if strings.Contains(line, `"action":"cert.revoke"`) && strings.Contains(line, `"decision":"allow"`) {
				return strings.Contains(line, want)
			}
		}
		return false
	})
	// Admin form without a configured token: disabled.
	if r := g.post("/v1/cert/revoke", map[string]any{"fingerprint_hex": strings.Repeat("00", 32)}); r.status != 403 || r.code() != "ADMIN_DISABLED" {
		t.Errorf("admin revoke, no token configured: %d %s", r.status, r.raw)
	}
}

// TestIssuanceAndRoots: certs and passports issued by the gateway key
// authorize; roots registered at runtime are trusted, removed ones not.
func TestIssuanceAndRoots(t *testing.T) {
	g := startGateway(t, baseEnv(t))
	tool := newKey(t)
	r := g.admin("POST", "/v1/cert/issue", map[string]any{
		"delegate_pk_hex": tool.pk.Hex(),
		"intents":         []map[string]any{{"name": "db.read", "params": map[string]string{"table": "orders"}}},
		"ttl_seconds":     600, "max_depth": 0,
		"extensions": map[string]any{"dyolo.cost_center": "ops", "n": 5, "list": []any{"a", 1}, "neg": -1},
	})
	if r.status != 201 {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	chainJSON, _ := json.Marshal(r.body["chain"])
	auth := func(chain json.RawMessage) reply {
		return g.post("/v1/authorize", map[string]any{"chain": chain, "intent_name": "db.read",
			"intent_params": map[string]string{"TABLE ": "Orders"}, "executor_pk_hex": tool.pk.Hex()})
	}
	if a := auth(chainJSON); a.status != 200 {
		t.Fatalf("authorize issued cert: %d %s", a.status, a.raw)
	}
	if r := g.admin("POST", "/v1/cert/issue", map[string]any{"delegate_pk_hex": tool.pk.Hex(),
		"intents": []map[string]any{{"name": "x"}}, "extensions": map[string]any{"dyolo.passport.mask": "ff"}}); r.code() != "RESERVED_EXTENSION" {
		t.Errorf("reserved extension: %d %s", r.status, r.raw)
	}

	// Passport issued by the gateway, narrowed to a tool.
	p := g.admin("POST", "/v1/passport/issue", map[string]any{"namespace": "acme-bot", "capabilities": []string{"files.read", "files.write", "net.fetch"}, "ttl_seconds": 3600})
	if p.status != 201 {
		t.Fatalf("passport issue: %d %s", p.status, p.raw)
	}
	sub := g.admin("POST", "/v1/passport/sub", map[string]any{"passport": p.body["passport"], "delegate_pk_hex": tool.pk.Hex(), "capabilities": []string{"files.read"}, "ttl_seconds": 600})
	if sub.status != 201 {
		t.Fatalf("passport sub: %d %s", sub.status, sub.raw)
	}
	subChain, _ := json.Marshal(sub.body["chain"])
	a := g.post("/v1/passport/authorize", map[string]any{"chain": json.RawMessage(subChain), "intent_name": "files.read", "executor_pk_hex": tool.pk.Hex()})
	if a.status != 200 || a.body["receipt"].(map[string]any)["passport_namespace"] != "acme-bot" || a.body["chain_depth"] != float64(2) {
		t.Fatalf("passport authorize: %d %s", a.status, a.raw)
	}
	// The chain carries the passport's root as hop 0 ([root, sub], as the
	// CLI writes it), so revoking the passport stops its sub-certs.
	sc, err := a1.DecodeSignedChain(subChain)
	if err != nil || len(sc.Certs) != 2 {
		t.Fatalf("passport sub chain: %v, %d certs, want [root, sub]", err, len(sc.Certs))
	}
	rootFP := sc.Certs[0].Fingerprint()
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(rootFP[:])}); r.status != 200 {
		t.Fatalf("revoke the passport: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/passport/authorize", map[string]any{"chain": json.RawMessage(subChain), "intent_name": "files.read", "executor_pk_hex": tool.pk.Hex()}); r.status != 401 || r.code() != "CERT_REVOKED" || r.body["hop"] != float64(0) {
		t.Fatalf("sub-cert after the passport was revoked: %d %s", r.status, r.raw)
	}
	// Its holder may drop hop 0: the sub-cert carries its root's
	// fingerprint, signed, so [sub] is stopped too, without a hop (before,
	// it passed the revocation check and was refused only as a replay).
	stripped, _ := json.Marshal(a1.NewChain(sc.PrincipalPK, sc.PrincipalScope, sc.Certs[1]))
	if r := g.post("/v1/passport/authorize", map[string]any{"chain": json.RawMessage(stripped), "intent_name": "files.read", "executor_pk_hex": tool.pk.Hex()}); r.status != 401 || r.code() != "CERT_REVOKED" || r.body["hop"] != nil {
		t.Fatalf("[sub] without its root after the passport was revoked: %d %s", r.status, r.raw)
	}

	// Runtime roots.
	human := newKey(t)
	c, _ := a1.NewCert(tool.pk, []a1.IntentHash{hashOf(t, "ping", nil)}, now()-5, 600)
	if err := c.Sign(human.signer()); err != nil {
		t.Fatal(err)
	}
	mk := func() map[string]any {
		c, _ := a1.NewCert(tool.pk, []a1.IntentHash{hashOf(t, "ping", nil)}, now()-5, 600)
		c.Sign(human.signer())
		return map[string]any{"chain": a1.NewChain(human.pk, c.ScopeRoot, c), "intent_name": "ping", "executor_pk_hex": tool.pk.Hex()}
	}
	if r := g.post("/v1/authorize", mk()); r.status != 403 || r.code() != "UNTRUSTED_ROOT" {
		t.Fatalf("untrusted root: %d %s", r.status, r.raw)
	}
	if r := g.admin("POST", "/v1/roots", map[string]any{"public_key_hex": human.pk.Hex(), "label": "alice"}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/authorize", mk()); r.status != 200 {
		t.Fatalf("registered root: %d %s", r.status, r.raw)
	}
	if l := g.admin("GET", "/v1/roots", nil); !strings.Contains(string(l.raw), human.pk.Hex()) {
		t.Errorf("roots list: %s", l.raw)
	}
	if r := g.admin("DELETE", "/v1/roots/"+human.pk.Hex(), nil); r.status != 200 || r.body["removed"] != true || r.body["still_trusted"] != false {
		t.Fatalf("remove root: %d %s", r.status, r.raw)
	}
	// A root from the configuration (here the gateway's own key) cannot be
	// removed at runtime, and the answer says it stays trusted.
	gwKey := g.discovery()["gateway_signing_pk_hex"].(string)
	if r := g.admin("DELETE", "/v1/roots/"+gwKey, nil); r.status != 200 || r.body["removed"] != false || r.body["still_trusted"] != true {
		t.Fatalf("remove the gateway's own key: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/authorize", mk()); r.code() != "UNTRUSTED_ROOT" {
		t.Errorf("removed root: %d %s", r.status, r.raw)
	}
	_ = ed25519.PublicKeySize
}
