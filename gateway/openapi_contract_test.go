package gateway_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/a1-go/a1"
)

// contract validates real exchanges with a gateway process against
// gateway/openapi.json: the request (body, parameters, security) and the
// response (status, declared headers, content type, body schema).
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	// covered records "METHOD /path/template STATUS" of every exchange.
	covered map[string]bool
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	// /metrics answers the Prometheus protobuf format when asked for it;
	// the document describes it as binary.
	openapi3filter.RegisterBodyDecoder("application/vnd.google.protobuf", openapi3filter.FileBodyDecoder)
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaDefaultsValidation(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{t: t, doc: doc, router: router, covered: map[string]bool{}}
}

// bearerAuth checks what the document can say of the admin bearer: that an
// Authorization: Bearer credential is present (its value is the gateway's).
func bearerAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	vals := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(vals) != 1 || !strings.HasPrefix(vals[0], "Bearer ") || len(vals[0]) == len("Bearer ") {
		return errors.New("no bearer credential")
	}
	return nil
}

func (c *contract) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    bearerAuth,
	}
}

// exchange is one request and what the gateway must answer.
type exchange struct {
	name         string
	method, path string
	body         any               // nil, string, []byte, or a value sent as JSON
	ctype        string            // Content-Type when body != nil (default application/json)
	hdr          map[string]string // extra request headers
	admin        bool              // send the admin bearer
	status       int               // the status the gateway must answer
	code         string            // its error_code, when an error
	// badRequest: the request itself violates the document (and the
	// gateway refuses it). Otherwise the document must accept it.
	badRequest bool
}

// answer is a response as received.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (a answer) code() string { s, _ := a.body["error_code"].(string); return s }

