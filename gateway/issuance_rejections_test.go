package gateway_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// issuanceGW is an in-process gateway with a known signing key whose audit
// stream (the stdout sink) is captured, for the issuance tests.
type issuanceGW struct {
	t     *testing.T
	srv   *gateway.Server
	audit *syncBuf
	key   ed25519.PrivateKey // the gateway's signing key
	n     int
}

func newIssuanceGW(t *testing.T, extra map[string]string) *issuanceGW {
	t.Helper()
	seed := randHexBytes(ed25519.SeedSize)
	env := map[string]string{"A1_STORE": "memory", "A1_GATEWAY_ID": "gw-issuance", "A1_RATE_LIMIT_RPS": "0",
		"A1_ADMIN_TOKEN": adminToken, "A1_TENANT": "t-" + randHex(6), "A1_SIGNING_KEY_HEX": hex.EncodeToString(seed)}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g := &issuanceGW{t: t, audit: &syncBuf{}, key: ed25519.NewKeyFromSeed(seed)}
	if g.srv, err = gateway.NewServer(context.Background(), cfg, gateway.Deps{Stdout: g.audit}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.srv.Close() })
	return g
}

// call sends an admin request (hdr nil: the admin token) under a fresh
// request id, which it returns with the reply.
func (g *issuanceGW) call(path string, body any, hdr map[string]string) (reply, string) {
	g.t.Helper()
	if hdr == nil {
		hdr = asAdmin
	}
	g.n++
	id := "issuance-" + strconv.Itoa(g.n) + "-" + randHex(4)
	h := map[string]string{"X-Request-Id": id}
	for k, v := range hdr {
		h[k] = v
	}
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			g.t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req := httptest.NewRequest("POST", path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	g.srv.Handler().ServeHTTP(w, req)
	r := reply{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	_ = json.Unmarshal(w.Body.Bytes(), &r.body)
	return r, id
}

type adminEvent struct {
	Kind      string `json:"kind"`
	Action    string `json:"action"`
	Decision  string `json:"decision"`
	ErrorCode string `json:"error_code"`
	RequestID string `json:"request_id"`
}

// events closes the server (flushing the audit stream) and returns the
// admin events by request id.
func (g *issuanceGW) events() map[string][]adminEvent {
	g.t.Helper()
	if err := g.srv.Close(); err != nil {
		g.t.Fatal(err)
	}
	out := map[string][]adminEvent{}
	sc := bufio.NewScanner(strings.NewReader(g.audit.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev adminEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			g.t.Fatalf("audit line %.200q: %v", sc.Text(), err)
		}
		if ev.Kind == "admin" {
			out[ev.RequestID] = append(out[ev.RequestID], ev)
		}
	}
	return out
}

// passportFile issues a passport with the gateway's own key (so the
// gateway holds it) valid from issuedAt for ttl seconds.
func (g *issuanceGW) passportFile(ns string, caps []string, issuedAt, ttl uint64) (*a1.Passport, json.RawMessage) {
	g.t.Helper()
	p, err := a1.IssuePassport(g.key, ns, caps, issuedAt, ttl)
	if err != nil {
		g.t.Fatal(err)
	}
	f, err := p.MarshalFile()
	if err != nil {
		g.t.Fatal(err)
	}
	return p, f
}

// notOnCurve is a 32-byte key that is not an Ed25519 point.
func notOnCurve(t *testing.T) string {
	for i := 2; i < 256; i++ {
		h := hex.EncodeToString(append([]byte{byte(i)}, make([]byte, 31)...))
		pk, err := a1.ParsePublicKeyHex(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := a1.CheckPublicKey(pk); err != nil && !errors.Is(err, a1.ErrWeakKey) {
			return h
		}
	}
	t.Fatal("no off-curve key found")
	return ""
}

// collidingCapability is a name that is not in caps but whose mask bit is
// one of theirs, so the mask check alone would let it through.
func collidingCapability(t *testing.T, caps ...string) string {
	mask := a1.MaskOf(caps...)
	for i := 0; i < 100000; i++ {
		c := "x" + strconv.Itoa(i)
		if a1.EnforceNarrowing(a1.MaskOf(c), mask) == nil {
			return c
		}
	}
	t.Fatal("no colliding capability found")
	return ""
}

// TestIssuanceRejections: every refused issuance request is a 4xx JSON
// error with its code (and a hint where one helps), never a 5xx, and is
// recorded as exactly one denied admin audit event carrying that code.
func TestIssuanceRejections(t *testing.T) {
	g := newIssuanceGW(t, map[string]string{"A1_MAX_TTL_SECS": "7200"})
	tool := newKey(t).pk.Hex()
	t0 := now()
	_, pfile := g.passportFile("bot", []string{"files.read", "files.write"}, t0-5, 3600)
	_, expired := g.passportFile("bot", []string{"files.read"}, t0-100, 50)
	_, future := g.passportFile("bot", []string{"files.read"}, t0+3600, 3600)
	revokedP, revokedFile := g.passportFile("bot", []string{"files.read"}, t0-5, 3600)
	foreign := foreignPassport(t)
	var tampered map[string]any
	if err := json.Unmarshal(pfile, &tampered); err != nil {
		t.Fatal(err)
	}
	tampered["capabilities"] = []string{"files.read", "files.write", "net.fetch"}
	var badSig map[string]any
	_ = json.Unmarshal(pfile, &badSig)
	sig := badSig["cert"].(map[string]any)["signature"].([]any)
	sig[0] = float64((int(sig[0].(float64)) + 1) % 256)

	fp := revokedP.Cert.Fingerprint()
	if r, _ := g.call("/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(fp[:])}, nil); r.status != 200 {
		t.Fatalf("revoke the passport: %d %s", r.status, r.raw)
	}

	intent := func(name string, params map[string]string) map[string]any {
		return map[string]any{"name": name, "params": params}
	}
	cert := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"delegate_pk_hex": tool, "intents": []any{intent("db.read", nil)}}
		edit(m)
		return m
	}
	passport := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"namespace": "bot", "capabilities": []string{"files.read"}}
		edit(m)
		return m
	}
	sub := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"passport": json.RawMessage(pfile), "delegate_pk_hex": tool, "capabilities": []string{"files.read"}}
		edit(m)
		return m
	}
	many := func(n int, f func(i int) any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	manyParams := func(n int) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			m["k"+strconv.Itoa(i)] = "v"
		}
		return m
	}
	exts := func(n int) map[string]any {
		m := map[string]any{}
		for i := 0; i < n; i++ {
			m["e"+strconv.Itoa(i)] = i
		}
		return m
	}
	capNames := func(n, size int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(i) + strings.Repeat("c", size-len(strconv.Itoa(i)))
		}
		return out
	}
	const (
		issue  = "/v1/cert/issue"
		pIssue = "/v1/passport/issue"
		pSub   = "/v1/passport/sub"
	)
	type row struct {
		name, path string
		body       any
		hdr        map[string]string
		status     int
		code       string
		hint       bool // the answer must carry a hint
	}
	rows := []row{
		// The envelope.
		{"issue: no token", issue, cert(func(map[string]any) {}), map[string]string{}, 401, "UNAUTHORIZED", true},
		{"issue: not JSON", issue, `{"delegate_pk_hex":`, nil, 400, "MALFORMED_REQUEST", false},
		{"issue: duplicate key", issue, `{"delegate_pk_hex":"` + tool + `","delegate_pk_hex":"` + tool + `","intents":[{"name":"a"}]}`, nil, 400, "MALFORMED_REQUEST", false},
		{"issue: intents not an array", issue, cert(func(m map[string]any) { m["intents"] = "db.read" }), nil, 400, "MALFORMED_REQUEST", false},
		// The delegate key.
		{"issue: no delegate", issue, cert(func(m map[string]any) { delete(m, "delegate_pk_hex") }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: delegate not hex", issue, cert(func(m map[string]any) { m["delegate_pk_hex"] = strings.Repeat("zz", 32) }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: delegate 31 bytes", issue, cert(func(m map[string]any) { m["delegate_pk_hex"] = tool[:62] }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: delegate 33 bytes", issue, cert(func(m map[string]any) { m["delegate_pk_hex"] = tool + "00" }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: delegate not a point", issue, cert(func(m map[string]any) { m["delegate_pk_hex"] = notOnCurve(t) }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: delegate the identity (small order)", issue, cert(func(m map[string]any) { m["delegate_pk_hex"] = "01" + strings.Repeat("00", 31) }), nil, 400, "MALFORMED_REQUEST", false},
		// Intents.
		{"issue: intents null", issue, cert(func(m map[string]any) { m["intents"] = nil }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: 257 intents", issue, cert(func(m map[string]any) {
			m["intents"] = many(257, func(i int) any { return intent("i"+strconv.Itoa(i), nil) })
		}), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: empty intent name", issue, cert(func(m map[string]any) { m["intents"] = []any{intent("", nil)} }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: intent name 257 bytes", issue, cert(func(m map[string]any) { m["intents"] = []any{intent(strings.Repeat("n", 257), nil)} }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: 65 params", issue, cert(func(m map[string]any) { m["intents"] = []any{intent("a", manyParams(65))} }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: param key 129 bytes", issue, cert(func(m map[string]any) {
			m["intents"] = []any{intent("a", map[string]string{strings.Repeat("k", 129): "v"})}
		}), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: param value 4097 bytes", issue, cert(func(m map[string]any) {
			m["intents"] = []any{intent("a", map[string]string{"k": strings.Repeat("v", 4097)})}
		}), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: colliding params in the second intent", issue, cert(func(m map[string]any) {
			m["intents"] = []any{intent("a", nil), intent("b", map[string]string{"Table": "x", " table": "y"})}
		}), nil, 400, "PARAM_COLLISION", true},
		// TTL and depth.
		{"issue: ttl over A1_MAX_TTL_SECS", issue, cert(func(m map[string]any) { m["ttl_seconds"] = 7201 }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: ttl 2^64-1", issue, cert(func(m map[string]any) { m["ttl_seconds"] = uint64(1<<64 - 1) }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: ttl negative", issue, cert(func(m map[string]any) { m["ttl_seconds"] = -1 }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: max_depth -1", issue, cert(func(m map[string]any) { m["max_depth"] = -1 }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: max_depth 1.5", issue, cert(func(m map[string]any) { m["max_depth"] = 1.5 }), nil, 400, "MALFORMED_REQUEST", false},
		// Extensions.
		{"issue: 65 extensions", issue, cert(func(m map[string]any) { m["extensions"] = exts(65) }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: empty extension key", issue, cert(func(m map[string]any) { m["extensions"] = map[string]any{"": "x"} }), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: extensions over 16 KiB in total", issue, cert(func(m map[string]any) {
			m["extensions"] = map[string]any{"a": strings.Repeat("x", 9000), "b": strings.Repeat("y", 9000)}
		}), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: extension list of 257 items", issue, cert(func(m map[string]any) {
			m["extensions"] = map[string]any{"l": many(257, func(int) any { return "s" })}
		}), nil, 400, "MALFORMED_REQUEST", false},
		{"issue: reserved extension dyolo.passport.v", issue, cert(func(m map[string]any) { m["extensions"] = map[string]any{"dyolo.passport.v": 1} }), nil, 400, "RESERVED_EXTENSION", true},
		{"issue: reserved extension dyolo.passport.caps", issue, cert(func(m map[string]any) {
			m["extensions"] = map[string]any{"ok": "x", "dyolo.passport.caps": []string{"a"}}
		}), nil, 400, "RESERVED_EXTENSION", true},
		// Ours (ADR 0014): a caller-chosen, possibly malformed, passport
		// binding would be signed into a cert no chain could then use.
		{"issue: reserved extension a1.passport.root", issue, cert(func(m map[string]any) {
			m["extensions"] = map[string]any{"a1.passport.root": "not-a-fingerprint"}
		}), nil, 400, "RESERVED_EXTENSION", true},

		// Passport issue.
		{"passport: no token", pIssue, passport(func(map[string]any) {}), map[string]string{"Authorization": "Bearer wrong-token-0123456789"}, 401, "UNAUTHORIZED", true},
		{"passport: no namespace", pIssue, passport(func(m map[string]any) { delete(m, "namespace") }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: namespace 257 bytes", pIssue, passport(func(m map[string]any) { m["namespace"] = strings.Repeat("n", 257) }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: namespace with a newline", pIssue, passport(func(m map[string]any) { m["namespace"] = "bot\nx" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace with NUL", pIssue, passport(func(m map[string]any) { m["namespace"] = "bot\x00" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace with ESC", pIssue, passport(func(m map[string]any) { m["namespace"] = "\x1b[31mbot" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace with a line separator", pIssue, passport(func(m map[string]any) { m["namespace"] = "bot\u2028x" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace with a bidi override", pIssue, passport(func(m map[string]any) { m["namespace"] = "bot\u202etxt" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace a path", pIssue, passport(func(m map[string]any) { m["namespace"] = "../../etc/cron.d/x" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace with a backslash", pIssue, passport(func(m map[string]any) { m["namespace"] = `a\b` }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace ..", pIssue, passport(func(m map[string]any) { m["namespace"] = ".." }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: namespace with surrounding space", pIssue, passport(func(m map[string]any) { m["namespace"] = " bot" }), nil, 400, "MALFORMED_REQUEST", true},
		{"passport: capabilities missing", pIssue, passport(func(m map[string]any) { delete(m, "capabilities") }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: 257 capabilities", pIssue, passport(func(m map[string]any) { m["capabilities"] = capNames(257, 4) }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: empty capability", pIssue, passport(func(m map[string]any) { m["capabilities"] = []string{"a", ""} }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: capability 257 bytes", pIssue, passport(func(m map[string]any) { m["capabilities"] = []string{strings.Repeat("c", 257)} }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: capabilities over the 16 KiB extension bound", pIssue, passport(func(m map[string]any) { m["capabilities"] = capNames(100, 200) }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: ttl 0", pIssue, passport(func(m map[string]any) { m["ttl_seconds"] = 0 }), nil, 400, "MALFORMED_REQUEST", false},
		{"passport: ttl over A1_MAX_TTL_SECS", pIssue, passport(func(m map[string]any) { m["ttl_seconds"] = 7201 }), nil, 400, "MALFORMED_REQUEST", false},

		// Passport sub.
		{"sub: no token", pSub, sub(func(map[string]any) {}), map[string]string{}, 401, "UNAUTHORIZED", true},
		{"sub: no passport", pSub, sub(func(m map[string]any) { delete(m, "passport") }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: passport null", pSub, sub(func(m map[string]any) { m["passport"] = nil }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: passport not a passport", pSub, sub(func(m map[string]any) { m["passport"] = map[string]any{"a": 1} }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: passport a string", pSub, sub(func(m map[string]any) { m["passport"] = "passport.json" }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: capabilities edited in the file", pSub, sub(func(m map[string]any) { m["passport"] = tampered }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: forged root signature", pSub, sub(func(m map[string]any) { m["passport"] = badSig }), nil, 403, "INVALID_SIGNATURE", false},
		{"sub: passport of another holder", pSub, sub(func(m map[string]any) { m["passport"] = json.RawMessage(foreign) }), nil, 403, "NOT_PASSPORT_HOLDER", true},
		{"sub: expired passport", pSub, sub(func(m map[string]any) { m["passport"] = json.RawMessage(expired) }), nil, 403, "CERT_EXPIRED", true},
		{"sub: passport not yet valid", pSub, sub(func(m map[string]any) { m["passport"] = json.RawMessage(future) }), nil, 403, "NOT_YET_VALID", true},
		{"sub: revoked passport", pSub, sub(func(m map[string]any) { m["passport"] = json.RawMessage(revokedFile) }), nil, 403, "CERT_REVOKED", true},
		{"sub: no delegate", pSub, sub(func(m map[string]any) { delete(m, "delegate_pk_hex") }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: delegate small order", pSub, sub(func(m map[string]any) { m["delegate_pk_hex"] = strings.Repeat("00", 32) }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: ttl 0", pSub, sub(func(m map[string]any) { m["ttl_seconds"] = 0 }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: ttl over A1_MAX_TTL_SECS", pSub, sub(func(m map[string]any) { m["ttl_seconds"] = 7201 }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: no capabilities", pSub, sub(func(m map[string]any) { m["capabilities"] = []string{} }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: 257 capabilities", pSub, sub(func(m map[string]any) { m["capabilities"] = capNames(257, 4) }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: empty capability", pSub, sub(func(m map[string]any) { m["capabilities"] = []string{""} }), nil, 400, "MALFORMED_REQUEST", false},
		{"sub: capability outside the passport", pSub, sub(func(m map[string]any) { m["capabilities"] = []string{"files.read", "net.fetch"} }), nil, 403, "PASSPORT_NARROWING_VIOLATION", true},
		{"sub: capability colliding with the passport's mask", pSub, sub(func(m map[string]any) {
			m["capabilities"] = []string{collidingCapability(t, "files.read", "files.write")}
		}), nil, 403, "INTENT_NOT_FOUND", false},
	}
	ids := make([]string, len(rows))
	for i, tc := range rows {
		r, id := g.call(tc.path, tc.body, tc.hdr)
		ids[i] = id
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %.300s, want %d %s", tc.name, r.status, r.raw, tc.status, tc.code)
			continue
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, r.header.Get("Content-Type"))
		}
		if msg, _ := r.body["error"].(string); msg == "" {
			t.Errorf("%s: no error message: %s", tc.name, r.raw)
		}
		if _, ok := r.body["cert"]; ok {
			t.Errorf("%s: a refusal carries a cert: %s", tc.name, r.raw)
		}
		if h, _ := r.body["hint"].(string); tc.hint && h == "" {
			t.Errorf("%s: no hint: %s", tc.name, r.raw)
		}
	}
	evs := g.events()
	for i, tc := range rows {
		got := evs[ids[i]]
		if len(got) != 1 {
			t.Errorf("%s: %d admin audit events, want 1: %+v", tc.name, len(got), got)
			continue
		}
		if ev := got[0]; ev.Decision != "deny" || ev.ErrorCode != tc.code {
			t.Errorf("%s: audit event %+v, want deny %s", tc.name, ev, tc.code)
		}
	}
}

// TestIssuedMultiIntentCertAuthorizes: a cert issued for several intents
// authorizes each of them with a plain authorize request (no merkle_proof),
// as a single-intent cert does. The reference's issued cert carried only
// the Merkle root, so it could never be authorized without a client-built
// proof (PROTOCOL.md §17 item 14); the response now lists the intents in
// the cert's scope proof, and the largest issuable cert still fits an
// authorize request.
func TestIssuedMultiIntentCertAuthorizes(t *testing.T) {
	g := newIssuanceGW(t, nil)
	tool := newKey(t)
	intents := []map[string]any{
		{"name": "db.read", "params": map[string]string{"table": "orders"}},
		{"name": "db.list"},
		{"name": "db.read", "params": map[string]string{"table": "orders"}}, // a duplicate
		{"name": "db.write", "params": map[string]string{"table": "orders", "mode": "append"}},
	}
	issue := func(intents any) (*a1.SignedChain, json.RawMessage) {
		t.Helper()
		r, _ := g.call("/v1/cert/issue", map[string]any{"delegate_pk_hex": tool.pk.Hex(), "intents": intents, "ttl_seconds": 600}, nil)
		if r.status != 201 {
			t.Fatalf("issue: %d %.300s", r.status, r.raw)
		}
		raw, _ := json.Marshal(r.body["chain"])
		sc, err := a1.DecodeSignedChain(raw)
		if err != nil {
			t.Fatal(err)
		}
		return sc, raw
	}
	authorize := func(chain json.RawMessage, name string, params any) reply {
		r, _ := g.call("/v1/authorize", map[string]any{"chain": chain, "intent_name": name, "intent_params": params,
			"executor_pk_hex": tool.pk.Hex()}, map[string]string{})
		return r
	}
	want := []a1.IntentHash{hashOf(t, "db.read", map[string]string{"table": "orders"}), hashOf(t, "db.list", nil),
		hashOf(t, "db.write", map[string]string{"table": "orders", "mode": "append"})}
	tree, err := a1.NewIntentTree(want)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := issue(intents)
	c := sc.Certs[0]
	if c.ScopeRoot != tree.Root() {
		t.Fatalf("scope root %x, want the root of the intents %x", c.ScopeRoot, tree.Root())
	}
	if got := c.ScopeProof.SubsetIntents; len(got) != 3 || got[0] != tree.Leaves()[0] || got[1] != tree.Leaves()[1] || got[2] != tree.Leaves()[2] {
		t.Errorf("the cert lists %x, want the 3 distinct intents in tree order", got)
	}
	for _, in := range intents[:2] {
		_, chain := issue(intents) // proof-less authorizations are single-use: a fresh cert each
		if r := authorize(chain, in["name"].(string), in["params"]); r.status != 200 {
			t.Errorf("%v without a merkle_proof: %d %.300s", in, r.status, r.raw)
		}
	}
	_, chain := issue(intents)
	if r := authorize(chain, "db.write", map[string]string{"table": "orders", "mode": "truncate"}); r.status != 403 || r.code() != "SCOPE_VIOLATION" {
		t.Errorf("params outside the cert: %d %.300s", r.status, r.raw)
	}
	if r := authorize(chain, "db.write", map[string]string{"table": "orders", "mode": "append"}); r.status != 200 {
		t.Errorf("the third intent after a refusal: %d %.300s", r.status, r.raw)
	}
	// A client that sends its own proof is still served.
	_, chain = issue(intents)
	proof, err := tree.Prove(want[1])
	if err != nil {
		t.Fatal(err)
	}
	r, _ := g.call("/v1/authorize", map[string]any{"chain": chain, "intent_name": "db.list", "executor_pk_hex": tool.pk.Hex(),
		"merkle_proof": proof}, map[string]string{})
	if r.status != 200 {
		t.Errorf("with a client-built merkle_proof: %d %.300s", r.status, r.raw)
	}
	// The largest cert: 256 intents, each authorizable as it is.
	big := make([]map[string]any, 256)
	for i := range big {
		big[i] = map[string]any{"name": "tool.call", "params": map[string]string{"n": strconv.Itoa(i)}}
	}
	_, chain = issue(big)
	if r := authorize(chain, "tool.call", map[string]string{"n": "255"}); r.status != 200 {
		t.Errorf("intent 255 of 256 (chain %d bytes): %d %.300s", len(chain), r.status, r.raw)
	}
	// A single intent stays a bare leaf (the reference form).
	sc, _ = issue(intents[:1])
	if n := len(sc.Certs[0].ScopeProof.SubsetIntents); n != 0 || sc.Certs[0].ScopeRoot != want[0] {
		t.Errorf("single-intent cert: %d subset intents, scope %x", n, sc.Certs[0].ScopeRoot)
	}
}

// TestIssuanceDefaultTTLWithinMax: a request without ttl_seconds gets the
// default lifetime only when A1_MAX_TTL_SECS allows it; below that the
// bound applies to every cert and passport the gateway issues.
func TestIssuanceDefaultTTLWithinMax(t *testing.T) {
	g := newIssuanceGW(t, map[string]string{"A1_MAX_TTL_SECS": "60"})
	tool := newKey(t).pk.Hex()
	certOf := func(r reply, field string) a1.Cert {
		t.Helper()
		if r.status != 201 {
			t.Fatalf("%d %.300s", r.status, r.raw)
		}
		var c a1.Cert
		raw, _ := json.Marshal(r.body[field])
		if field == "passport" {
			var f struct{ Cert json.RawMessage }
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			raw = f.Cert
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	r, _ := g.call("/v1/cert/issue", map[string]any{"delegate_pk_hex": tool, "intents": []any{map[string]any{"name": "a"}}}, nil)
	if c := certOf(r, "cert"); c.TTL() != 60 {
		t.Errorf("cert issued without ttl_seconds lives %d s, A1_MAX_TTL_SECS is 60", c.TTL())
	}
	p, _ := g.call("/v1/passport/issue", map[string]any{"namespace": "bot", "capabilities": []string{"a"}}, nil)
	if c := certOf(p, "passport"); c.TTL() != 60 {
		t.Errorf("passport issued without ttl_seconds lives %d s, A1_MAX_TTL_SECS is 60", c.TTL())
	}
	s, _ := g.call("/v1/passport/sub", map[string]any{"passport": p.body["passport"], "delegate_pk_hex": tool, "capabilities": []string{"a"}}, nil)
	if c := certOf(s, "cert"); c.TTL() > 60 {
		t.Errorf("sub-cert issued without ttl_seconds lives %d s, A1_MAX_TTL_SECS is 60", c.TTL())
	}
}
