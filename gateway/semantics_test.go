package gateway_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
)

// Authorization semantics over real gateway processes: nonce rules on the
// single and batch routes, "a denial consumes nothing", proof-of-possession
// binding, caches that must not skip time/revocation/trust/request checks,
// receipts and tokens, issuance bounds. Verifier-level counterparts are in
// ../semantics_test.go.

// batchBody is a batch request over tradeIntents[idx...].
func (sc *scenario) batchBody(chain *a1.SignedChain, idx ...int) map[string]any {
	var items []map[string]any
	for _, i := range idx {
		items = append(items, map[string]any{"name": tradeIntents[i].name, "params": tradeIntents[i].params})
	}
	return map[string]any{"chain": chain, "executor_pk_hex": sc.tool.pk.Hex(), "intents": items}
}

// popAt is a proof signed by k for (chain, intent) at issuedAt.
func popAt(t *testing.T, k key, aud string, chain *a1.SignedChain, in a1.IntentHash, issuedAt uint64) a1.PoPJSON {
	t.Helper()
	p, err := a1.SignPoP(k.signer(), aud, chain.Fingerprint(), in, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	return p.JSON()
}

// batchPoP is a batch proof signed by the tool for (chain, the intents idx
// of the batch, in order) now: it binds a1.BatchIntentHash of them.
func (sc *scenario) batchPoP(t *testing.T, aud string, chain *a1.SignedChain, idx ...int) a1.PoPJSON {
	t.Helper()
	hashes := make([]a1.IntentHash, len(idx))
	for i, j := range idx {
		hashes[i] = sc.intents[j]
	}
	return popAt(t, sc.tool, aud, chain, a1.BatchIntentHash(hashes), now())
}

func with(req map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range req {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func expect(t *testing.T, what string, r reply, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Errorf("%s: got %d %s, want %d %s", what, r.status, r.raw, status, code)
	}
}

// TestSemanticsBatchNonces: the batch route follows the single route's
// nonce rules. A proof-less batch consumes the terminal nonce once for the
// whole batch (the chain is then spent for both routes); a batch with a
// proof leaves the chain reusable and its proof is single-use; a batch
// whose first intent fails consumes nothing.
func TestSemanticsBatchNonces(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_GATEWAY_ID"] = "gw-sem"
	g := startGateway(t, env)

	// Proof-less: one use for the whole batch.
	chain := sc.chain(t, 0, 3)
	r := g.post("/v1/authorize/batch", sc.batchBody(chain, 0, 3))
	if r.status != 200 || r.body["authorized_count"] != float64(2) || r.body["all_authorized"] != true {
		t.Fatalf("proof-less batch: %d %s", r.status, r.raw)
	}
	expect(t, "proof-less batch replayed", g.post("/v1/authorize/batch", sc.batchBody(chain, 0, 3)), 401, "NONCE_REPLAY")
	expect(t, "single use of the batch's chain", g.post("/v1/authorize", sc.authReq(chain, 3)), 401, "NONCE_REPLAY")
	// ... and the other way round.
	chain = sc.chain(t, 0, 3)
	expect(t, "single use", g.post("/v1/authorize", sc.authReq(chain, 0)), 200, "")
	expect(t, "batch after the single use", g.post("/v1/authorize/batch", sc.batchBody(chain, 3)), 401, "NONCE_REPLAY")

	// A batch whose first intent is out of scope, or whose proof is bad,
	// consumes nothing: the chain still has its one use.
	chain = sc.chain(t, 0, 3)
	expect(t, "first intent out of scope", g.post("/v1/authorize/batch", sc.batchBody(chain, 2, 0)), 403, "SCOPE_VIOLATION")
	bad := with(sc.batchBody(chain, 0, 3), "proof", sc.batchPoP(t, "other-gw", chain, 0, 3))
	expect(t, "batch with a wrong-audience proof", g.post("/v1/authorize/batch", bad), 401, "INVALID_PROOF")
	bad = with(sc.batchBody(chain, 0, 3), "proof", popAt(t, sc.tool, "gw-sem", chain, sc.intents[0], now()))
	expect(t, "batch proof over the first intent alone", g.post("/v1/authorize/batch", bad), 401, "INVALID_PROOF")
	bad = with(sc.batchBody(chain, 0, 3), "proof", sc.batchPoP(t, "gw-sem", chain, 3, 0))
	expect(t, "batch proof over the intents in another order", g.post("/v1/authorize/batch", bad), 401, "INVALID_PROOF")
	bad = with(sc.batchBody(chain, 0, 3), "proof", sc.batchPoP(t, "gw-sem", chain, 0))
	expect(t, "batch proof over fewer intents", g.post("/v1/authorize/batch", bad), 401, "INVALID_PROOF")
	expect(t, "the chain after denied batches", g.post("/v1/authorize", sc.authReq(chain, 0)), 200, "")

	// With a proof: reusable chain, single-use proof, usable only with the
	// intents it signs (not with others, not on the single route).
	chain = sc.chain(t, 0, 3)
	for i := 0; i < 2; i++ {
		b := with(sc.batchBody(chain, 0, 3), "proof", sc.batchPoP(t, "gw-sem", chain, 0, 3))
		if r := g.post("/v1/authorize/batch", b); r.status != 200 || r.body["authorized_count"] != float64(2) {
			t.Fatalf("PoP batch %d: %d %s", i, r.status, r.raw)
		}
	}
	p := sc.batchPoP(t, "gw-sem", chain, 0, 3)
	expect(t, "batch proof with other items", g.post("/v1/authorize/batch", with(sc.batchBody(chain, 0), "proof", p)), 401, "INVALID_PROOF")
	expect(t, "batch proof on the single route", g.post("/v1/authorize", with(sc.authReq(chain, 0), "proof", p)), 401, "INVALID_PROOF")
	expect(t, "PoP batch", g.post("/v1/authorize/batch", with(sc.batchBody(chain, 0, 3), "proof", p)), 200, "")
	expect(t, "PoP batch replayed", g.post("/v1/authorize/batch", with(sc.batchBody(chain, 0, 3), "proof", p)), 401, "NONCE_REPLAY")
	// The PoP uses never consumed the chain.
	expect(t, "proof-less use after PoP batches", g.post("/v1/authorize", sc.authReq(chain, 0)), 200, "")
}

// TestSemanticsBatchRequirePoP: with A1_REQUIRE_POP the batch's proof
// covers every intent of the batch. The other intents used to be verified
// as proof-less requests and failed with PROOF_REQUIRED, so a batch could
// authorize only its first intent.
func TestSemanticsBatchRequirePoP(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_GATEWAY_ID"] = "gw-sem"
	env["A1_REQUIRE_POP"] = "true"
	g := startGateway(t, env)

	chain := sc.chain(t, 0, 3)
	expect(t, "proof-less batch", g.post("/v1/authorize/batch", sc.batchBody(chain, 0, 3)), 401, "PROOF_REQUIRED")
	p := sc.batchPoP(t, "gw-sem", chain, 0, 3, 2)
	r := g.post("/v1/authorize/batch", with(sc.batchBody(chain, 0, 3, 2), "proof", p))
	if r.status != 200 || r.body["authorized_count"] != float64(2) {
		t.Fatalf("PoP batch under A1_REQUIRE_POP: %d %s", r.status, r.raw)
	}
	items := r.body["results"].([]any)
	if it := items[1].(map[string]any); it["authorized"] != true {
		t.Errorf("second intent (in scope) under A1_REQUIRE_POP: %v", it)
	}
	if it := items[2].(map[string]any); it["error_code"] != "SCOPE_VIOLATION" {
		t.Errorf("third intent (out of scope): %v", it)
	}
	expect(t, "replay", g.post("/v1/authorize/batch", with(sc.batchBody(chain, 0, 3, 2), "proof", p)), 401, "NONCE_REPLAY")
}

// TestSemanticsDeniedConsumesNothing: in A1_NONCE_MODE=all (every cert
// nonce consumed, so a denial that burnt C1 would show) no denied request
// consumes anything, whichever check denies it, storage's revocation check
// included, on the single and the batch route.
func TestSemanticsDeniedConsumesNothing(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_GATEWAY_ID"] = "gw-sem"
	env["A1_NONCE_MODE"] = "all"
	env["A1_DRIFT_SECS"] = "5"
	g := startGateway(t, env)

	chain := sc.chain(t, 0, 3)
	req := sc.authReq(chain, 0)
	expect(t, "out of scope", g.post("/v1/authorize", sc.authReq(chain, 2)), 403, "SCOPE_VIOLATION")
	expect(t, "wrong executor", g.post("/v1/authorize", with(req, "executor_pk_hex", sc.orch.pk.Hex())), 403, "UNAUTHORIZED_EXECUTOR")
	expect(t, "stale proof", g.post("/v1/authorize", with(req, "proof", popAt(t, sc.tool, "gw-sem", chain, sc.intents[0], now()-60))), 401, "PROOF_EXPIRED")
	expect(t, "bad proof", g.post("/v1/authorize", with(req, "proof", popAt(t, sc.orch, "gw-sem", chain, sc.intents[0], now()))), 401, "INVALID_PROOF")
	expect(t, "batch, first out of scope", g.post("/v1/authorize/batch", sc.batchBody(chain, 2, 0)), 403, "SCOPE_VIOLATION")

	// Revoked sibling C2b under the same C1: storage denies; C1's nonce
	// (consumed in this mode) must not be burnt by the denial.
	revoked := sc.chain(t, 0)
	fp := revoked.Certs[1].Fingerprint()
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(fp[:])}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	expect(t, "revoked", g.post("/v1/authorize", sc.authReq(revoked, 0)), 401, "CERT_REVOKED")
	expect(t, "revoked, batch", g.post("/v1/authorize/batch", sc.batchBody(revoked, 0)), 401, "CERT_REVOKED")
	expect(t, "revoked, with proof", g.post("/v1/authorize", sc.withPoP(t, sc.authReq(revoked, 0), revoked, 0, "gw-sem")), 401, "CERT_REVOKED")

	// Nothing was consumed: the chain authorizes once, consuming C1 too.
	expect(t, "after every denial", g.post("/v1/authorize", req), 200, "")
	expect(t, "same chain again", g.post("/v1/authorize", req), 401, "NONCE_REPLAY")
	expect(t, "C1 consumed in mode all", g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)), 401, "NONCE_REPLAY")
	expect(t, "C1 consumed in mode all, batch", g.post("/v1/authorize/batch", sc.batchBody(sc.chain(t, 0), 0)), 401, "NONCE_REPLAY")
}

