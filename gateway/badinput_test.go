package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// mutate returns base as JSON with fields replaced (nil value deletes).
func mutate(t *testing.T, base map[string]any, kv ...any) string {
	t.Helper()
	m := map[string]any{}
	b, _ := json.Marshal(base)
	json.Unmarshal(b, &m)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
			continue
		}
		m[k] = kv[i+1]
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// TestBadInput sends malformed requests: each gets its 4xx and error_code,
// a JSON body and the protocol header; none is a 5xx, none authorizes.
func TestBadInput(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_MAX_BODY_BYTES"] = "65536"
	env["A1_MAX_BATCH"] = "4"
	g := startGateway(t, env)
	chain := sc.chain(t, 0)
	base := sc.authReq(chain, 0)
	chainJSON, _ := json.Marshal(chain)
	var chainMap map[string]any
	json.Unmarshal(chainJSON, &chainMap)
	chainWith := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range chainMap {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	certWith := func(k string, v any) map[string]any {
		certs := chainMap["certs"].([]any)
		c0 := map[string]any{}
		for kk, vv := range certs[1].(map[string]any) {
			c0[kk] = vv
		}
		c0[k] = v
		return chainWith("certs", []any{certs[0], c0})
	}
	valid := mutate(t, base)
	hex64 := strings.Repeat("ab", 32)
	aud := g.discovery()["gateway_id"].(string)
	popOK := map[string]any{"audience": aud, "nonce_hex": strings.Repeat("00", 16), "issued_at": now(), "signature_hex": strings.Repeat("00", 64)}
	popWith := func(k string, v any) map[string]any {
		p := map[string]any{}
		for kk, vv := range popOK {
			p[kk] = vv
		}
		p[k] = v
		return p
	}
	manyParams := map[string]string{}
	for i := 0; i < 65; i++ {
		manyParams[fmt.Sprintf("k%d", i)] = "v"
	}
	badHost := newKey(t)

	type tc struct {
		name, method, path, ctype, body string
		hdr                             map[string]string
		status                          int
		code                            string
	}
	A := "/v1/authorize"
	cases := []tc{
		{name: "empty body", path: A, body: "", status: 400, code: "MALFORMED_REQUEST"},
		{name: "not json", path: A, body: "hello", status: 400, code: "MALFORMED_REQUEST"},
		{name: "json array", path: A, body: "[]", status: 400, code: "MALFORMED_REQUEST"},
		{name: "json null", path: A, body: "null", status: 400, code: "MALFORMED_REQUEST"},
		{name: "truncated", path: A, body: valid[:len(valid)/2], status: 400, code: "MALFORMED_REQUEST"},
		{name: "trailing data", path: A, body: valid + "{}", status: 400, code: "MALFORMED_REQUEST"},
		{name: "duplicate top-level key", path: A, body: `{"intent_name":"a","intent_name":"b"}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "duplicate escaped key", path: A, body: `{"intent_name":"a","intent\u005fname":"b"}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "duplicate key in chain", path: A, body: strings.Replace(valid, `"version":1`, `"version":1,"version":1`, 1), status: 400, code: "MALFORMED_REQUEST"},
		{name: "duplicate param key", path: A, body: `{"intent_params":{"a":"1","a":"2"}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "no content type", path: A, ctype: "-", body: valid, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "text/plain", path: A, ctype: "text/plain", body: valid, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "form", path: A, ctype: "application/x-www-form-urlencoded", body: "a=b", status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "body too large", path: A, body: `{"request_id":"` + strings.Repeat("x", 70000) + `"}`, status: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "nesting too deep", path: A, body: strings.Repeat("[", 100) + strings.Repeat("]", 100), status: 400, code: "MALFORMED_REQUEST"},
		{name: "invalid utf8", path: A, body: "{\"intent_name\":\"\xff\"}", status: 400, code: "MALFORMED_REQUEST"},
		{name: "missing chain", path: A, body: mutate(t, base, "chain", nil), status: 400, code: "MALFORMED_REQUEST"},
		{name: "chain null", path: A, body: strings.Replace(mutate(t, base, "chain", nil), "{", `{"chain":null,`, 1), status: 400, code: "MALFORMED_REQUEST"},
		{name: "chain is string", path: A, body: mutate(t, base, "chain", "abc"), status: 400, code: "MALFORMED_REQUEST"},
		{name: "chain version 2", path: A, body: mutate(t, base, "chain", chainWith("version", 2)), status: 400, code: "UNSUPPORTED_VERSION"},
		{name: "chain version huge", path: A, body: mutate(t, base, "chain", chainWith("version", 1e30)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "chain version negative", path: A, body: mutate(t, base, "chain", chainWith("version", -1)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "chain version float", path: A, body: mutate(t, base, "chain", chainWith("version", 1.5)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "principal_pk bad hex", path: A, body: mutate(t, base, "chain", chainWith("principal_pk", strings.Repeat("zz", 32))), status: 400, code: "MALFORMED_REQUEST"},
		{name: "principal_pk short", path: A, body: mutate(t, base, "chain", chainWith("principal_pk", "abcd")), status: 400, code: "MALFORMED_REQUEST"},
		{name: "empty certs", path: A, body: mutate(t, base, "chain", chainWith("certs", []any{})), status: 400, code: "EMPTY_CHAIN"},
		{name: "too many certs", path: A, body: mutate(t, base, "chain", chainWith("certs", make([]any, 40))), status: 400, code: "MALFORMED_REQUEST"},
		{name: "cert version 9", path: A, body: mutate(t, base, "chain", certWith("version", 9)), status: 400, code: "UNSUPPORTED_VERSION"},
		{name: "cert nonce short", path: A, body: mutate(t, base, "chain", certWith("nonce", []int{1, 2, 3})), status: 400, code: "MALFORMED_REQUEST"},
		{name: "cert byte out of range", path: A, body: mutate(t, base, "chain", certWith("nonce", []int{256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})), status: 400, code: "MALFORMED_REQUEST"},
		{name: "cert issued_at huge", path: A, body: mutate(t, base, "chain", certWith("issued_at", 1e40)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "cert max_depth 300", path: A, body: mutate(t, base, "chain", certWith("max_depth", 300)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "cert signature tampered", path: A, body: mutate(t, base, "chain", certWith("expiration_unix", now()+100)), status: 403, code: "INVALID_SIGNATURE"},
		{name: "missing intent_name", path: A, body: mutate(t, base, "intent_name", nil), status: 400, code: "MALFORMED_REQUEST"},
		{name: "intent_name too long", path: A, body: mutate(t, base, "intent_name", strings.Repeat("a", 300)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "intent_name number", path: A, body: mutate(t, base, "intent_name", 5), status: 400, code: "MALFORMED_REQUEST"},
		{name: "param value not string", path: A, body: mutate(t, base, "intent_params", map[string]any{"a": 1}), status: 400, code: "MALFORMED_REQUEST"},
		{name: "params colliding after normalization", path: A, body: mutate(t, base, "intent_params", map[string]string{"Symbol": "x", "symbol ": "y"}), status: 400, code: "PARAM_COLLISION"},
		{name: "too many params", path: A, body: mutate(t, base, "intent_params", manyParams), status: 400, code: "MALFORMED_REQUEST"},
		{name: "param key too long", path: A, body: mutate(t, base, "intent_params", map[string]string{strings.Repeat("k", 200): "v"}), status: 400, code: "MALFORMED_REQUEST"},
		{name: "missing executor", path: A, body: mutate(t, base, "executor_pk_hex", nil), status: 400, code: "MALFORMED_REQUEST"},
		{name: "executor bad hex", path: A, body: mutate(t, base, "executor_pk_hex", strings.Repeat("g", 64)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "executor short", path: A, body: mutate(t, base, "executor_pk_hex", "abcd"), status: 400, code: "MALFORMED_REQUEST"},
		{name: "executor not terminal delegate", path: A, body: mutate(t, base, "executor_pk_hex", badHost.pk.Hex()), status: 403, code: "UNAUTHORIZED_EXECUTOR"},
		{name: "return_token not bool", path: A, body: mutate(t, base, "return_token", "yes"), status: 400, code: "MALFORMED_REQUEST"},
		{name: "request_id too long", path: A, body: mutate(t, base, "request_id", strings.Repeat("r", 200)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "merkle_proof garbage", path: A, body: mutate(t, base, "merkle_proof", map[string]any{"siblings": "x"}), status: 400, code: "MALFORMED_REQUEST"},
		{name: "merkle_proof wrong sibling", path: A, body: mutate(t, base, "merkle_proof", map[string]any{"siblings": []any{map[string]any{"hash": hex64, "is_left": true}}}), status: 403, code: "SCOPE_VIOLATION"},
		{name: "proof nonce short", path: A, body: mutate(t, base, "proof", popWith("nonce_hex", "00")), status: 400, code: "MALFORMED_REQUEST"},
		{name: "proof signature bad hex", path: A, body: mutate(t, base, "proof", popWith("signature_hex", strings.Repeat("q", 128))), status: 400, code: "MALFORMED_REQUEST"},
		{name: "proof issued_at huge", path: A, body: mutate(t, base, "proof", popWith("issued_at", 1e25)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "proof issued_at negative", path: A, body: mutate(t, base, "proof", popWith("issued_at", -5)), status: 400, code: "MALFORMED_REQUEST"},
		{name: "proof wrong audience", path: A, body: mutate(t, base, "proof", popWith("audience", "x")), status: 401, code: "INVALID_PROOF"},
		{name: "proof bad signature", path: A, body: mutate(t, base, "proof", popOK), status: 401, code: "INVALID_PROOF"},
		{name: "proof stale", path: A, body: mutate(t, base, "proof", popWith("issued_at", 1000)), status: 401, code: "PROOF_EXPIRED"},
		{name: "proof audience too long", path: A, body: mutate(t, base, "proof", popWith("audience", strings.Repeat("a", 300))), status: 400, code: "MALFORMED_REQUEST"},
		{name: "batch empty", path: "/v1/authorize/batch", body: `{"chain":` + string(chainJSON) + `,"executor_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[]}`, status: 400, code: "BATCH_EMPTY"},
		{name: "batch too large", path: "/v1/authorize/batch", body: `{"intents":[{"name":"a"},{"name":"a"},{"name":"a"},{"name":"a"},{"name":"a"}]}`, status: 400, code: "BATCH_TOO_LARGE"},
		{name: "batch intent without name", path: "/v1/authorize/batch", body: `{"chain":` + string(chainJSON) + `,"executor_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[{"params":{}}]}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "batch intents not array", path: "/v1/authorize/batch", body: `{"intents":{}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "token verify garbage", path: "/v1/token/verify", body: `{"token":{"mac":"zz"}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "token verify mac short", path: "/v1/token/verify", body: `{"token":{"receipt":{},"mac":"abcd"}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "cert status bad hex", method: "GET", path: "/v1/cert/" + strings.Repeat("z", 64), status: 400, code: "INVALID_FINGERPRINT"},
		{name: "cert status short", method: "GET", path: "/v1/cert/abcd", status: 400, code: "INVALID_FINGERPRINT"},
		{name: "unknown route", method: "GET", path: "/v1/nope", status: 404, code: "NOT_FOUND"},
		{name: "wrong method", method: "GET", path: A, status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "wrong method delete", method: "DELETE", path: "/healthz", status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "revoke signed garbage chain", path: "/v1/cert/revoke", body: `{"chain":{"version":1},"index":0,"revoker_pk_hex":"` + hex64 + `","signature_hex":"00"}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "revoke signed index out of range", path: "/v1/cert/revoke", body: `{"chain":` + string(chainJSON) + `,"index":7,"issued_at":` + fmt.Sprint(now()) + `,"revoker_pk_hex":"` + sc.orch.pk.Hex() + `","signature_hex":"` + strings.Repeat("00", 64) + `"}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "revoke signed bad signature", path: "/v1/cert/revoke", body: `{"chain":` + string(chainJSON) + `,"index":1,"issued_at":` + fmt.Sprint(now()) + `,"revoker_pk_hex":"` + sc.orch.pk.Hex() + `","signature_hex":"` + strings.Repeat("00", 64) + `"}`, status: 401, code: "INVALID_PROOF"},
		{name: "revoke no auth no signature", path: "/v1/cert/revoke", body: `{"fingerprint_hex":"` + hex64 + `"}`, status: 401, code: "UNAUTHORIZED"},
		{name: "admin revoke bad fingerprint", path: "/v1/cert/revoke", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"fingerprint_hex":"xyz"}`, status: 400, code: "INVALID_FINGERPRINT"},
		{name: "admin revoke-batch bad entry", path: "/v1/cert/revoke-batch", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"fingerprints":["` + hex64 + `","nothex"]}`, status: 400, code: "INVALID_FINGERPRINT"},
		{name: "revoke-batch empty", path: "/v1/cert/revoke-batch", body: `{"fingerprints":[]}`, status: 400, code: "BATCH_EMPTY"},
		{name: "issue ttl zero", path: "/v1/cert/issue", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[{"name":"a"}],"ttl_seconds":0}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "issue ttl overflow", path: "/v1/cert/issue", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[{"name":"a"}],"ttl_seconds":18446744073709551616}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "issue max_depth 256", path: "/v1/cert/issue", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[{"name":"a"}],"max_depth":256}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "issue no intents", path: "/v1/cert/issue", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[]}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "issue small-order delegate", path: "/v1/cert/issue", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"delegate_pk_hex":"0100000000000000000000000000000000000000000000000000000000000000","intents":[{"name":"a"}]}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "issue huge extension", path: "/v1/cert/issue", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[{"name":"a"}],"extensions":{"big":"` + strings.Repeat("x", 20000) + `"}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "passport sub foreign passport", path: "/v1/passport/sub", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"passport":` + foreignPassport(t) + `,"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","capabilities":["a"]}`, status: 403, code: "NOT_PASSPORT_HOLDER"},
		{name: "roots add bad key", path: "/v1/roots", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, body: `{"public_key_hex":"abc"}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "revocations bad limit", method: "GET", path: "/v1/revocations?limit=99999", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, status: 400, code: "MALFORMED_REQUEST"},
		{name: "revocations bad cursor", method: "GET", path: "/v1/revocations?cursor=zz", hdr: map[string]string{"Authorization": "Bearer " + adminToken}, status: 400, code: "MALFORMED_REQUEST"},
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "POST"
			}
			hdr := map[string]string{}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			var body any
			if method == "POST" {
				body = c.body
				switch c.ctype {
				case "":
				case "-":
					hdr["Content-Type"] = ""
				default:
					hdr["Content-Type"] = c.ctype
				}
			}
			r := g.do(method, c.path, body, hdr)
			if r.status >= 500 {
				t.Fatalf("5xx: %d %s", r.status, r.raw)
			}
			if r.status != c.status || r.code() != c.code {
				t.Errorf("got %d %q, want %d %q: %.300s", r.status, r.code(), c.status, c.code, r.raw)
			}
			if _, ok := r.body["error"].(string); !ok {
				t.Errorf("error body is not JSON {error, error_code}: %.200s", r.raw)
			}
			if r.body["authorized"] == true {
				t.Errorf("authorized a malformed request")
			}
		})
	}
	// The valid request still works after all that, and nothing panicked.
	if r := g.post(A, valid); r.status != 200 {
		t.Errorf("valid request: %d %s", r.status, r.raw)
	}
	if strings.Contains(g.stderr.String(), "panic") {
		t.Errorf("a handler panicked: %s", g.stderr.String())
	}
}

