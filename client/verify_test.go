package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

func (g *fakeGateway) receiptPK() a1.PublicKey {
	return a1.PublicKey(g.receiptKey.Public().(ed25519.PublicKey))
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	if s == "" {
		return "0"
	}
	c := byte('0')
	if s[0] == '0' {
		c = '1'
	}
	return string(c) + s[1:]
}

// TestVerifyReceipt: the receipt of an answer verifies under the gateway's
// receipt key for exactly the chain, intent and time it was signed for;
// any other request, answer field, token or key is ErrBadReceipt.
func TestVerifyReceipt(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	req := &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent, ReturnToken: true}
	res, err := c.Authorize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	key, err := c.ReceiptKey(ctx)
	if err != nil || key != f.gw.receiptPK() {
		t.Fatalf("receipt key %s, %v; want the gateway's %s", key.Hex(), err, f.gw.receiptPK().Hex())
	}
	rc, err := client.VerifyReceipt(key, req, res)
	if err != nil {
		t.Fatal(err)
	}
	// What a third party checks with the public key alone.
	sig, _ := hex.DecodeString(res.ReceiptSignatureHex)
	if *rc != res.Token.Receipt || !a1.VerifyReceiptSignature(key, rc, sig) {
		t.Fatalf("receipt %+v does not verify, or is not the token's %+v", rc, res.Token.Receipt)
	}

	other := newFixture(t) // another chain, same intents
	otherReq := func(edit func(*client.AuthorizeRequest)) *client.AuthorizeRequest {
		r := *req
		edit(&r)
		return &r
	}
	otherRes := func(edit func(*client.AuthorizeResponse)) *client.AuthorizeResponse {
		r := *res
		tok := *res.Token
		r.Token = &tok
		edit(&r)
		return &r
	}
	tests := []struct {
		name string
		key  a1.PublicKey
		req  *client.AuthorizeRequest
		res  *client.AuthorizeResponse
	}{
		{"another key", pkOf(f.human), req, res},
		{"another intent", key, otherReq(func(r *client.AuthorizeRequest) { r.Intent = "portfolio.read" }), res},
		{"other params", key, otherReq(func(r *client.AuthorizeRequest) { r.Params = map[string]string{"symbol": "AAPL"} }), res},
		{"another chain", key, otherReq(func(r *client.AuthorizeRequest) { r.Chain = other.chain }), res},
		{"a shorter chain", key, otherReq(func(r *client.AuthorizeRequest) {
			r.Chain = a1.NewChain(f.chain.PrincipalPK, f.chain.PrincipalScope, f.chain.Certs[0])
		}), res},
		{"answer for another intent", key, req, otherRes(func(r *client.AuthorizeResponse) { r.IntentHashHex = flipHex(r.IntentHashHex) })},
		{"answer for another chain", key, req, otherRes(func(r *client.AuthorizeResponse) { r.ChainFingerprint = flipHex(r.ChainFingerprint) })},
		{"answer with another depth", key, req, otherRes(func(r *client.AuthorizeResponse) { r.ChainDepth++ })},
		{"another time", key, req, otherRes(func(r *client.AuthorizeResponse) { r.VerifiedAtUnix++; r.Receipt.VerifiedAtUnix++ })},
		{"two times", key, req, otherRes(func(r *client.AuthorizeResponse) { r.Receipt.VerifiedAtUnix++ })},
		{"signature changed", key, req, otherRes(func(r *client.AuthorizeResponse) { r.ReceiptSignatureHex = flipHex(r.ReceiptSignatureHex) })},
		{"signature not hex", key, req, otherRes(func(r *client.AuthorizeResponse) { r.ReceiptSignatureHex = "zz" + r.ReceiptSignatureHex[2:] })},
		{"signature short", key, req, otherRes(func(r *client.AuthorizeResponse) { r.ReceiptSignatureHex = r.ReceiptSignatureHex[:126] })},
		{"signature missing", key, req, otherRes(func(r *client.AuthorizeResponse) { r.ReceiptSignatureHex = "" })},
		{"token of another receipt", key, req, otherRes(func(r *client.AuthorizeResponse) { r.Token.Receipt.Namespace = "acme" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := client.VerifyReceipt(tt.key, tt.req, tt.res)
			if !errors.Is(err, client.ErrBadReceipt) {
				t.Fatalf("receipt %+v, err %v; want ErrBadReceipt", rc, err)
			}
		})
	}
}