// TestSemanticsCachesSkipNothing: with the decoded-chain, signature and
// key caches warm (the same chain bytes authorized before), every check
// that depends on time, storage, trust anchors or request fields still
// runs: expiry, revocation, root removal, executor, intent, params,
// audience, proof window, chain binding.
func TestSemanticsCachesSkipNothing(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_GATEWAY_ID"] = "gw-sem"
	env["A1_DRIFT_SECS"] = "0"
	g := startGateway(t, env)
	if r := g.admin("POST", "/v1/roots", map[string]any{"public_key_hex": sc.human.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}
	// A short-lived terminal cert; the JSON bytes are reused verbatim.
	c2, err := a1.NewSubCert(sc.tool.pk, sc.tree, sc.intents[:2], now()-5, 7)
	if err != nil {
		t.Fatal(err)
	}
	c2.MaxDepth = 0
	if err := c2.Sign(sc.orch.signer()); err != nil {
		t.Fatal(err)
	}
	short := a1.NewChain(sc.human.pk, sc.c1.ScopeRoot, sc.c1, c2)
	shortJSON, _ := json.Marshal(short)
	auth := func(raw []byte, i int, k key, aud string, issued uint64) map[string]any {
		return map[string]any{"chain": json.RawMessage(raw), "intent_name": tradeIntents[i].name, "intent_params": tradeIntents[i].params,
			"executor_pk_hex": k.pk.Hex(), "proof": popAt(t, k, aud, short, sc.intents[i], issued)}
	}
	expect(t, "warm-up", g.post("/v1/authorize", auth(shortJSON, 0, sc.tool, "gw-sem", now())), 200, "")
	expect(t, "warm, second intent", g.post("/v1/authorize", auth(shortJSON, 1, sc.tool, "gw-sem", now())), 200, "")

	// Request fields, on warm caches.
	other := newKey(t)
	expect(t, "other executor with its own proof", g.post("/v1/authorize", auth(shortJSON, 0, other, "gw-sem", now())), 403, "UNAUTHORIZED_EXECUTOR")
	r := auth(shortJSON, 0, other, "gw-sem", now())
	r["executor_pk_hex"] = sc.tool.pk.Hex()
	expect(t, "valid proof by a key other than executor_pk_hex", g.post("/v1/authorize", r), 401, "INVALID_PROOF")
	r = auth(shortJSON, 0, sc.tool, "gw-sem", now())
	r["executor_pk_hex"] = other.pk.Hex()
	expect(t, "tool's valid proof, executor_pk_hex changed", g.post("/v1/authorize", r), 403, "UNAUTHORIZED_EXECUTOR")
	r = auth(shortJSON, 0, sc.tool, "gw-sem", now())
	r["intent_name"], r["intent_params"] = tradeIntents[1].name, tradeIntents[1].params
	expect(t, "proof for symbol=AAPL sent with symbol=MSFT (both in scope)", g.post("/v1/authorize", r), 401, "INVALID_PROOF")
	r = auth(shortJSON, 0, sc.tool, "gw-sem", now())
	r["proof"] = popAt(t, sc.tool, "gw-sem", sc.chain(t, 0), sc.intents[0], now())
	expect(t, "proof bound to another chain", g.post("/v1/authorize", r), 401, "INVALID_PROOF")
	expect(t, "stale proof", g.post("/v1/authorize", auth(shortJSON, 0, sc.tool, "gw-sem", now()-2)), 401, "PROOF_EXPIRED")
	expect(t, "future proof", g.post("/v1/authorize", auth(shortJSON, 0, sc.tool, "gw-sem", now()+3)), 401, "PROOF_EXPIRED")
	expect(t, "wrong audience", g.post("/v1/authorize", auth(shortJSON, 0, sc.tool, "gw-other", now())), 401, "INVALID_PROOF")

	// Revocation of the warm chain's terminal cert.
	rchain := sc.chain(t, 0)
	rJSON, _ := json.Marshal(rchain)
	rauth := func() map[string]any {
		return map[string]any{"chain": json.RawMessage(rJSON), "intent_name": tradeIntents[0].name, "intent_params": tradeIntents[0].params,
			"executor_pk_hex": sc.tool.pk.Hex(), "proof": popAt(t, sc.tool, "gw-sem", rchain, sc.intents[0], now())}
	}
	expect(t, "warm-up (revocation)", g.post("/v1/authorize", rauth()), 200, "")
	fp := rchain.Certs[1].Fingerprint()
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(fp[:])}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	expect(t, "warm chain after revocation", g.post("/v1/authorize", rauth()), 401, "CERT_REVOKED")

	// Expiry of the warm short chain (drift 0).
	waitFor(t, 15*time.Second, "the short cert to expire", func() bool { return now() > c2.ExpirationUnix })
	expect(t, "warm chain after expiry", g.post("/v1/authorize", auth(shortJSON, 0, sc.tool, "gw-sem", now())), 401, "CERT_EXPIRED")

	// Root removal: a warm, reusable chain under the removed root.
	lchain := sc.chain(t, 0)
	lJSON, _ := json.Marshal(lchain)
	lauth := func() map[string]any {
		return map[string]any{"chain": json.RawMessage(lJSON), "intent_name": tradeIntents[0].name, "intent_params": tradeIntents[0].params,
			"executor_pk_hex": sc.tool.pk.Hex(), "proof": popAt(t, sc.tool, "gw-sem", lchain, sc.intents[0], now())}
	}
	expect(t, "warm-up (root)", g.post("/v1/authorize", lauth()), 200, "")
	if r := g.admin("DELETE", "/v1/roots/"+sc.human.pk.Hex(), nil); r.status != 200 || r.body["removed"] != true {
		t.Fatalf("remove root: %d %s", r.status, r.raw)
	}
	expect(t, "warm chain after its root was removed", g.post("/v1/authorize", lauth()), 403, "UNTRUSTED_ROOT")
	expect(t, "warm chain after its root was removed, batch", g.post("/v1/authorize/batch",
		with(sc.batchBody(lchain, 0), "proof", sc.batchPoP(t, "gw-sem", lchain, 0))), 403, "UNTRUSTED_ROOT")
}

