package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

type fixture struct {
	human, agent, other ed25519.PrivateKey
	chain               *a1.SignedChain
	gw                  *fakeGateway
}

// stubReceipt is what a stub gateway's answers name for f's chain: its
// fingerprint (hex), the hash of trade.equity, and the receipt of that
// intent verified at 1,700,000,000.
func (f *fixture) stubReceipt() (fpHex string, h a1.IntentHash, rc a1.Receipt) {
	fp := f.chain.Fingerprint()
	h, _ = a1.HashIntent("trade.equity", nil)
	return hex.EncodeToString(fp[:]), h, a1.Receipt{ChainDepth: 2, Intent: h, VerifiedAtUnix: 1_700_000_000, ChainFingerprint: fp}
}

func pkOf(k ed25519.PrivateKey) a1.PublicKey { return a1.PublicKey(k.Public().(ed25519.PublicKey)) }

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixture: a passport held by human, delegated to agent for trade.equity
// and portfolio.read; a gateway trusting human.
func newFixture(t testing.TB) *fixture {
	f := &fixture{human: newKey(t), agent: newKey(t), other: newKey(t)}
	now := uint64(time.Now().Unix())
	p, err := a1.IssuePassport(f.human, "trading", []string{"trade.equity", "portfolio.read", "admin.delete"}, now-10, 3600)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := p.IssueSub(f.human, pkOf(f.agent), []string{"trade.equity", "portfolio.read"}, now-10, 600)
	if err != nil {
		t.Fatal(err)
	}
	f.chain = a1.NewChain(p.Holder(), p.Cert.ScopeRoot, p.Cert, sub)
	f.gw = newFakeGateway(pkOf(f.human))
	t.Cleanup(f.gw.Close)
	return f
}

func (f *fixture) client(t testing.TB, opts ...client.Option) *client.Client {
	c, err := client.New(f.gw.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCode(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want *client.Error %s", err, err, code)
	}
	if ce.Status != status || ce.Code != code {
		t.Fatalf("err = %d %s (%q), want %d %s", ce.Status, ce.Code, ce.Message, status, code)
	}
	return ce
}

func TestAuthorizeWithProof(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	req := &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent, ReturnToken: true}
	for i := 0; i < 3; i++ { // with a proof the chain stays reusable
		res, err := c.Authorize(ctx, req)
		if err != nil {
			t.Fatalf("authorize %d: %v", i, err)
		}
		if !res.Authorized || res.ChainDepth != 2 || res.ErrorCode != nil || res.Token == nil {
			t.Fatalf("authorize %d: %+v", i, res)
		}
		fp := f.chain.Fingerprint()
		if res.ChainFingerprint != a1.PublicKey(fp).Hex() {
			t.Fatalf("chain fingerprint %s, want %x", res.ChainFingerprint, fp)
		}
	}
	// The token round-trips through /v1/token/verify; a modified one fails.
	res, err := c.Authorize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.VerifyToken(ctx, res.Token)
	if err != nil || !st.Valid || st.ChainDepth != 2 {
		t.Fatalf("verify token: %+v, %v", st, err)
	}
	bad := *res.Token
	bad.Receipt.ChainDepth = 1
	_, err = c.VerifyToken(ctx, &bad)
	if ce := wantCode(t, err, 401, "MAC_VERIFICATION_FAILED"); !errors.Is(ce, a1.ErrMACVerification) {
		t.Fatal("errors.Is(err, a1.ErrMACVerification) is false")
	}
}

func TestAuthorizeDenials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		opts   []client.Option
		req    client.AuthorizeRequest
		status int
		code   string
		kind   *a1.Kind
	}{
		{"scope", nil, client.AuthorizeRequest{Chain: f.chain, Intent: "admin.delete", Agent: f.agent}, 403, "SCOPE_VIOLATION", a1.ErrScopeViolation},
		{"params are part of the intent", nil, client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Params: map[string]string{"symbol": "X"}, Agent: f.agent}, 403, "SCOPE_VIOLATION", a1.ErrScopeViolation},
		{"copied chain, other key", nil, client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.other}, 403, "UNAUTHORIZED_EXECUTOR", a1.ErrUnauthorizedExecutor},
		{"wrong audience", nil, client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent, Audience: "another-gateway"}, 401, "INVALID_PROOF", a1.ErrInvalidProof},
		{"stale proof", []client.Option{client.WithClock(func() time.Time { return time.Now().Add(-time.Hour) })},
			client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent}, 401, "PROOF_EXPIRED", a1.ErrProofExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client(t, tt.opts...).Authorize(ctx, &tt.req)
			wantCode(t, err, tt.status, tt.code)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("errors.Is(err, %v) is false", tt.kind)
			}
		})
	}
	// An untrusted principal.
	g2 := newFakeGateway(pkOf(f.other))
	defer g2.Close()
	c2, _ := client.New(g2.URL)
	_, err := c2.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent})
	wantCode(t, err, 403, "UNTRUSTED_ROOT")
}

