package gateway_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// TestRevocationRejections: every malformed or unauthorized revocation is
// refused with its code, and revokes nothing (the fingerprint's status is
// still "not revoked" afterwards).
func TestRevocationRejections(t *testing.T) {
	sc := newScenario(t)
	g := newInProcess(t, map[string]string{"A1_TRUSTED_ROOTS": sc.human.pk.Hex(), "A1_MAX_BATCH": "2"})
	chain := sc.chain(t, 0)
	fp := chain.Certs[1].Fingerprint()
	fpHex := strings.ToLower(strings.TrimSpace(hexOf(fp[:])))
	zero := 0
	signed := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"chain": chain, "index": &zero, "issued_at": now(), "revoker_pk_hex": sc.human.pk.Hex(),
			"signature_hex": strings.Repeat("00", 64), "reason": "r"}
		if edit != nil {
			edit(m)
		}
		return m
	}
	wrongAdmin := map[string]string{"Authorization": "Bearer not-the-token-0123456789"}
	for _, tc := range []struct {
		name, path string
		body       any
		hdr        map[string]string
		status     int
		code       string
	}{
		{"admin form: reason too long", "/v1/cert/revoke", map[string]any{"fingerprint_hex": fpHex, "reason": strings.Repeat("x", 513)}, asAdmin, 400, "MALFORMED_REQUEST"},
		{"admin form: wrong token", "/v1/cert/revoke", map[string]any{"fingerprint_hex": fpHex}, wrongAdmin, 401, "UNAUTHORIZED"},
		{"admin form: token and a signed body", "/v1/cert/revoke", signed(func(m map[string]any) { m["fingerprint_hex"] = fpHex }), asAdmin, 400, "MALFORMED_REQUEST"},
		{"admin form: no fingerprint", "/v1/cert/revoke", map[string]any{"reason": "x"}, asAdmin, 400, "MALFORMED_REQUEST"},
		{"admin form: bad fingerprint", "/v1/cert/revoke", map[string]any{"fingerprint_hex": "zz"}, asAdmin, 400, "INVALID_FINGERPRINT"},
		{"no token, no signature", "/v1/cert/revoke", map[string]any{"fingerprint_hex": fpHex}, nil, 401, "UNAUTHORIZED"},
		{"signed: no index", "/v1/cert/revoke", signed(func(m map[string]any) { delete(m, "index") }), nil, 400, "MALFORMED_REQUEST"},
		{"signed: no revoker", "/v1/cert/revoke", signed(func(m map[string]any) { delete(m, "revoker_pk_hex") }), nil, 400, "MALFORMED_REQUEST"},
		{"signed: short signature", "/v1/cert/revoke", signed(func(m map[string]any) { m["signature_hex"] = "00" }), nil, 400, "MALFORMED_REQUEST"},
		{"signed: signature not hex", "/v1/cert/revoke", signed(func(m map[string]any) { m["signature_hex"] = strings.Repeat("zz", 64) }), nil, 400, "MALFORMED_REQUEST"},
		{"signed: forged signature", "/v1/cert/revoke", signed(nil), nil, 401, "INVALID_PROOF"},
		{"batch: both forms", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{fpHex}, "revocations": []any{signed(nil)}}, asAdmin, 400, "MALFORMED_REQUEST"},
		{"batch: empty", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{}}, asAdmin, 400, "BATCH_EMPTY"},
		{"batch: too large", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{fpHex, fpHex, fpHex}}, asAdmin, 400, "BATCH_TOO_LARGE"},
		{"batch: fingerprints without token", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{fpHex}}, nil, 401, "UNAUTHORIZED"},
		{"batch: reason too long", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{fpHex}, "reason": strings.Repeat("x", 513)}, asAdmin, 400, "MALFORMED_REQUEST"},
		{"batch: one bad fingerprint", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{fpHex, "zz"}}, asAdmin, 400, "INVALID_FINGERPRINT"},
		{"batch: signed entry without chain", "/v1/cert/revoke-batch", map[string]any{"revocations": []any{signed(func(m map[string]any) { delete(m, "chain") })}}, nil, 400, "MALFORMED_REQUEST"},
		{"batch: one forged entry", "/v1/cert/revoke-batch", map[string]any{"revocations": []any{signed(nil)}}, nil, 401, "INVALID_PROOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.call("POST", tc.path, tc.body, tc.hdr)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if st := g.call("GET", "/v1/cert/"+fpHex, nil, nil); st.status != 200 || st.body["revoked"] != false {
				t.Fatalf("after a refused revocation the status is %d %s", st.status, st.raw)
			}
		})
	}
	// The chain still authorizes: nothing was revoked.
	if r := g.call("POST", "/v1/authorize", sc.authReq(chain, 0), nil); r.status != 200 {
		t.Fatalf("authorize after the refused revocations: %d %s", r.status, r.raw)
	}
}

