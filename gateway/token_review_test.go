package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/a1-go/a1"
)

// TestTokenReviewVerifyBodies: POST /v1/token/verify against JSON tricks on
// the audience and the token's members. The audience is compared after
// decoding (escapes that decode to the same string are the same audience),
// byte for byte (no trimming), once (duplicates refused), and never as a
// lone surrogate escape, which encoding/json would decode to U+FFFD for
// every surrogate alike.
func TestTokenReviewVerifyBodies(t *testing.T) {
	cur := randHex(32)
	h := tokenServer(t, cur, "", nil)
	exec := newKey(t).pk
	rc := sampleReceipt("trade.equity")
	good0, err := a1.NewBoundToken(rc, a1.TokenBinding{Audience: "trading-api", Executor: exec}, key32(t, cur))
	if err != nil {
		t.Fatal(err)
	}
	good := tokenJSON(t, good0)
	unbound := tokenJSON(t, a1.NewVerifiedToken(rc, key32(t, cur)))
	forged := strings.Replace(good, `"mac":"`, `"mac":"0`, 1)
	forged = forged[:strings.LastIndex(forged, `"`)-1] + `"}`
	ins := func(tok, members string) string { return strings.Replace(tok, `"mac":`, members+`,"mac":`, 1) }
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"audience twice", `{"token":` + good + `,"audience":"payments-api","audience":"trading-api"}`, 400, "MALFORMED_REQUEST"},
		{"audience twice, one escaped", `{"token":` + good + `,"audience":"payments-api","\u0061udience":"trading-api"}`, 400, "MALFORMED_REQUEST"},
		{"escaped member name", `{"token":` + good + `,"\u0061udience":"trading-api"}`, 200, ""},
		{"escaped audience value", `{"token":` + good + `,"audience":"trading\u002dapi"}`, 200, ""},
		{"escaped audience in the token", `{"token":` + strings.Replace(good, `"trading-api"`, `"trading\u002dapi"`, 1) + `,"audience":"trading-api"}`, 200, ""},
		{"trailing space", `{"token":` + good + `,"audience":"trading-api "}`, 401, "TOKEN_AUDIENCE_MISMATCH"},
		{"other case", `{"token":` + good + `,"audience":"Trading-API"}`, 401, "TOKEN_AUDIENCE_MISMATCH"},
		{"NUL", `{"token":` + good + `,"audience":"trading-api\u0000"}`, 400, "MALFORMED_REQUEST"},
		{"U+2028", `{"token":` + good + `,"audience":"trading-api\u2028"}`, 400, "MALFORMED_REQUEST"},
		{"null audience", `{"token":` + good + `,"audience":null}`, 400, "MALFORMED_REQUEST"},
		{"null token", `{"token":null,"audience":"trading-api"}`, 400, "MALFORMED_REQUEST"},
		{"audience only", `{"audience":"trading-api"}`, 400, "MALFORMED_REQUEST"},
		{"audience inside and outside, bare", ins(good, `"AUDIENCE":"x"`), 400, "MALFORMED_REQUEST"},
		{"bare bound token with a second audience", strings.Replace(good, `{"receipt"`, `{"audience":"payments-api","receipt"`, 1), 400, "MALFORMED_REQUEST"},
		{"not UTF-8", `{"token":` + good + `,"audience":"trading-api` + "\xff" + `"}`, 400, "MALFORMED_REQUEST"},
		// Lone surrogates: encoding/json decodes both to U+FFFD.
		{"lone surrogate", `{"token":` + good + `,"audience":"svc\ud800"}`, 400, "MALFORMED_REQUEST"},
		{"lone surrogate, forged token", `{"token":` + forged + `,"audience":"svc\udbff"}`, 400, "MALFORMED_REQUEST"},
		{"U+FFFD", `{"token":` + good + `,"audience":"svc\ufffd"}`, 400, "MALFORMED_REQUEST"},
		// Case variants of the token's members: an unbound token to this
		// decoder, a bound one to a case-insensitive reader.
		{"unbound token, AUDIENCE and EXECUTOR_PK_HEX", `{"token":` + ins(unbound, `"AUDIENCE":"trading-api","EXECUTOR_PK_HEX":"`+exec.Hex()+`"`) + `}`, 400, "MALFORMED_REQUEST"},
		{"bare unbound token, EXECUTOR_PK_HEX", ins(unbound, `"EXECUTOR_PK_HEX":"`+exec.Hex()+`"`), 400, "MALFORMED_REQUEST"},
		{"receipt NAMESPACE", `{"token":` + strings.Replace(unbound, `"chain_depth"`, `"NAMESPACE":"evil","chain_depth"`, 1) + `}`, 400, "MALFORMED_REQUEST"},
		// The MAC first: a forged token is a MAC failure whatever audience
		// it names or is verified for.
		{"forged, its audience", `{"token":` + forged + `,"audience":"trading-api"}`, 401, "MAC_VERIFICATION_FAILED"},
		{"forged, another audience", `{"token":` + forged + `,"audience":"trading-api "}`, 401, "MAC_VERIFICATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantTokenAnswer(t, postToken(t, h, tc.body, nil), tc.status, tc.code, exec)
		})
	}
	// A forged token's answer is the same whatever the audience.
	a := postToken(t, h, `{"token":`+forged+`,"audience":"trading-api"}`, nil)
	b := postToken(t, h, `{"token":`+forged+`,"audience":"payments-api"}`, nil)
	c := postToken(t, h, `{"token":`+forged+`}`, nil)
	if a.raw != b.raw || a.raw != c.raw {
		t.Fatalf("forged token answers differ by audience:\n%s\n%s\n%s", a.raw, b.raw, c.raw)
	}
}