func TestAuthorizeWithoutProofIsSingleUse(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	req := &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Executor: pkOf(f.agent)}
	if _, err := c.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	_, err := c.Authorize(ctx, req)
	wantCode(t, err, 401, "NONCE_REPLAY")
	if !errors.Is(err, a1.ErrNonceReplay) {
		t.Fatal("errors.Is(err, a1.ErrNonceReplay) is false")
	}
	if _, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity"}); err == nil {
		t.Fatal("no executor: want an error")
	}
	if _, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent, Executor: pkOf(f.other)}); err == nil {
		t.Fatal("Executor != Agent: want an error")
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub := f.chain.Certs[1].Fingerprint()

	// Without the admin token: refused, and nothing revoked.
	_, err := f.client(t).Revoke(ctx, sub, "test")
	wantCode(t, err, 401, "UNAUTHORIZED")
	_, err = f.client(t, client.WithAdminToken("wrong")).Revoke(ctx, sub, "test")
	wantCode(t, err, 401, "UNAUTHORIZED")

	admin := f.client(t, client.WithAdminToken(fakeAdminToken))
	st, err := admin.CertStatus(ctx, sub)
	if err != nil || st.Revoked {
		t.Fatalf("status before: %+v %v", st, err)
	}
	r, err := admin.Revoke(ctx, sub, "compromised agent")
	if err != nil || !r.NewlyRevoked {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if st, err = admin.CertStatus(ctx, sub); err != nil || !st.Revoked {
		t.Fatalf("status after: %+v %v", st, err)
	}
	_, err = admin.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent})
	ce := wantCode(t, err, 401, "CERT_REVOKED")
	if !ce.HasHop || ce.Hop != 1 || ce.Hint == "" {
		t.Fatalf("revoked: hop %v/%d hint %q", ce.HasHop, ce.Hop, ce.Hint)
	}
}

func TestRevokeSigned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(t)
	// Someone outside the chain may not revoke.
	_, err := c.RevokeSigned(ctx, f.chain, 1, "nope", f.other)
	wantCode(t, err, 403, "REVOCATION_UNAUTHORIZED")
	// The principal may; no admin token needed.
	r, err := c.RevokeSigned(ctx, f.chain, 1, "rotating the agent", f.human)
	if err != nil {
		t.Fatal(err)
	}
	fp := f.chain.Certs[1].Fingerprint()
	if r.FingerprintHex != a1.PublicKey(fp).Hex() {
		t.Fatalf("revoked %s, want %x", r.FingerprintHex, fp)
	}
	_, err = c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent})
	wantCode(t, err, 401, "CERT_REVOKED")
}

func TestAuthorizeBatch(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	res, err := c.AuthorizeBatch(context.Background(), &client.BatchRequest{Chain: f.chain, Agent: f.agent,
		Intents: []client.BatchIntent{{Name: "trade.equity"}, {Name: "portfolio.read"}, {Name: "admin.delete"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.AllAuthorized || res.AuthorizedCount != 2 || res.TotalCount != 3 || res.Results[2].ErrorCode != "SCOPE_VIOLATION" {
		t.Fatalf("batch: %+v", res)
	}
	if _, err := c.AuthorizeBatch(context.Background(), &client.BatchRequest{Chain: f.chain, Agent: f.agent}); err == nil {
		t.Fatal("empty batch: want an error")
	}
}

func TestAdminTokenOnlyOnAdminRoutes(t *testing.T) {
	f := newFixture(t)
	var sawAuth []string
	inner := f.gw.Config.Handler
	f.gw.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth = append(sawAuth, r.Method+" "+r.URL.Path)
		}
		if r.Header.Get("Accept") != "application/json" || !strings.HasPrefix(r.Header.Get("User-Agent"), "a1-go-client/") {
			t.Errorf("%s: headers %v", r.URL.Path, r.Header)
		}
		inner.ServeHTTP(w, r)
	})
	c := f.client(t, client.WithAdminToken(fakeAdminToken))
	ctx := context.Background()
	if _, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	roots, err := c.Roots(ctx)
	if err != nil || len(roots) != 1 || roots[0].PublicKeyHex != pkOf(f.human).Hex() {
		t.Fatalf("roots: %+v %v", roots, err)
	}
	if len(sawAuth) != 1 || sawAuth[0] != "GET /v1/roots" {
		t.Fatalf("Authorization sent on %v, want only GET /v1/roots", sawAuth)
	}
}

func TestErrorsAndLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Retry-After", "7")
			http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
		case "/v1/roots":
			w.WriteHeader(200)
			w.Write([]byte(strings.Repeat(" ", client.MaxResponseBytes+10)))
		case "/.well-known/a1-configuration":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Health(ctx)
	ce := wantCode(t, err, 429, "")
	if ce.Message != "rate limit exceeded" || ce.RetryAfter != 7*time.Second {
		t.Fatalf("plain-text error: %+v", ce)
	}
	// The HTTP-date form, relative to the answer's Date header.
	for _, tc := range []struct {
		date, retry string
		want        time.Duration
	}{
		{"Sun, 29 Nov 2026 10:00:00 GMT", "Sun, 29 Nov 2026 10:01:30 GMT", 90 * time.Second},
		{"Sun, 29 Nov 2026 10:00:00 GMT", "Sun, 29 Nov 2026 09:59:00 GMT", 0},
		{"", "Thu, 01 Jan 1970 00:00:00 GMT", 0},
		{"", "soon", 0},
		{"", "-5", 0},
	} {
		dated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.date != "" {
				w.Header()["Date"] = []string{tc.date}
			}
			w.Header().Set("Retry-After", tc.retry)
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}))
		dc, _ := client.New(dated.URL)
		_, err := dc.Health(ctx)
		dated.Close()
		if ce := wantCode(t, err, 503, ""); ce.RetryAfter != tc.want {
			t.Errorf("Retry-After %q (Date %q): %v, want %v", tc.retry, tc.date, ce.RetryAfter, tc.want)
		}
	}
	big, _ := client.New(srv.URL)
	if _, err := big.Roots(ctx); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized response: %v", err)
	}
	_, err = c.Configuration(ctx)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("timeout: %v", err)
	}
	for _, u := range []string{"", "ftp://x", "http://", "::"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q): want an error", u)
		}
	}
}