func foreignPassport(t *testing.T) string {
	k := newKey(t)
	p, err := a1.IssuePassport(k.signer(), "foreign", []string{"a", "b"}, now(), 600)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.MarshalFile()
	return string(b)
}

// adminRoutes are the routes that need the admin bearer, with a body that
// would otherwise be valid enough to reach the handler.
func adminRoutes() [][3]string {
	return [][3]string{
		{"POST", "/v1/cert/issue", `{"delegate_pk_hex":"` + strings.Repeat("ab", 32) + `","intents":[{"name":"a"}]}`},
		{"POST", "/v1/passport/issue", `{"namespace":"n","capabilities":["a"]}`},
		{"POST", "/v1/passport/sub", `{}`},
		{"GET", "/v1/revocations", ""},
		{"GET", "/v1/roots", ""},
		{"POST", "/v1/roots", `{"public_key_hex":"` + strings.Repeat("ab", 32) + `"}`},
		{"DELETE", "/v1/roots/" + strings.Repeat("ab", 32), ""},
		{"POST", "/v1/cert/revoke", `{"fingerprint_hex":"` + strings.Repeat("ab", 32) + `"}`},
		{"POST", "/v1/cert/revoke-batch", `{"fingerprints":["` + strings.Repeat("ab", 32) + `"]}`},
	}
}