func (c *contract) newRequest(g *gw, x exchange, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(x.method, g.url+x.path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		ct := x.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if x.admin {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	for k, v := range x.hdr {
		req.Header.Set(k, v)
	}
	return req
}

func bodyBytes(t testing.TB, v any) []byte {
	switch b := v.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// do sends x to g, checks the status and error code, and validates the
// request and the response against the document.
func (c *contract) do(g *gw, x exchange) answer {
	t := c.t
	t.Helper()
	what := fmt.Sprintf("%s (%s %s)", x.name, x.method, x.path)
	body := bodyBytes(t, x.body)

	// The request, against the document.
	vreq := c.newRequest(g, x, body)
	route, params, rerr := c.router.FindRoute(vreq)
	var in *openapi3filter.RequestValidationInput
	if rerr == nil {
		in = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: c.options()}
		verr := openapi3filter.ValidateRequest(context.Background(), in)
		switch {
		case verr != nil && !x.badRequest:
			t.Errorf("%s: the document rejects a request the gateway must accept: %v", what, verr)
		case verr == nil && x.badRequest:
			t.Errorf("%s: the document accepts a request the test expects it to reject", what)
		}
	}

	// The real exchange.
	resp, err := g.client.Do(c.newRequest(g, x, body))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	if a.status != x.status || a.code() != x.code {
		t.Errorf("%s: %d %q, want %d %q: %.300s", what, a.status, a.code(), x.status, x.code, raw)
	}

	// The response, against the document.
	if rerr != nil {
		c.checkUnrouted(what, rerr, a)
		return a
	}
	c.covered[fmt.Sprintf("%s %s %d", route.Method, route.Path, a.status)] = true
	if err := c.validateResponse(in, a); err != nil {
		t.Errorf("%s: the response does not match the document: %v\n%d %s %.400q", what, err, a.status, a.header.Get("Content-Type"), raw)
	}
	return a
}

func (c *contract) validateResponse(in *openapi3filter.RequestValidationInput, a answer) error {
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.status, Header: a.header, Options: c.options()}
	out.SetBodyBytes(a.raw)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// checkUnrouted validates an answer to a path or method the document does
// not list: a 404 or 405 with the documented Error body and headers.
func (c *contract) checkUnrouted(what string, rerr error, a answer) {
	t := c.t
	t.Helper()
	var re *routers.RouteError
	if !errors.As(rerr, &re) {
		t.Errorf("%s: router: %v", what, rerr)
		return
	}
	if a.status != 404 && a.status != 405 {
		t.Errorf("%s: not in the document, answered %d", what, a.status)
	}
	c.covered[fmt.Sprintf("unrouted %d", a.status)] = true
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	var v any
	if err := json.Unmarshal(a.raw, &v); err != nil {
		t.Errorf("%s: body is not JSON: %v", what, err)
		return
	}
	if err := c.doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
		t.Errorf("%s: body does not match #/components/schemas/Error: %v", what, err)
	}
	h := c.doc.Components.Headers["X-A1-Protocol"]
	if h == nil {
		t.Fatalf("#/components/headers/X-A1-Protocol is not in the document")
	}
	if err := h.Value.Schema.Value.VisitJSON(a.header.Get("X-A1-Protocol")); err != nil {
		t.Errorf("%s: X-A1-Protocol: %v", what, err)
	}
}

// TestOpenAPIContract drives real gateway processes through every route
// and every status each can cheaply be made to answer, and validates each
// request and response against gateway/openapi.json.
func TestOpenAPIContract(t *testing.T) {
	c := loadContract(t)
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_MAX_BODY_BYTES"] = "65536"
	env["A1_GATEWAY_ID"] = "gw-contract"
	g := startGateway(t, env)
	const aud = "gw-contract"
	hexOf := func(b [32]byte) string { return hex.EncodeToString(b[:]) }

	// Probes, discovery and the document itself.
	c.do(g, exchange{name: "healthz", method: "GET", path: "/healthz", status: 200})
	c.do(g, exchange{name: "health alias", method: "GET", path: "/health", status: 200})
	c.do(g, exchange{name: "readyz", method: "GET", path: "/readyz", status: 200})
	c.do(g, exchange{name: "livez", method: "GET", path: "/livez", status: 200})
	c.do(g, exchange{name: "metrics", method: "GET", path: "/metrics", status: 200})
	c.do(g, exchange{name: "metrics, protobuf accepted", method: "GET", path: "/metrics", status: 200,
		hdr: map[string]string{"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}})
	c.do(g, exchange{name: "discovery", method: "GET", path: "/.well-known/a1-configuration", status: 200})
	doc := c.do(g, exchange{name: "openapi", method: "GET", path: "/openapi.json", status: 200})
	if file, _ := os.ReadFile("openapi.json"); !bytes.Equal(doc.raw, file) {
		t.Errorf("the served /openapi.json is not gateway/openapi.json")
	}
	if r := c.do(g, exchange{name: "X-Request-Id echoed", method: "GET", path: "/livez", status: 200,
		hdr: map[string]string{"X-Request-Id": "contract-1"}}); r.header.Get("X-Request-Id") != "contract-1" {
		t.Errorf("X-Request-Id not echoed")
	}

	// Authorize: allowed, each kind of denial.
	chain := sc.chain(t, 0)
	req := sc.authReq(chain, 0)
	req["return_token"] = true
	ok := c.do(g, exchange{name: "authorize", method: "POST", path: "/v1/authorize", body: req, status: 200})
	token := ok.body["token"]
	c.do(g, exchange{name: "authorize replay", method: "POST", path: "/v1/authorize", body: req, status: 401, code: "NONCE_REPLAY"})
	c.do(g, exchange{name: "authorize without params (null)", method: "POST", path: "/v1/authorize",
		body: sc.authReq(sc.chain(t, 0, 2), 2), status: 200})
	c.do(g, exchange{name: "authorize scope violation", method: "POST", path: "/v1/authorize",
		body: sc.authReq(sc.chain(t, 0), 2), status: 403, code: "SCOPE_VIOLATION"})
	pc := sc.chain(t, 0)
	c.do(g, exchange{name: "authorize with PoP", method: "POST", path: "/v1/authorize",
		body: sc.withPoP(t, sc.authReq(pc, 0), pc, 0, aud), status: 200, hdr: map[string]string{"X-Request-Id": "contract-2"}})
	c.do(g, exchange{name: "authorize bad PoP", method: "POST", path: "/v1/authorize",
		body: sc.withPoP(t, sc.authReq(pc, 0), pc, 0, "another-gateway"), status: 401, code: "INVALID_PROOF"})
	stranger := newKey(t)
	foreign, _ := a1.NewCert(sc.tool.pk, []a1.IntentHash{sc.intents[0]}, now()-5, 600)
	if err := foreign.Sign(stranger.signer()); err != nil {
		t.Fatal(err)
	}
	c.do(g, exchange{name: "authorize untrusted root", method: "POST", path: "/v1/authorize",
		body: map[string]any{"chain": a1.NewChain(stranger.pk, foreign.ScopeRoot, foreign), "intent_name": tradeIntents[0].name,
			"intent_params": tradeIntents[0].params, "executor_pk_hex": sc.tool.pk.Hex()}, status: 403, code: "UNTRUSTED_ROOT"})
	c.do(g, exchange{name: "authorize malformed JSON", method: "POST", path: "/v1/authorize", body: `{"chain":`,
		status: 400, code: "MALFORMED_REQUEST", badRequest: true})
	c.do(g, exchange{name: "authorize missing intent_name", method: "POST", path: "/v1/authorize",
		body: mutate(t, sc.authReq(sc.chain(t, 0), 0), "intent_name", nil), status: 400, code: "MALFORMED_REQUEST", badRequest: true})
	c.do(g, exchange{name: "authorize case-twin member", method: "POST", path: "/v1/authorize",
		body: mutate(t, sc.authReq(sc.chain(t, 0), 0), "INTENT_NAME", "trade.fx"), status: 400, code: "MALFORMED_REQUEST"})
	c.do(g, exchange{name: "authorize wrong content type", method: "POST", path: "/v1/authorize", body: "chain=x", ctype: "text/plain",
		status: 415, code: "UNSUPPORTED_MEDIA_TYPE", badRequest: true})
	c.do(g, exchange{name: "authorize Content-Encoding", method: "POST", path: "/v1/authorize", body: sc.authReq(sc.chain(t, 0), 0),
		hdr: map[string]string{"Content-Encoding": "gzip"}, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"})
	big := sc.authReq(sc.chain(t, 0), 0)
	big["padding"] = strings.Repeat("x", 70000)
	c.do(g, exchange{name: "authorize too large", method: "POST", path: "/v1/authorize", body: big, status: 413, code: "PAYLOAD_TOO_LARGE"})

	// Batch authorize.
	bchain := sc.chain(t, 0, 3)
	batch := map[string]any{
		"chain": bchain, "executor_pk_hex": sc.tool.pk.Hex(), "return_token": true, "request_id": "batch-1",
		"intents": []map[string]any{
			{"name": tradeIntents[0].name, "params": tradeIntents[0].params},
			{"name": tradeIntents[3].name, "params": tradeIntents[3].params},
			{"name": tradeIntents[2].name},
		},
	}
	if r := c.do(g, exchange{name: "batch", method: "POST", path: "/v1/authorize/batch", body: batch, status: 200}); r.body["authorized_count"] != float64(2) {
		t.Errorf("batch: %s", r.raw)
	}
	c.do(g, exchange{name: "batch replay", method: "POST", path: "/v1/authorize/batch", body: batch, status: 401, code: "NONCE_REPLAY"})
	c.do(g, exchange{name: "batch empty", method: "POST", path: "/v1/authorize/batch",
		body:   map[string]any{"chain": sc.chain(t, 0), "executor_pk_hex": sc.tool.pk.Hex(), "intents": []any{}},
		status: 400, code: "BATCH_EMPTY", badRequest: true})
	c.do(g, exchange{name: "batch wrong content type", method: "POST", path: "/v1/authorize/batch", body: "{}", ctype: "application/xml",
		status: 415, code: "UNSUPPORTED_MEDIA_TYPE", badRequest: true})

	// Token verify.
	c.do(g, exchange{name: "token verify", method: "POST", path: "/v1/token/verify", body: map[string]any{"token": token}, status: 200})
	c.do(g, exchange{name: "token verify, bare token", method: "POST", path: "/v1/token/verify", body: token, status: 200})
	bad := map[string]any{}
	for k, v := range token.(map[string]any) {
		bad[k] = v
	}
	bad["mac"] = strings.Repeat("ab", 32)
	if r := c.do(g, exchange{name: "token verify, bad MAC", method: "POST", path: "/v1/token/verify", body: map[string]any{"token": bad},
		status: 401, code: "MAC_VERIFICATION_FAILED"}); r.body["valid"] != false {
		t.Errorf("bad MAC: %s", r.raw)
	}
	c.do(g, exchange{name: "token verify, not a token", method: "POST", path: "/v1/token/verify", body: map[string]any{"token": map[string]any{"mac": 1}},
		status: 400, code: "MALFORMED_REQUEST", badRequest: true})
	// Bound tokens (docs/spec.md §3.3).
	bc := sc.chain(t, 0)
	breq := sc.withPoP(t, sc.authReq(bc, 0), bc, 0, aud)
	breq["return_token"], breq["token_audience"] = true, "trading-api"
	bound := c.do(g, exchange{name: "authorize, bound token", method: "POST", path: "/v1/authorize", body: breq, status: 200}).body["token"]
	c.do(g, exchange{name: "token verify, bound token for its audience", method: "POST", path: "/v1/token/verify",
		body: map[string]any{"token": bound, "audience": "trading-api"}, status: 200})
	c.do(g, exchange{name: "token verify, bound token for another audience", method: "POST", path: "/v1/token/verify",
		body: map[string]any{"token": bound, "audience": "payments-api"}, status: 401, code: "TOKEN_AUDIENCE_MISMATCH"})
	c.do(g, exchange{name: "authorize, token_audience without return_token", method: "POST", path: "/v1/authorize",
		body: mutate(t, sc.authReq(sc.chain(t, 0), 0), "token_audience", "trading-api"), status: 400, code: "MALFORMED_REQUEST"})

	// Issuance (admin).
	tool := newKey(t)
	c.do(g, exchange{name: "cert issue", method: "POST", path: "/v1/cert/issue", admin: true, status: 201, body: map[string]any{
		"delegate_pk_hex": tool.pk.Hex(),
		"intents":         []map[string]any{{"name": "db.read", "params": map[string]string{"table": "orders"}}, {"name": "db.list"}},
		"ttl_seconds":     600, "max_depth": 1,
		"extensions": map[string]any{"dyolo.cost_center": "ops", "n": 5, "list": []any{"a", 1}},
	}})
	c.do(g, exchange{name: "cert issue reserved extension", method: "POST", path: "/v1/cert/issue", admin: true, status: 400, code: "RESERVED_EXTENSION",
		body: map[string]any{"delegate_pk_hex": tool.pk.Hex(), "intents": []map[string]any{{"name": "x"}}, "extensions": map[string]any{"dyolo.passport.mask": "ff"}}})
	c.do(g, exchange{name: "cert issue bad key", method: "POST", path: "/v1/cert/issue", admin: true, status: 400, code: "MALFORMED_REQUEST", badRequest: true,
		body: map[string]any{"delegate_pk_hex": "abcd", "intents": []map[string]any{{"name": "x"}}}})
	c.do(g, exchange{name: "cert issue without token", method: "POST", path: "/v1/cert/issue", status: 401, code: "UNAUTHORIZED", badRequest: true,
		body: map[string]any{"delegate_pk_hex": tool.pk.Hex(), "intents": []map[string]any{{"name": "x"}}}})
	c.do(g, exchange{name: "cert issue wrong token", method: "POST", path: "/v1/cert/issue", status: 401, code: "UNAUTHORIZED",
		hdr:  map[string]string{"Authorization": "Bearer not-the-token"},
		body: map[string]any{"delegate_pk_hex": tool.pk.Hex(), "intents": []map[string]any{{"name": "x"}}}})
	p := c.do(g, exchange{name: "passport issue", method: "POST", path: "/v1/passport/issue", admin: true, status: 201,
		body: map[string]any{"namespace": "acme-bot", "capabilities": []string{"files.read", "files.write"}, "ttl_seconds": 3600}})
	c.do(g, exchange{name: "passport issue, no capabilities", method: "POST", path: "/v1/passport/issue", admin: true, status: 400,
		code: "MALFORMED_REQUEST", badRequest: true, body: map[string]any{"namespace": "acme-bot", "capabilities": []string{}}})
	sub := c.do(g, exchange{name: "passport sub", method: "POST", path: "/v1/passport/sub", admin: true, status: 201,
		body: map[string]any{"passport": p.body["passport"], "delegate_pk_hex": tool.pk.Hex(), "capabilities": []string{"files.read"}, "ttl_seconds": 600}})
	other, err := a1.IssuePassport(stranger.signer(), "elsewhere", []string{"files.read"}, now()-5, 600)
	if err != nil {
		t.Fatal(err)
	}
	otherFile, _ := other.MarshalFile()
	c.do(g, exchange{name: "passport sub, not the holder", method: "POST", path: "/v1/passport/sub", admin: true, status: 403, code: "NOT_PASSPORT_HOLDER",
		body: map[string]any{"passport": json.RawMessage(otherFile), "delegate_pk_hex": tool.pk.Hex(), "capabilities": []string{"files.read"}}})
	c.do(g, exchange{name: "passport authorize", method: "POST", path: "/v1/passport/authorize", status: 200,
		body: map[string]any{"chain": sub.body["chain"], "intent_name": "files.read", "executor_pk_hex": tool.pk.Hex()}})
	c.do(g, exchange{name: "passport authorize, narrowing", method: "POST", path: "/v1/passport/authorize", status: 403, code: "SCOPE_VIOLATION",
		body: map[string]any{"chain": sub.body["chain"], "intent_name": "files.write", "executor_pk_hex": tool.pk.Hex()}})

	// Revocation: admin and signed, single and batch; status.
	fp1 := sc.c1.Fingerprint()
	c.do(g, exchange{name: "cert status, not revoked", method: "GET", path: "/v1/cert/" + hexOf(fp1), status: 200})
	c.do(g, exchange{name: "cert status, bad fingerprint", method: "GET", path: "/v1/cert/xyz", status: 400, code: "INVALID_FINGERPRINT", badRequest: true})
	signed := func(k key, ch *a1.SignedChain, idx int) map[string]any {
		rv := &a1.SignedRevocation{Chain: ch, Index: idx, Reason: "rotated", IssuedAt: now()}
		if err := rv.Sign(k.signer(), aud); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"chain": ch, "index": idx, "reason": rv.Reason, "issued_at": rv.IssuedAt,
			"revoker_pk_hex": rv.Revoker.Hex(), "signature_hex": hex.EncodeToString(rv.Signature[:])}
	}
	rch := sc.chain(t, 0)
	c.do(g, exchange{name: "signed revoke by a stranger", method: "POST", path: "/v1/cert/revoke", body: signed(sc.tool, rch, 1),
		status: 403, code: "REVOCATION_UNAUTHORIZED"})
	c.do(g, exchange{name: "signed revoke", method: "POST", path: "/v1/cert/revoke", body: signed(sc.orch, rch, 1), status: 200})
	c.do(g, exchange{name: "revoke without token or signature", method: "POST", path: "/v1/cert/revoke",
		body: map[string]any{"fingerprint_hex": hexOf(fp1)}, status: 401, code: "UNAUTHORIZED"})
	c.do(g, exchange{name: "admin revoke, bad fingerprint", method: "POST", path: "/v1/cert/revoke", admin: true,
		body: map[string]any{"fingerprint_hex": "zz"}, status: 400, code: "INVALID_FINGERPRINT", badRequest: true})
	c.do(g, exchange{name: "admin revoke", method: "POST", path: "/v1/cert/revoke", admin: true,
		body: map[string]any{"fingerprint_hex": hexOf(fp1), "reason": "compromised"}, status: 200})
	c.do(g, exchange{name: "admin revoke again", method: "POST", path: "/v1/cert/revoke", admin: true,
		body: map[string]any{"fingerprint_hex": hexOf(fp1)}, status: 200})
	c.do(g, exchange{name: "cert status, revoked", method: "GET", path: "/v1/cert/" + hexOf(fp1), status: 200})
	if r := c.do(g, exchange{name: "authorize revoked", method: "POST", path: "/v1/authorize", body: sc.authReq(sc.chain(t, 0), 0),
		status: 401, code: "CERT_REVOKED"}); r.body["hop"] != float64(0) {
		t.Errorf("revoked: no hop: %s", r.raw)
	}
	c.do(g, exchange{name: "admin revoke-batch", method: "POST", path: "/v1/cert/revoke-batch", admin: true, status: 200,
		body: map[string]any{"fingerprints": []string{strings.Repeat("ab", 32), strings.Repeat("cd", 32)}, "reason": "batch"}})
	rch2 := sc.chain(t, 0)
	c.do(g, exchange{name: "signed revoke-batch", method: "POST", path: "/v1/cert/revoke-batch", status: 200,
		body: map[string]any{"revocations": []any{signed(sc.orch, rch2, 1)}}})
	c.do(g, exchange{name: "revoke-batch empty", method: "POST", path: "/v1/cert/revoke-batch", admin: true, status: 400, code: "BATCH_EMPTY",
		body: map[string]any{}})
	c.do(g, exchange{name: "revoke-batch without token", method: "POST", path: "/v1/cert/revoke-batch", status: 401, code: "UNAUTHORIZED",
		body: map[string]any{"fingerprints": []string{strings.Repeat("ab", 32)}}})
	l := c.do(g, exchange{name: "revocations, page 1", method: "GET", path: "/v1/revocations?limit=2", admin: true, status: 200})
	if cur, _ := l.body["next_cursor"].(string); cur != "" {
		c.do(g, exchange{name: "revocations, page 2", method: "GET", path: "/v1/revocations?limit=2&cursor=" + cur, admin: true, status: 200})
	}
	c.do(g, exchange{name: "revocations, bad limit", method: "GET", path: "/v1/revocations?limit=0", admin: true, status: 400,
		code: "MALFORMED_REQUEST", badRequest: true})
	c.do(g, exchange{name: "revocations without token", method: "GET", path: "/v1/revocations", status: 401, code: "UNAUTHORIZED", badRequest: true})

	// Trust anchors (admin).
	human := newKey(t)
	c.do(g, exchange{name: "roots add", method: "POST", path: "/v1/roots", admin: true, status: 201,
		body: map[string]any{"public_key_hex": human.pk.Hex(), "label": "alice"}})
	c.do(g, exchange{name: "roots add, no label", method: "POST", path: "/v1/roots", admin: true, status: 201,
		body: map[string]any{"public_key_hex": newKey(t).pk.Hex()}})
	c.do(g, exchange{name: "roots add, bad key", method: "POST", path: "/v1/roots", admin: true, status: 400, code: "MALFORMED_REQUEST",
		badRequest: true, body: map[string]any{"public_key_hex": "00"}})
	c.do(g, exchange{name: "roots list", method: "GET", path: "/v1/roots", admin: true, status: 200})
	c.do(g, exchange{name: "roots list without token", method: "GET", path: "/v1/roots", status: 401, code: "UNAUTHORIZED", badRequest: true})
	c.do(g, exchange{name: "roots remove", method: "DELETE", path: "/v1/roots/" + human.pk.Hex(), admin: true, status: 200})
	c.do(g, exchange{name: "roots remove, absent", method: "DELETE", path: "/v1/roots/" + human.pk.Hex(), admin: true, status: 200})
	c.do(g, exchange{name: "roots remove, bad key", method: "DELETE", path: "/v1/roots/abc", admin: true, status: 400, code: "MALFORMED_REQUEST", badRequest: true})

	// Unknown routes and methods.
	c.do(g, exchange{name: "unknown path", method: "GET", path: "/v1/nope", status: 404, code: "NOT_FOUND"})
	c.do(g, exchange{name: "non-canonical path", method: "GET", path: "/v1/../healthz", status: 404, code: "NOT_FOUND"})
	c.do(g, exchange{name: "method not allowed", method: "DELETE", path: "/v1/authorize", status: 405, code: "METHOD_NOT_ALLOWED"})

	// A gateway without an admin token: admin routes are 403.
	offEnv := baseEnv(t)
	delete(offEnv, "A1_ADMIN_TOKEN")
	off := startGateway(t, offEnv)
	c.do(off, exchange{name: "admin disabled", method: "GET", path: "/v1/roots", admin: true, status: 403, code: "ADMIN_DISABLED"})
	c.do(off, exchange{name: "admin revoke disabled", method: "POST", path: "/v1/cert/revoke", status: 403, code: "ADMIN_DISABLED",
		body: map[string]any{"fingerprint_hex": hexOf(fp1)}})

	// Rate limited: 429 with Retry-After.
	rlEnv := baseEnv(t)
	rlEnv["A1_RATE_LIMIT_RPS"] = "1"
	rlEnv["A1_RATE_LIMIT_BURST"] = "1"
	rl := startGateway(t, rlEnv)
	c.do(rl, exchange{name: "within the rate", method: "GET", path: "/.well-known/a1-configuration", status: 200})
	c.do(rl, exchange{name: "rate limited", method: "GET", path: "/openapi.json", status: 429, code: "RATE_LIMITED"})
	c.do(rl, exchange{name: "rate limited authorize", method: "POST", path: "/v1/authorize", body: sc.authReq(sc.chain(t, 0), 0),
		status: 429, code: "RATE_LIMITED"})
	c.do(rl, exchange{name: "probes are not rate limited", method: "GET", path: "/livez", status: 200})

	// Storage unreachable (a Redis store on a closed port): 503s.
	downEnv := baseEnv(t)
	downEnv["A1_STORE"] = "redis"
	downEnv["A1_REDIS_URL"] = "redis://" + freePort(t) + "/0"
	downEnv["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	down := tryStart(t, downEnv)
	waitFor(t, 20*time.Second, "/livez", down.answers("/livez", 200))
	c.do(down, exchange{name: "healthz, storage down", method: "GET", path: "/healthz", status: 503})
	// Redis has no schema: /readyz stays 200 while /healthz is 503.
	c.do(down, exchange{name: "readyz, Redis down", method: "GET", path: "/readyz", status: 200})
	c.do(down, exchange{name: "authorize, storage down", method: "POST", path: "/v1/authorize", body: sc.authReq(sc.chain(t, 0), 0),
		status: 503, code: "STORAGE_UNAVAILABLE"})
	c.do(down, exchange{name: "cert status, storage down", method: "GET", path: "/v1/cert/" + hexOf(fp1), status: 503, code: "STORAGE_UNAVAILABLE"})

	// PostgreSQL reachable but not migrated: /readyz and /healthz are 503.
	t.Run("not migrated", func(t *testing.T) {
		cc := *c
		cc.t = t
		nm := startUnmigrated(t)
		cc.do(nm, exchange{name: "readyz, not migrated", method: "GET", path: "/readyz", status: 503})
		cc.do(nm, exchange{name: "healthz, not migrated", method: "GET", path: "/healthz", status: 503})
	})

	c.report()
}

// report logs which documented (operation, status) pairs the test
// exercised, and fails when an operation's success status was not.
func (c *contract) report() {
	t := c.t
	var done, missing []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			success := false
			for status := range op.Responses.Map() {
				k := fmt.Sprintf("%s %s %s", method, path, status)
				if c.covered[k] {
					done = append(done, k)
					success = success || status[0] == '2'
				} else {
					missing = append(missing, k)
				}
			}
			if !success {
				t.Errorf("%s %s: no success exchange validated", method, path)
			}
		}
	}
	sort.Strings(done)
	sort.Strings(missing)
	t.Logf("validated %d documented (operation, status) pairs; not exercised: %s", len(done), strings.Join(missing, ", "))
}

// TestOpenAPIContractRejects: the validator used above really fails on
// exchanges that break the document, so the contract test can fail.
func TestOpenAPIContractRejects(t *testing.T) {
	c := loadContract(t)
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)

	body := bodyBytes(t, sc.authReq(sc.chain(t, 0), 0))
	x := exchange{method: "POST", path: "/v1/authorize", body: body}
	vreq := c.newRequest(g, x, body)
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: c.options()}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("a real request does not validate: %v", err)
	}
	resp, err := g.client.Do(c.newRequest(g, x, body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	real := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if real.status != 200 {
		t.Fatalf("authorize: %d %s", real.status, raw)
	}
	if err := c.validateResponse(in, real); err != nil {
		t.Fatalf("the real response does not validate: %v", err)
	}

	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		a    answer
	}{
		{"missing required field", answer{200, real.header, edit(func(m map[string]any) { delete(m, "receipt_signature_hex") }), nil}},
		{"undocumented field", answer{200, real.header, edit(func(m map[string]any) { m["debug"] = "x" }), nil}},
		{"wrong type", answer{200, real.header, edit(func(m map[string]any) { m["chain_depth"] = "2" }), nil}},
		{"not hex", answer{200, real.header, edit(func(m map[string]any) { m["intent_hash_hex"] = "xyz" }), nil}},
		{"nested field missing", answer{200, real.header, edit(func(m map[string]any) { delete(m["receipt"].(map[string]any), "fingerprint_hex") }), nil}},
		{"undocumented status", answer{418, real.header, raw, nil}},
		{"error body for a success", answer{200, real.header, []byte(`{"error":"x","error_code":"X"}`), nil}},
		{"success body for an error", answer{403, real.header, raw, nil}},
		{"wrong content type", answer{200, http.Header{"Content-Type": {"text/plain"}, "X-A1-Protocol": {"dyolo_v2.8.0"}}, raw, nil}},
		{"missing protocol header", answer{200, http.Header{"Content-Type": {"application/json"}}, raw, nil}},
		{"wrong protocol header", answer{200, http.Header{"Content-Type": {"application/json"}, "X-A1-Protocol": {"dyolo_v1"}}, raw, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.validateResponse(in, tc.a); err == nil {
				t.Errorf("the validator accepted a response that breaks the document")
			}
		})
	}
	t.Run("request missing chain", func(t *testing.T) {
		b := []byte(mutate(t, sc.authReq(sc.chain(t, 0), 0), "chain", nil))
		vreq := c.newRequest(g, x, b)
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: c.options()}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err == nil {
			t.Errorf("the validator accepted a request without chain")
		}
	})
	t.Run("admin request without bearer", func(t *testing.T) {
		vreq, _ := http.NewRequest("GET", g.url+"/v1/roots", nil)
		route, params, err := c.router.FindRoute(vreq)
		if err != nil {
			t.Fatal(err)
		}
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: c.options()}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err == nil {
			t.Errorf("the validator accepted an admin request without a bearer")
		}
	})
}