// tamperingProxy forwards to the fake gateway and lets edit change each
// JSON answer of the authorize routes, as a party between the client and the
// gateway (or a broken one) could.
func tamperingProxy(t *testing.T, g *fakeGateway, edit func(path string, m map[string]any)) *httptest.Server {
	target, _ := url.Parse(g.URL)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := http.NewRequest(r.Method, target.JoinPath(r.URL.Path).String(), bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 && strings.HasPrefix(r.URL.Path, "/v1/authorize") {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				edit(r.URL.Path, m)
				b, _ = json.Marshal(m)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	}))
	t.Cleanup(p.Close)
	return p
}

// TestWithReceiptKey: with a pinned receipt key, Authorize and
// AuthorizeBatch verify every receipt, so an answer changed on the way (or
// signed by another key) is an error, never an authorization; a batch
// result is verified with its own verified_at_unix, without tokens.
func TestWithReceiptKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var tamper atomic.Bool
	proxy := tamperingProxy(t, f.gw, func(path string, m map[string]any) {
		if !tamper.Load() {
			return
		}
		if path == "/v1/authorize" {
			m["verified_at_unix"] = m["verified_at_unix"].(float64) + 60
			m["receipt"].(map[string]any)["verified_at_unix"] = m["verified_at_unix"]
			return
		}
		item := m["results"].([]any)[1].(map[string]any)
		item["receipt_signature_hex"] = flipHex(item["receipt_signature_hex"].(string))
	})
	single := &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent}
	batch := &client.BatchRequest{Chain: f.chain, Agent: f.agent,
		Intents: []client.BatchIntent{{Name: "trade.equity"}, {Name: "portfolio.read"}, {Name: "admin.delete"}}}

	pinned, _ := client.New(proxy.URL, client.WithReceiptKey(f.gw.receiptPK()))
	if _, err := pinned.Authorize(ctx, single); err != nil {
		t.Fatalf("pinned key, untouched answer: %v", err)
	}
	br, err := pinned.AuthorizeBatch(ctx, batch)
	if err != nil {
		t.Fatalf("pinned key, untouched batch: %v", err)
	}
	if br.AuthorizedCount != 2 || br.Results[0].Token != nil || br.Results[0].VerifiedAtUnix == 0 {
		t.Fatalf("batch with a pinned key: %+v (want verified_at_unix and no token)", br)
	}
	for i := range 2 {
		if _, err := client.VerifyBatchReceipt(f.gw.receiptPK(), batch, br, i); err != nil {
			t.Fatalf("batch result %d: %v", i, err)
		}
	}
	if _, err := client.VerifyBatchReceipt(f.gw.receiptPK(), batch, br, 2); err == nil {
		t.Fatal("batch result 2 is a denial: want an error")
	}

	wrong, _ := client.New(f.gw.URL, client.WithReceiptKey(pkOf(f.other)))
	if _, err := wrong.Authorize(ctx, single); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("another pinned key: %v, want ErrBadReceipt", err)
	}
	if _, err := wrong.AuthorizeBatch(ctx, batch); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("another pinned key, batch: %v, want ErrBadReceipt", err)
	}

	tamper.Store(true)
	if res, err := pinned.Authorize(ctx, single); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("changed time: %+v, %v; want ErrBadReceipt", res, err)
	}
	if res, err := pinned.AuthorizeBatch(ctx, batch); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("changed batch signature: %+v, %v; want ErrBadReceipt", res, err)
	}
	// Without a pinned key nothing is verified implicitly; VerifyReceipt
	// with the discovered key tells.
	plain, _ := client.New(proxy.URL)
	res, err := plain.Authorize(ctx, single)
	if err != nil {
		t.Fatal(err)
	}
	key, err := plain.ReceiptKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifyReceipt(key, single, res); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("changed time, discovered key: %v, want ErrBadReceipt", err)
	}
	// A batch result's time is part of what is signed.
	br, err = plain.AuthorizeBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifyBatchReceipt(key, batch, br, 0); err != nil {
		t.Fatalf("untouched batch result, discovered key: %v", err)
	}
	br.Results[0].VerifiedAtUnix++
	if _, err := client.VerifyBatchReceipt(key, batch, br, 0); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("changed batch time: %v, want ErrBadReceipt", err)
	}
	// From a gateway without the field, the token's time is used; with
	// neither, the result cannot be verified.
	withTokens := *batch
	withTokens.ReturnToken = true
	if br, err = plain.AuthorizeBatch(ctx, &withTokens); err != nil {
		t.Fatal(err)
	}
	br.Results[0].VerifiedAtUnix = 0
	if _, err := client.VerifyBatchReceipt(key, &withTokens, br, 0); err != nil {
		t.Fatalf("batch result with a token but no verified_at_unix: %v", err)
	}
	br.Results[0].Token = nil
	if _, err := client.VerifyBatchReceipt(key, &withTokens, br, 0); !errors.Is(err, client.ErrReceiptUnverifiable) {
		t.Fatalf("batch result without time or token: %v, want ErrReceiptUnverifiable", err)
	}
}