// TestSemanticsReplicasPostgres: two replicas on one PostgreSQL. A proof
// used on A is a replay on B (single and batch route); a proof-less
// batch on A spends the chain on B; a root removed through A stops
// authorizations on B (whose chain caches are warm) within A1_ROOTS_REFRESH.
func TestSemanticsReplicasPostgres(t *testing.T) {
	u := pgURL(t)
	sc := newScenario(t)
	env := replicaEnv(t, sc)
	delete(env, "A1_TRUSTED_ROOTS")
	env["A1_STORE"] = "postgres"
	env["A1_PG_URL"] = u
	env["A1_MIGRATE"] = "true"
	gs := startReplicas(t, 2, env)
	a, b := gs[0], gs[1]
	if r := a.admin("POST", "/v1/roots", map[string]any{"public_key_hex": sc.human.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}
	chain := sc.chain(t, 0, 3)
	waitFor(t, 5*time.Second, "the root on B", func() bool {
		return b.post("/v1/authorize", sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-shared")).status == 200
	})

	single := sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-shared")
	expect(t, "PoP on A", a.post("/v1/authorize", single), 200, "")
	expect(t, "same PoP on B", b.post("/v1/authorize", single), 401, "NONCE_REPLAY")
	batch := with(sc.batchBody(chain, 0, 3), "proof", sc.batchPoP(t, "gw-shared", chain, 0, 3))
	expect(t, "PoP batch on B", b.post("/v1/authorize/batch", batch), 200, "")
	expect(t, "same PoP batch on A", a.post("/v1/authorize/batch", batch), 401, "NONCE_REPLAY")

	fresh := sc.chain(t, 0, 3)
	expect(t, "proof-less batch on A", a.post("/v1/authorize/batch", sc.batchBody(fresh, 0, 3)), 200, "")
	expect(t, "its chain on B", b.post("/v1/authorize", sc.authReq(fresh, 3)), 401, "NONCE_REPLAY")
	expect(t, "its chain on B, batch", b.post("/v1/authorize/batch", sc.batchBody(fresh, 0)), 401, "NONCE_REPLAY")

	// Root removal through A; B's caches are warm with chain.
	if r := a.admin("DELETE", "/v1/roots/"+sc.human.pk.Hex(), nil); r.status != 200 || r.body["removed"] != true {
		t.Fatalf("remove root: %d %s", r.status, r.raw)
	}
	expect(t, "A right after removal", a.post("/v1/authorize", sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-shared")), 403, "UNTRUSTED_ROOT")
	waitFor(t, 2*time.Second, "B to stop trusting the removed root", func() bool {
		return b.post("/v1/authorize", sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-shared")).code() == "UNTRUSTED_ROOT"
	})
}

// TestSemanticsReceiptsAndTokens: receipt_signature_hex verifies under the
// published receipt key over the receipt docs/spec.md §3 defines (single
// and batch), and only over it; tokens verify under the current and the
// previous MAC keys, not under an unknown key nor after tampering.
func TestSemanticsReceiptsAndTokens(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	cur, prev, unknown := randHex(32), randHex(32), randHex(32)
	env["A1_MAC_KEY_HEX"] = cur
	env["A1_MAC_KEYS_PREVIOUS_HEX"] = prev
	g := startGateway(t, env)
	gwPK, err := a1.ParsePublicKeyHex(g.discovery()["receipt_signing_pk_hex"].(string))
	if err != nil {
		t.Fatal(err)
	}
	chain := sc.chain(t, 0, 3)
	receiptOf := func(i int, at float64) a1.Receipt {
		return a1.Receipt{ChainDepth: 2, VerifiedScopeRoot: chain.Certs[1].ScopeRoot, Intent: sc.intents[i],
			VerifiedAtUnix: uint64(at), ChainFingerprint: chain.Fingerprint()}
	}
	sigOf := func(h any) []byte {
		b, _ := hex.DecodeString(h.(string))
		return b
	}
	r := g.post("/v1/authorize/batch", with(sc.batchBody(chain, 0, 3), "return_token", true))
	if r.status != 200 || r.body["all_authorized"] != true {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	var tok any
	for k, it := range r.body["results"].([]any) {
		item := it.(map[string]any)
		i := []int{0, 3}[k]
		tk := item["token"].(map[string]any)
		at := tk["receipt"].(map[string]any)["verified_at_unix"].(float64)
		rc := receiptOf(i, at)
		if !a1.VerifyReceiptSignature(gwPK, &rc, sigOf(item["receipt_signature_hex"])) {
			t.Errorf("batch item %d: receipt signature does not verify", k)
		}
		if item["intent_hash_hex"] != sc.intents[i].Hex() {
			t.Errorf("batch item %d: intent_hash_hex = %v", k, item["intent_hash_hex"])
		}
		// Over exactly that receipt: another intent does not verify.
		wrong := receiptOf(1, at)
		if a1.VerifyReceiptSignature(gwPK, &wrong, sigOf(item["receipt_signature_hex"])) {
			t.Errorf("batch item %d: receipt signature verifies for another intent", k)
		}
		tok = item["token"]
	}
	if v := g.post("/v1/token/verify", map[string]any{"token": tok}); v.status != 200 || v.body["valid"] != true {
		t.Errorf("token: %d %s", v.status, v.raw)
	}
	// Tokens minted under the previous key verify; an unknown key does not.
	rc := receiptOf(0, float64(now()))
	for _, c := range []struct {
		key  string
		want int
	}{{cur, 200}, {prev, 200}, {unknown, 401}} {
		var k [32]byte
		b, _ := hex.DecodeString(c.key)
		copy(k[:], b)
		vt := a1.NewVerifiedToken(rc, k)
		if v := g.post("/v1/token/verify", map[string]any{"token": vt}); v.status != c.want {
			t.Errorf("token under key %.8s…: %d %s, want %d", c.key, v.status, v.raw, c.want)
		}
		// Tampering with any receipt field breaks the MAC.
		vt.Receipt.ChainDepth++
		if v := g.post("/v1/token/verify", map[string]any{"token": vt}); v.status != 401 || v.code() != "MAC_VERIFICATION_FAILED" {
			t.Errorf("tampered token under key %.8s…: %d %s", c.key, v.status, v.raw)
		}
	}
	tm := tok.(map[string]any)
	tm["receipt"].(map[string]any)["verified_at_unix"] = tm["receipt"].(map[string]any)["verified_at_unix"].(float64) + 1
	if v := g.post("/v1/token/verify", map[string]any{"token": tm}); v.status != 401 {
		t.Errorf("tampered issued token: %d %s", v.status, v.raw)
	}
}

// TestSemanticsIssuanceBounds: issuance only narrows and stays in its
// bounds, and what it issues verifies for exactly what was asked.
func TestSemanticsIssuanceBounds(t *testing.T) {
	env := baseEnv(t)
	env["A1_MAX_TTL_SECS"] = "3600"
	g := startGateway(t, env)
	tool := newKey(t)
	issue := func(body map[string]any) reply { return g.admin("POST", "/v1/cert/issue", body) }
	base := map[string]any{"delegate_pk_hex": tool.pk.Hex(), "intents": []map[string]any{{"name": "db.read"}}}
	for _, c := range []struct {
		what string
		body map[string]any
	}{
		{"ttl 0", with(base, "ttl_seconds", 0)},
		{"ttl over A1_MAX_TTL_SECS", with(base, "ttl_seconds", 3601)},
		{"max_depth 256", with(base, "max_depth", 256)},
		{"max_depth -1", with(base, "max_depth", -1)},
		{"no intents", with(base, "intents", []any{})},
		{"257 intents", with(base, "intents", manyIntents(257))},
		{"small-order delegate", with(base, "delegate_pk_hex", strings.Repeat("00", 32))},
		{"reserved extension", with(base, "extensions", map[string]any{"dyolo.passport.namespace": "x"})},
	} {
		if r := issue(c.body); r.status != 400 {
			t.Errorf("%s: %d %s", c.what, r.status, r.raw)
		}
	}
	r := issue(with(base, "ttl_seconds", 600, "max_depth", 0, "intents", []map[string]any{{"name": "db.read", "params": map[string]string{"t": "a"}}, {"name": "db.list"}}))
	if r.status != 201 {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	var cert a1.Cert
	cj, _ := json.Marshal(r.body["cert"])
	if err := json.Unmarshal(cj, &cert); err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifySignature(); err != nil || cert.TTL() != 600 || cert.MaxDepth != 0 || cert.DelegatePK != tool.pk {
		t.Errorf("issued cert: err=%v ttl=%d depth=%d", err, cert.TTL(), cert.MaxDepth)
	}
	chainJSON, _ := json.Marshal(r.body["chain"])
	// The issued cert commits to its intents' Merkle root; the caller,
	// who chose the intents, sends the inclusion proof.
	issued := []a1.IntentHash{hashOf(t, "db.read", map[string]string{"t": "a"}), hashOf(t, "db.list", nil)}
	tree, err := a1.NewIntentTree(issued)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(name string, params map[string]string, leaf a1.IntentHash) reply {
		proof, err := tree.Prove(leaf)
		if err != nil {
			t.Fatal(err)
		}
		return g.post("/v1/authorize", map[string]any{"chain": json.RawMessage(chainJSON), "intent_name": name,
			"intent_params": params, "executor_pk_hex": tool.pk.Hex(), "merkle_proof": proof})
	}
	expect(t, "intent outside the issued cert", auth("db.write", nil, issued[1]), 403, "SCOPE_VIOLATION")
	expect(t, "param outside the issued cert", auth("db.read", map[string]string{"t": "b"}, issued[0]), 403, "SCOPE_VIOLATION")
	expect(t, "issued intent", auth("db.list", nil, issued[1]), 200, "")

	// Passports: sub-certs narrow, never widen.
	p := g.admin("POST", "/v1/passport/issue", map[string]any{"namespace": "bot", "capabilities": []string{"files.read", "net.fetch"}, "ttl_seconds": 600})
	if p.status != 201 {
		t.Fatalf("passport: %d %s", p.status, p.raw)
	}
	expect(t, "passport ttl over the bound", g.admin("POST", "/v1/passport/issue", map[string]any{"namespace": "bot", "capabilities": []string{"a"}, "ttl_seconds": 3601}), 400, "")
	sub := func(caps []string, ttl int) reply {
		return g.admin("POST", "/v1/passport/sub", map[string]any{"passport": p.body["passport"], "delegate_pk_hex": tool.pk.Hex(), "capabilities": caps, "ttl_seconds": ttl})
	}
	if r := sub([]string{"files.read", "files.write"}, 60); r.status < 400 || r.status >= 500 {
		t.Errorf("sub widening the passport: %d %s", r.status, r.raw)
	}
	s := sub([]string{"files.read"}, 3000) // longer than the passport: capped
	if s.status != 201 {
		t.Fatalf("sub: %d %s", s.status, s.raw)
	}
	var sc a1.Cert
	sj, _ := json.Marshal(s.body["cert"])
	if err := json.Unmarshal(sj, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.ExpirationUnix > now()+600 {
		t.Errorf("sub-cert outlives its passport: expires %d, passport by %d", sc.ExpirationUnix, now()+600)
	}
	subChain, _ := json.Marshal(s.body["chain"])
	pa := func(name string) reply {
		return g.post("/v1/passport/authorize", map[string]any{"chain": json.RawMessage(subChain), "intent_name": name, "executor_pk_hex": tool.pk.Hex()})
	}
	if r := pa("net.fetch"); r.status != 403 {
		t.Errorf("capability of the passport but not of the sub: %d %s", r.status, r.raw)
	}
	expect(t, "sub capability", pa("files.read"), 200, "")
}

func manyIntents(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"name": "x.i" + strings.Repeat("a", i%5), "params": map[string]string{"n": randHex(2)}}
	}
	return out
}

// TestSemanticsLastSecondReplay: a proof-less chain is single-use up to its
// very last accepted second. With A1_DRIFT_SECS=0 a cert expiring at E is
// accepted during the whole second E; its consumed nonce used to be kept
// only until E, so during that second the chain could be replayed at will.
func TestSemanticsLastSecondReplay(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_DRIFT_SECS"] = "0"
	g := startGateway(t, env)
	exp := now() + 2
	c2, err := a1.NewSubCert(sc.tool.pk, sc.tree, sc.intents[:1], exp-10, 10)
	if err != nil {
		t.Fatal(err)
	}
	c2.MaxDepth = 0
	if err := c2.Sign(sc.orch.signer()); err != nil {
		t.Fatal(err)
	}
	chain := a1.NewChain(sc.human.pk, sc.c1.ScopeRoot, sc.c1, c2)
	body, _ := json.Marshal(sc.authReq(chain, 0))
	time.Sleep(time.Until(time.Unix(int64(exp), 100e6)))
	first := g.post("/v1/authorize", body)
	second := g.post("/v1/authorize", body)
	if now() != exp {
		t.Skip("the two requests did not fit in the cert's last second")
	}
	expect(t, "first use in the last second", first, 200, "")
	expect(t, "second use in the last second", second, 401, "NONCE_REPLAY")
}

// TestSemanticsSignedRevocation: only an ancestor may revoke. The tool
// (leaf, max_depth 0) signs a forged link "tool → human" and presents
// [C1, C2, forged, C1] to revoke its own ancestor C1: it used to be
// accepted (only linkage and signatures were checked), letting any leaf
// revoke any cert. Window, audience and replay of a signed revocation.
func TestSemanticsSignedRevocation(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_GATEWAY_ID"] = "gw-sem"
	g := startGateway(t, env)
	signed := func(k key, chain *a1.SignedChain, idx int, aud string, at uint64) map[string]any {
		rv := &a1.SignedRevocation{Chain: chain, Index: idx, Reason: "r", IssuedAt: at}
		if err := rv.Sign(k.signer(), aud); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"chain": chain, "index": idx, "reason": rv.Reason, "issued_at": rv.IssuedAt,
			"revoker_pk_hex": rv.Revoker.Hex(), "signature_hex": hex.EncodeToString(rv.Signature[:])}
	}
	chain := sc.chain(t, 0)
	forged, err := a1.NewCert(sc.human.pk, sc.intents, now()-5, 60)
	if err != nil {
		t.Fatal(err)
	}
	if err := forged.Sign(sc.tool.signer()); err != nil {
		t.Fatal(err)
	}
	cyc := a1.NewChain(sc.human.pk, sc.c1.ScopeRoot, sc.c1, chain.Certs[1], forged, sc.c1)
	if r := g.post("/v1/cert/revoke", signed(sc.tool, cyc, 3, "gw-sem", now())); r.status == 200 {
		t.Errorf("leaf revoked its ancestor C1 through a forged link: %s", r.raw)
	}
	expect(t, "C1 still usable", g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)), 200, "")

	expect(t, "stale", g.post("/v1/cert/revoke", signed(sc.orch, chain, 1, "gw-sem", now()-301)), 401, "PROOF_EXPIRED")
	expect(t, "future", g.post("/v1/cert/revoke", signed(sc.orch, chain, 1, "gw-sem", now()+301)), 401, "PROOF_EXPIRED")
	expect(t, "other audience", g.post("/v1/cert/revoke", signed(sc.orch, chain, 1, "gw-other", now())), 401, "INVALID_PROOF")
	ok := signed(sc.orch, chain, 1, "gw-sem", now())
	if r := g.post("/v1/cert/revoke", ok); r.status != 200 || r.body["newly_revoked"] != true {
		t.Fatalf("orchestrator revokes C2: %d %s", r.status, r.raw)
	}
	// Replaying the same signed revocation is idempotent (revocations are
	// permanent, so a replay cannot change anything).
	if r := g.post("/v1/cert/revoke", ok); r.status != 200 || r.body["newly_revoked"] != false {
		t.Errorf("replayed signed revocation: %d %s", r.status, r.raw)
	}
	expect(t, "revoked chain", g.post("/v1/authorize", sc.authReq(chain, 0)), 401, "CERT_REVOKED")
}