// TestAdminAuth: every admin route rejects a missing or wrong bearer
// (401 UNAUTHORIZED), and answers 403 ADMIN_DISABLED with no token
// configured. The route table and the test's list must agree.
func TestAdminAuth(t *testing.T) {
	var admin []string
	for _, r := range gateway.RouteTable() {
		if r.Admin {
			admin = append(admin, r.Method+" "+r.Path)
		}
	}
	var listed []string
	for _, r := range adminRoutes() {
		if r[2] != "" || r[0] != "POST" {
			listed = append(listed, r[0]+" "+strings.Replace(r[1], strings.Repeat("ab", 32), "{public_key_hex}", 1))
		}
	}
	for _, a := range admin {
		found := false
		for _, l := range listed {
			found = found || l == a
		}
		if !found {
			t.Errorf("admin route %s is not covered by this test", a)
		}
	}

	on := startGateway(t, baseEnv(t))
	offEnv := baseEnv(t)
	delete(offEnv, "A1_ADMIN_TOKEN")
	off := startGateway(t, offEnv)
	for _, r := range adminRoutes() {
		var body any
		if r[2] != "" {
			body = r[2]
		}
		for _, h := range []map[string]string{
			{"Authorization": ""},
			{"Authorization": "Bearer wrong-token-wrong-token"},
			{"Authorization": "Bearer " + adminToken + "x"},
			{"Authorization": "Basic " + adminToken},
			{"Authorization": "bearer " + adminToken},
		} {
			got := on.do(r[0], r[1], body, h)
			want := 401
			if got.status != want || got.code() != "UNAUTHORIZED" {
				t.Errorf("%s %s with %q: %d %s", r[0], r[1], h["Authorization"], got.status, got.raw)
			}
		}
		got := off.do(r[0], r[1], body, map[string]string{"Authorization": "Bearer " + adminToken})
		if got.status != http.StatusForbidden || got.code() != "ADMIN_DISABLED" {
			t.Errorf("%s %s on a gateway without token: %d %s", r[0], r[1], got.status, got.raw)
		}
	}
	// And with the right token the routes answer (not 401/403).
	if r := on.admin("GET", "/v1/roots", nil); r.status != 200 {
		t.Errorf("GET /v1/roots with token: %d %s", r.status, r.raw)
	}
}