// stubGateway answers every request with the JSON for its path.
func stubGateway(t *testing.T, answers map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(a))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAnswersNameWhatWasAsked: a 2xx answer describing another chain,
// intent or token than the one sent (a misrouted or stale answer) is an
// error wrapping ErrUnexpectedAnswer, not a success, even without a pinned
// receipt key.
func TestAnswersNameWhatWasAsked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fpHex, h, rc := f.stubReceipt()
	rc.Namespace = "acme"
	tok := a1.NewVerifiedToken(rc, [32]byte{1})
	tokenAnswer := func(edit func(m map[string]any)) string {
		m := map[string]any{"valid": true, "chain_depth": 2, "chain_fingerprint": fpHex, "verified_at_unix": 1_700_000_000,
			"intent_hash_hex": h.Hex(), "namespace": "acme"}
		edit(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	authAnswer := func(fp, intent string) string {
		return `{"authorized":true,"chain_depth":2,"chain_fingerprint":"` + fp + `","verified_at_unix":1700000000,"intent_hash_hex":"` + intent + `"}`
	}
	batchAnswer := func(fp, intent string) string {
		return `{"all_authorized":true,"authorized_count":1,"total_count":1,"results":[{"intent_name":"trade.equity","authorized":true,` +
			`"chain_fingerprint":"` + fp + `","intent_hash_hex":"` + intent + `"}]}`
	}
	read, _ := a1.HashIntent("portfolio.read", nil)
	other := strings.Repeat("ab", 32)
	tests := []struct {
		name, path, answer string
		ok                 bool
	}{
		{"token: the same", "/v1/token/verify", tokenAnswer(func(map[string]any) {}), true},
		{"token: upper-case hex", "/v1/token/verify", tokenAnswer(func(m map[string]any) { m["chain_fingerprint"] = strings.ToUpper(fpHex) }), true},
		{"token: as a reference gateway answers", "/v1/token/verify", tokenAnswer(func(m map[string]any) { delete(m, "intent_hash_hex"); delete(m, "namespace") }), true},
		{"token: another chain", "/v1/token/verify", tokenAnswer(func(m map[string]any) { m["chain_fingerprint"] = other }), false},
		{"token: no chain", "/v1/token/verify", tokenAnswer(func(m map[string]any) { delete(m, "chain_fingerprint") }), false},
		{"token: another depth", "/v1/token/verify", tokenAnswer(func(m map[string]any) { m["chain_depth"] = 3 }), false},
		{"token: another time", "/v1/token/verify", tokenAnswer(func(m map[string]any) { m["verified_at_unix"] = 1_700_000_001 }), false},
		{"token: another intent", "/v1/token/verify", tokenAnswer(func(m map[string]any) { m["intent_hash_hex"] = read.Hex() }), false},
		{"token: another namespace", "/v1/token/verify", tokenAnswer(func(m map[string]any) { m["namespace"] = "other" }), false},
		{"authorize: the same", "/v1/authorize", authAnswer(fpHex, h.Hex()), true},
		{"authorize: another chain", "/v1/authorize", authAnswer(other, h.Hex()), false},
		{"authorize: another intent", "/v1/authorize", authAnswer(fpHex, read.Hex()), false},
		{"batch: the same", "/v1/authorize/batch", batchAnswer(fpHex, h.Hex()), true},
		{"batch: another chain", "/v1/authorize/batch", batchAnswer(other, h.Hex()), false},
		{"batch: another intent", "/v1/authorize/batch", batchAnswer(fpHex, read.Hex()), false},
		{"batch: another intent name", "/v1/authorize/batch", strings.Replace(batchAnswer(fpHex, h.Hex()), `"trade.equity"`, `"trade.fx"`, 1), false},
		{"batch: a denial of another intent", "/v1/authorize/batch", `{"all_authorized":false,"authorized_count":0,"total_count":1,` +
			`"results":[{"intent_name":"trade.fx","authorized":false,"error":"x","error_code":"SCOPE_VIOLATION"}]}`, false},
		{"batch: a denial of this intent", "/v1/authorize/batch", `{"all_authorized":false,"authorized_count":0,"total_count":1,` +
			`"results":[{"intent_name":"trade.equity","authorized":false,"error":"x","error_code":"SCOPE_VIOLATION"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := client.New(stubGateway(t, map[string]string{tt.path: tt.answer}).URL)
			var err error
			switch tt.path {
			case "/v1/token/verify":
				_, err = c.VerifyToken(ctx, &tok)
			case "/v1/authorize":
				_, err = c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Executor: pkOf(f.agent)})
			default:
				_, err = c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: f.chain, Executor: pkOf(f.agent), Intents: []client.BatchIntent{{Name: "trade.equity"}}})
			}
			if tt.ok && err != nil {
				t.Fatalf("answer %s: %v", tt.answer, err)
			}
			if !tt.ok && !errors.Is(err, client.ErrUnexpectedAnswer) {
				t.Fatalf("answer %s: %v, want ErrUnexpectedAnswer", tt.answer, err)
			}
		})
	}
}

// TestRedirectsAreNotFollowed: an a1 gateway never redirects. Following a
// redirect re-sent the request body (a chain and its proof of possession)
// and, to another port or scheme of the same host name, the admin token:
// Go forwards Authorization to the same host name whatever the port or
// scheme, so an https gateway redirected to http:// would leak it in clear
// text. The redirect is now the answer: an *Error with its status.
func TestRedirectsAreNotFollowed(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" body="+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"revoked":"x"}`))
	}))
	defer other.Close()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, status)
		}))
		c, _ := client.New(redirecting.URL, client.WithAdminToken(fakeAdminToken))
		_, err := c.Revoke(context.Background(), f.chain.Certs[1].Fingerprint(), "redirected")
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != status {
			t.Errorf("redirect %d: %v, want *client.Error with status %d", status, err, status)
		}
		_, err = c.Authorize(context.Background(), &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity",
			Executor: pkOf(f.agent)})
		if !errors.As(err, &ce) || ce.Status != status {
			t.Errorf("redirect %d: authorize: %v, want *client.Error with status %d", status, err, status)
		}
		redirecting.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("the redirect target received %d requests: %.200q", len(leaked), leaked)
	}
}