// TestTokenReviewMint: minting bound tokens through /v1/authorize and
// /v1/authorize/batch: an audience that would not round-trip is refused
// before anything is consumed, the fast decoding path falls back for
// token_audience, a batch binds only its authorized results, and the
// executor bound is the authorized one (the chain's terminal delegate,
// the key of the proof).
func TestTokenReviewMint(t *testing.T) {
	sc := newScenario(t)
	p := newInProcess(t, map[string]string{"A1_MAC_KEY_HEX": randHex(32), "A1_TRUSTED_ROOTS": sc.human.pk.Hex()})
	verify := func(t *testing.T, tok any, aud string) reply {
		t.Helper()
		body := map[string]any{"token": tok}
		if aud != "" {
			body["audience"] = aud
		}
		return p.call("POST", "/v1/token/verify", body, nil)
	}
	tokenOf := func(t *testing.T, r reply) map[string]any {
		t.Helper()
		tok, _ := r.body["token"].(map[string]any)
		if tok == nil {
			t.Fatalf("no token in %s", r.raw)
		}
		return tok
	}
	raw := func(body map[string]any, members string) string {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return "{" + members + "," + string(b[1:])
	}
	batchOf := func(chain *a1.SignedChain, idx ...int) map[string]any {
		var ins []map[string]any
		for _, i := range idx {
			ins = append(ins, map[string]any{"name": tradeIntents[i].name, "params": tradeIntents[i].params})
		}
		return map[string]any{"chain": chain, "executor_pk_hex": sc.tool.pk.Hex(), "intents": ins}
	}

	t.Run("refused audiences consume nothing", func(t *testing.T) {
		chain := sc.chain(t, 0)
		for _, members := range []string{
			`"return_token":true,"token_audience":"svc\ud800"`,
			`"return_token":true,"token_audience":"svc\ufffd"`,
			`"return_token":true,"Token_Audience":"svc"`,
			`"return_token":true,"token_audience":"svc","token_audience":"other"`,
			`"return_token":true,"token_audience":"svc\u0085"`,
		} {
			if r := p.call("POST", "/v1/authorize", raw(sc.authReq(chain, 0), members), nil); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
				t.Fatalf("authorize with %s: %d %s, want 400 MALFORMED_REQUEST", members, r.status, r.raw)
			}
			if r := p.call("POST", "/v1/authorize/batch", raw(batchOf(chain, 0), members), nil); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
				t.Fatalf("batch with %s: %d %s, want 400 MALFORMED_REQUEST", members, r.status, r.raw)
			}
		}
		// The plain form (the fast decoder's shape but for token_audience).
		r := p.call("POST", "/v1/authorize", raw(sc.authReq(chain, 0), `"return_token":true,"token_audience":"trading-api"`), nil)
		if r.status != 200 {
			t.Fatalf("after the refusals: %d %s, want 200 (nothing consumed)", r.status, r.raw)
		}
		tok := tokenOf(t, r)
		if tok["audience"] != "trading-api" || tok["executor_pk_hex"] != sc.tool.pk.Hex() {
			t.Fatalf("token %v: want bound to trading-api and the tool", tok)
		}
		if v := verify(t, tok, "trading-api"); v.status != 200 {
			t.Fatalf("verify: %d %s", v.status, v.raw)
		}
		// Stripped of its binding, it is the reference token of the same
		// receipt to a reader, but its MAC is not the reference MAC.
		delete(tok, "audience")
		delete(tok, "executor_pk_hex")
		if v := verify(t, tok, ""); v.status != 401 || v.code() != "MAC_VERIFICATION_FAILED" {
			t.Fatalf("binding stripped: %d %s, want 401 MAC_VERIFICATION_FAILED", v.status, v.raw)
		}
	})

	t.Run("batch binds only its authorized results", func(t *testing.T) {
		// The chain allows tradeIntents[0] only: item 1 fails its scope.
		body := batchOf(sc.chain(t, 0), 0, 3)
		body["return_token"], body["token_audience"] = true, "trading-api"
		r := p.call("POST", "/v1/authorize/batch", body, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		results, _ := r.body["results"].([]any)
		if len(results) != 2 {
			t.Fatalf("results %s", r.raw)
		}
		ok, _ := results[0].(map[string]any)
		bad, _ := results[1].(map[string]any)
		if ok["authorized"] != true || bad["authorized"] == true || bad["token"] != nil {
			t.Fatalf("results %s: want the first authorized, the second refused without a token", r.raw)
		}
		tok, _ := ok["token"].(map[string]any)
		if tok == nil || tok["audience"] != "trading-api" {
			t.Fatalf("first result %v: want a bound token", ok)
		}
		if v := verify(t, tok, "trading-api"); v.status != 200 || v.body["intent_hash_hex"] != sc.intents[0].Hex() {
			t.Fatalf("verify: %d %s, want 200 for the first intent", v.status, v.raw)
		}
	})

	t.Run("the executor bound is the authorized one", func(t *testing.T) {
		// Another executor than the terminal delegate is refused: no token.
		chain := sc.chain(t, 0)
		body := sc.authReq(chain, 0)
		body["executor_pk_hex"], body["return_token"], body["token_audience"] = sc.orch.pk.Hex(), true, "trading-api"
		if r := p.call("POST", "/v1/authorize", body, nil); r.status == 200 || r.body["token"] != nil {
			t.Fatalf("another executor: %d %s, want a refusal", r.status, r.raw)
		}
		// With a proof of possession the executor is the proof's key.
		body = sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-inproc")
		body["return_token"], body["token_audience"] = true, "trading-api"
		r := p.call("POST", "/v1/authorize", body, nil)
		if r.status != 200 {
			t.Fatalf("with a proof: %d %s", r.status, r.raw)
		}
		if tok := tokenOf(t, r); tok["executor_pk_hex"] != sc.tool.pk.Hex() {
			t.Fatalf("token %v: want the tool's key", tok)
		}
		// A proof by another key than executor_pk_hex is refused.
		other := sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-inproc")
		other["executor_pk_hex"], other["return_token"], other["token_audience"] = sc.orch.pk.Hex(), true, "trading-api"
		if r := p.call("POST", "/v1/authorize", other, nil); r.status == 200 || r.body["token"] != nil {
			t.Fatalf("proof of another key: %d %s, want a refusal", r.status, r.raw)
		}
	})
}