// TestOpenAPICoversRoutes: every registered route is in the served
// OpenAPI document, and the document lists no route that does not exist.
func TestOpenAPICoversRoutes(t *testing.T) {
	g := startGateway(t, baseEnv(t))
	r := g.do("GET", "/openapi.json", nil, nil)
	if r.status != 200 || r.body["openapi"] == nil {
		t.Fatalf("openapi: %d %.200s", r.status, r.raw)
	}
	paths := r.body["paths"].(map[string]any)
	registered := map[string]bool{}
	for _, rt := range gateway.RouteTable() {
		key := strings.ToLower(rt.Method) + " " + rt.Path
		registered[key] = true
		ops, ok := paths[rt.Path].(map[string]any)
		if !ok || ops[strings.ToLower(rt.Method)] == nil {
			t.Errorf("route %s %s missing from openapi.json", rt.Method, rt.Path)
		}
	}
	var extra []string
	for p, ops := range paths {
		for m := range ops.(map[string]any) {
			if !registered[m+" "+p] {
				extra = append(extra, m+" "+p)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.json documents unregistered routes: %v", extra)
	}
}

// TestAdminTokenRotation: with A1_ADMIN_TOKENS_PREVIOUS a previous admin
// token keeps working (audited as "admin (previous token)") beside the new
// one; a token that is neither is 401; the start log warns; previous tokens
// without a current one are refused at start.
func TestAdminTokenRotation(t *testing.T) {
	const newToken = "new-admin-token-0123456789abcdef"
	const retired = "retired-admin-token-0123456789ab"
	env := baseEnv(t)
	env["A1_ADMIN_TOKEN"] = newToken
	env["A1_ADMIN_TOKENS_PREVIOUS"] = adminToken
	g := startGateway(t, env)
	if !strings.Contains(g.stderr.String(), "previous admin tokens are accepted") {
		t.Errorf("no start warning about previous admin tokens: %s", g.stderr.String())
	}
	for _, c := range []struct {
		token string
		want  int
	}{
		{newToken, 200},
		{adminToken, 200},
		{retired, 401},
		{newToken + adminToken, 401},
	} {
		if r := g.do("GET", "/v1/roots", nil, map[string]string{"Authorization": "Bearer " + c.token}); r.status != c.want {
			t.Errorf("token %.8s…: %d, want %d", c.token, r.status, c.want)
		}
	}
	waitFor(t, 5*time.Second, "admin audit events", func() bool {
		return strings.Count(g.audit.String(), `"kind":"admin"`) >= 4
	})
	var actors []string
	for _, line := range strings.Split(g.audit.String(), "\n") {
		// Allowed calls are audited as roots.list, refused ones by path.
		if strings.Contains(line, `"action":"roots.list"`) || strings.Contains(line, `"action":"/v1/roots"`) {
			var ev struct{ Actor string }
			if json.Unmarshal([]byte(line), &ev) == nil {
				actors = append(actors, ev.Actor)
			}
		}
	}
	if want := []string{"admin", "admin (previous token)", "anonymous", "anonymous"}; !slices.Equal(actors, want) {
		t.Errorf("audited actors %q, want %q", actors, want)
	}

	bad := baseEnv(t)
	delete(bad, "A1_ADMIN_TOKEN")
	bad["A1_ADMIN_TOKENS_PREVIOUS"] = adminToken
	b := tryStart(t, bad)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway with previous tokens but no current one did not exit")
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(b.stderr.String(), "a1: error: A1_ADMIN_TOKENS_PREVIOUS") {
		t.Errorf("exit %d: %s", code, b.stderr.String())
	}
}