// TestBatchAuthorizeRejections: a batch whose envelope is malformed is
// refused as a whole, before any verification or storage: no item is
// authorized and the chain's nonces stay unconsumed.
func TestBatchAuthorizeRejections(t *testing.T) {
	sc := newScenario(t)
	g := newInProcess(t, map[string]string{"A1_TRUSTED_ROOTS": sc.human.pk.Hex()})
	chain := sc.chain(t, 0, 1)
	item := func(i int) map[string]any {
		return map[string]any{"name": tradeIntents[i].name, "params": tradeIntents[i].params}
	}
	base := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"chain": chain, "executor_pk_hex": sc.tool.pk.Hex(), "intents": []any{item(0), item(1)}}
		edit(m)
		return m
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"request_id too long", base(func(m map[string]any) { m["request_id"] = strings.Repeat("r", 129) }), "MALFORMED_REQUEST"},
		{"no chain", base(func(m map[string]any) { delete(m, "chain") }), "MALFORMED_REQUEST"},
		{"no executor", base(func(m map[string]any) { delete(m, "executor_pk_hex") }), "MALFORMED_REQUEST"},
		{"bad executor", base(func(m map[string]any) { m["executor_pk_hex"] = "abcd" }), "MALFORMED_REQUEST"},
		{"bad proof", base(func(m map[string]any) {
			m["proof"] = map[string]any{"audience": "gw-inproc", "nonce_hex": "zz", "issued_at": now(), "signature_hex": strings.Repeat("00", 64)}
		}), "MALFORMED_REQUEST"},
		{"item without a name", base(func(m map[string]any) { m["intents"] = []any{item(0), map[string]any{"params": map[string]string{}}} }), "MALFORMED_REQUEST"},
		{"item with colliding params", base(func(m map[string]any) {
			m["intents"] = []any{item(0), map[string]any{"name": "trade.equity", "params": map[string]string{"Symbol": "A", "symbol": "B"}}}
		}), "PARAM_COLLISION"},
		{"item with a bad merkle proof", base(func(m map[string]any) {
			m["intents"] = []any{item(0), map[string]any{"name": tradeIntents[1].name, "params": tradeIntents[1].params, "merkle_proof": "nope"}}
		}), "MALFORMED_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.call("POST", "/v1/authorize/batch", tc.body, nil)
			if r.status != 400 || r.code() != tc.code {
				t.Fatalf("%d %s, want 400 %s", r.status, r.raw, tc.code)
			}
			if _, ok := r.body["results"]; ok {
				t.Fatalf("a refused batch carries results: %s", r.raw)
			}
		})
	}
	// Nothing was consumed: the same chain authorizes (once).
	r := g.call("POST", "/v1/authorize/batch", base(func(map[string]any) {}), nil)
	if r.status != 200 || r.body["all_authorized"] != true {
		t.Fatalf("the valid batch after the refusals: %d %s", r.status, r.raw)
	}
	if r := g.call("POST", "/v1/authorize/batch", base(func(map[string]any) {}), nil); r.status != 401 || r.code() != "NONCE_REPLAY" {
		t.Fatalf("replayed batch: %d %s, want 401 NONCE_REPLAY", r.status, r.raw)
	}
}

// TestRootLabelInvalidIs400: text the store refuses (a NUL in a root
// label) is the caller's error, 400, never a 503 that would read as an
// outage, and the root is not added.
func TestRootLabelInvalidIs400(t *testing.T) {
	g := newInProcess(t, nil)
	for _, tc := range []struct {
		name, label string
	}{
		{"NUL", "a\x00b"},
		{"NUL at the end", "ok\x00"},
		{"too long", strings.Repeat("l", 1025)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pk := newKey(t).pk.Hex()
			r := g.call("POST", "/v1/roots", `{"public_key_hex":"`+pk+`","label":`+jsonString(tc.label)+`}`, asAdmin)
			if r.status != 400 || r.code() != "MALFORMED_REQUEST" {
				t.Fatalf("%d %s, want 400 MALFORMED_REQUEST", r.status, r.raw)
			}
			l := g.call("GET", "/v1/roots", nil, asAdmin)
			if l.status != 200 || strings.Contains(string(l.raw), pk) {
				t.Fatalf("roots after the refusal: %d %s", l.status, l.raw)
			}
		})
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