// TestContextRequestID: a context's request id is sent as X-Request-Id on
// every call made with it, and on no other.
func TestContextRequestID(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(client.RequestIDHeader)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok","storage":"ok"}`))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Health(client.ContextWithRequestID(context.Background(), "job-42")); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "job-42" {
		t.Errorf("X-Request-Id = %q, want job-42", id)
	}
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "" {
		t.Errorf("X-Request-Id = %q without a request id in the context", id)
	}
}

// TestNonAffirmativeAnswersAreErrors: a 2xx answer that does not affirm the
// call (a wrong --gateway, a proxy or a stub answering {} or a denial with
// 200) is an error, never a success: a nil error from Authorize means
// authorized, from Revoke that this very cert is revoked, from VerifyToken
// that the token is valid.
func TestNonAffirmativeAnswersAreErrors(t *testing.T) {
	f := newFixture(t)
	answer := `{}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/a1-configuration" {
			w.Write([]byte(`{"gateway_id":"gw-stub"}`))
			return
		}
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithAdminToken(fakeAdminToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fp := f.chain.Certs[1].Fingerprint()
	other := strings.Repeat("ab", 32)
	calls := map[string]func() (any, error){
		"Authorize": func() (any, error) {
			return c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent})
		},
		"AuthorizeBatch": func() (any, error) {
			return c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: f.chain, Agent: f.agent,
				Intents: []client.BatchIntent{{Name: "trade.equity"}, {Name: "portfolio.read"}}})
		},
		"Revoke":       func() (any, error) { return c.Revoke(ctx, fp, "") },
		"RevokeSigned": func() (any, error) { return c.RevokeSigned(ctx, f.chain, 1, "", f.human) },
		"RevokeBatch":  func() (any, error) { return c.RevokeBatch(ctx, [][32]byte{fp}, "") },
		"CertStatus":   func() (any, error) { return c.CertStatus(ctx, fp) },
		"VerifyToken":  func() (any, error) { return c.VerifyToken(ctx, &a1.VerifiedToken{}) },
	}
	for _, a := range []string{`{}`, `{"authorized":false,"error_code":"SCOPE_VIOLATION"}`, `{"valid":false}`,
		`{"revoked":"` + other + `","fingerprint_hex":"` + other + `","newly_revoked":true}`,
		`{"fingerprint":"` + other + `","revoked":false}`} {
		answer = a
		for name, call := range calls {
			res, err := call()
			if err == nil {
				t.Errorf("%s, answer %s: %+v and no error", name, a, res)
			} else if !errors.Is(err, client.ErrUnexpectedAnswer) && !strings.Contains(err.Error(), "decoding response") {
				t.Errorf("%s, answer %s: %v is not client.ErrUnexpectedAnswer", name, a, err)
			}
		}
	}
}

// TestNewKeepsURLPasswordsOutOfErrors: a gateway URL may carry basic-auth
// credentials; New's errors must not repeat the password.
func TestNewKeepsURLPasswordsOutOfErrors(t *testing.T) {
	for _, u := range []string{"ftp://user:hunter2@gw.example", "http://user:hunter2@gw.example:80%zz", "user:hunter2@gw.example"} {
		_, err := client.New(u)
		if err == nil {
			t.Errorf("New(%q): want an error", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q): the error shows the password: %v", u, err)
		}
	}
}

// TestPlainErrorBodyIsOneLine: a proxy's multi-line HTML error page becomes
// a one-line message without control characters (a terminal escape in it
// would reach the operator's screen through the CLI), cut on a character
// boundary.
func TestPlainErrorBodyIsOneLine(t *testing.T) {
	body := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\t<body>\x1b[31mred\x1b[0m</body>\n</html>\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/roots" {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("a" + strings.Repeat("é", client.MaxErrorMessageBytes)))
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	ce := wantCode(t, err, 502, "")
	if want := "<html> <head><title>502 Bad Gateway</title></head> <body>[31mred[0m</body> </html>"; ce.Message != want {
		t.Errorf("message %q, want %q", ce.Message, want)
	}
	_, err = c.Roots(context.Background())
	ce = wantCode(t, err, 502, "")
	if !utf8.ValidString(ce.Message) || len(ce.Message) > client.MaxErrorMessageBytes+len("…") {
		t.Errorf("long message: %d bytes, valid UTF-8 %v", len(ce.Message), utf8.ValidString(ce.Message))
	}
}

// TestGatewayIDChange: a long-lived client keeps working when the gateway's
// id changes under it (a restart with ephemeral keys, a key rotation): the
// envelope naming the old id is rejected, the client rediscovers and sends
// once more. A rejection that is not about the id, or an explicit Audience,
// is returned as it is, without a second request.
func TestGatewayIDChange(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	req := &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent}
	if _, err := c.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	sent := func(do func() error) (int64, error) {
		before := f.gw.signed.Load()
		err := do()
		return f.gw.signed.Load() - before, err
	}

	f.gw.rename("gw-test-2")
	n, err := sent(func() error { _, err := c.Authorize(ctx, req); return err })
	if err != nil || n != 2 {
		t.Fatalf("authorize after the id changed: %v after %d requests, want success after 2", err, n)
	}
	if cfg, _ := c.Configuration(ctx); cfg.GatewayID != "gw-test-2" {
		t.Fatalf("cached gateway id %q, want gw-test-2", cfg.GatewayID)
	}
	n, err = sent(func() error { _, err := c.Authorize(ctx, req); return err })
	if err != nil || n != 1 {
		t.Fatalf("authorize with the new id: %v after %d requests, want success after 1", err, n)
	}

	f.gw.rename("gw-test-3")
	batch := &client.BatchRequest{Chain: f.chain, Agent: f.agent, Intents: []client.BatchIntent{{Name: "trade.equity"}}}
	if n, err = sent(func() error { _, err := c.AuthorizeBatch(ctx, batch); return err }); err != nil || n != 2 {
		t.Fatalf("batch after the id changed: %v after %d requests, want success after 2", err, n)
	}

	// An explicit audience is the caller's choice: no rediscovery.
	stale := *req
	stale.Audience = "gw-test-2"
	n, err = sent(func() error { _, err := c.Authorize(ctx, &stale); return err })
	wantCode(t, err, 401, "INVALID_PROOF")
	if n != 1 {
		t.Fatalf("explicit audience: %d requests, want 1", n)
	}

	// A proof the gateway rejects for another reason (a wrong agent key)
	// is sent once: the id has not changed.
	wrong := *req
	wrong.Agent, wrong.Executor = f.other, a1.PublicKey{}
	n, err = sent(func() error { _, err := c.Authorize(ctx, &wrong); return err })
	if err == nil || n != 1 {
		t.Fatalf("wrong agent: %v after %d requests, want a denial after 1", err, n)
	}

	f.gw.rename("gw-test-4")
	n, err = sent(func() error { _, err := c.RevokeSigned(ctx, f.chain, 1, "rotated", f.human); return err })
	if err != nil || n != 2 {
		t.Fatalf("signed revocation after the id changed: %v after %d requests, want success after 2", err, n)
	}
}

// TestRemoveConfiguredRoot: removing a key the gateway trusts from its
// configuration is an error (ErrStillTrusted), not a quiet "not removed".
func TestRemoveConfiguredRoot(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, client.WithAdminToken(fakeAdminToken))
	if _, err := c.RemoveRoot(context.Background(), pkOf(f.human)); !errors.Is(err, client.ErrStillTrusted) {
		t.Fatalf("remove a configured root: %v, want ErrStillTrusted", err)
	}
	if removed, err := c.RemoveRoot(context.Background(), pkOf(f.other)); err != nil || removed {
		t.Fatalf("remove an unknown key: %v, %v", removed, err)
	}
}