// TestAuthorizeIsSentOnce: an authorization is never sent twice by the
// client (a retried authorize would consume its nonces twice and be
// answered NONCE_REPLAY, or, with a proof, authorize twice): not on a
// 503 with Retry-After, not on a connection dropped before the answer.
// A cancelled context stops the call with context.Canceled.
func TestAuthorizeIsSentOnce(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	var mode atomic.Value
	mode.Store("503")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/a1-configuration" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"gateway_id":"gw-once"}`))
			return
		}
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		switch mode.Load() {
		case "503":
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"storage unavailable","error_code":"STORAGE_UNAVAILABLE"}`))
		case "drop":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL)
	req := &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent}
	for _, m := range []string{"503", "drop"} {
		mode.Store(m)
		calls.Store(0)
		// The discovery request leaves a kept-alive connection, which the
		// authorization then reuses.
		_, err := c.Authorize(context.Background(), req)
		if err == nil {
			t.Fatalf("%s: no error", m)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%s: the authorization was sent %d times, want once (%v)", m, n, err)
		}
		if m == "503" {
			var ce *client.Error
			if !errors.As(err, &ce) || ce.RetryAfter != time.Second {
				t.Fatalf("503: %v", err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls.Store(0)
	if _, err := c.Authorize(ctx, req); !errors.Is(err, context.Canceled) || calls.Load() != 0 {
		t.Fatalf("cancelled context: %v after %d requests", err, calls.Load())
	}
}

// TestReceiptKeyDiscovery: ReceiptKey is the pinned key when there is one,
// else the discovered receipt_signing_pk_hex; a discovery document without
// a usable key is an unexpected answer.
func TestReceiptKeyDiscovery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pinned := pkOf(f.other)
	c := f.client(t, client.WithReceiptKey(pinned))
	if k, err := c.ReceiptKey(ctx); err != nil || k != pinned {
		t.Fatalf("pinned: %s %v", k.Hex(), err)
	}
	for _, doc := range []string{`{"gateway_id":"x"}`, `{"receipt_signing_pk_hex":"zz"}`,
		`{"receipt_signing_pk_hex":"0100000000000000000000000000000000000000000000000000000000000000"}`} {
		c, _ := client.New(stubGateway(t, map[string]string{"/.well-known/a1-configuration": doc}).URL)
		if k, err := c.ReceiptKey(ctx); !errors.Is(err, client.ErrUnexpectedAnswer) {
			t.Errorf("discovery %s: %s, %v; want ErrUnexpectedAnswer", doc, k.Hex(), err)
		}
	}
}

// sliceErr is an error of an incomparable type.
type sliceErr []string

func (e sliceErr) Error() string { return strings.Join(e, ", ") }

// TestVerifyTokenAgeRefusals: a gateway with A1_TOKEN_MAX_AGE refuses a
// MAC-valid token outside its age window with 401 {"valid": false}
// TOKEN_EXPIRED or TOKEN_NOT_YET_VALID; VerifyToken returns an *Error that
// errors.Is matches with ErrTokenExpired or ErrTokenNotYetValid, and with
// neither for a MAC failure (which matches a1.ErrMACVerification).
func TestVerifyTokenAgeRefusals(t *testing.T) {
	ctx := context.Background()
	tok := a1.NewVerifiedToken(a1.Receipt{ChainDepth: 1, VerifiedAtUnix: 1_700_000_000}, [32]byte{1})
	sentinels := []error{client.ErrTokenExpired, client.ErrTokenNotYetValid, a1.ErrMACVerification, a1.ErrExpired, a1.ErrNotYetValid}
	for _, tc := range []struct {
		code string
		want error
	}{
		{"TOKEN_EXPIRED", client.ErrTokenExpired},
		{"TOKEN_NOT_YET_VALID", client.ErrTokenNotYetValid},
		{"MAC_VERIFICATION_FAILED", a1.ErrMACVerification},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				w.Write([]byte(`{"valid":false,"error":"refused","error_code":"` + tc.code + `","hint":"do something"}`))
			}))
			t.Cleanup(srv.Close)
			c, err := client.New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.VerifyToken(ctx, &tok)
			if ce := wantCode(t, err, 401, tc.code); ce.Hint != "do something" {
				t.Fatalf("hint %q", ce.Hint)
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(err, %q) = %v", s, got)
				}
			}
			// An incomparable target is not matched, and does not panic.
			if errors.Is(err, sliceErr{"TOKEN_EXPIRED"}) {
				t.Error("errors.Is matched an unrelated error")
			}
		})
	}
	// The sentinels match gateway answers only, not each other.
	if errors.Is(client.ErrTokenExpired, client.ErrTokenNotYetValid) || errors.Is(client.ErrTokenNotYetValid, client.ErrTokenExpired) {
		t.Fatal("the two sentinels match each other")
	}
}
