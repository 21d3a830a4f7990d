package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/a1-go/a1/gateway"
)

// inProcess is an in-process gateway (no listener) with env on top of a
// memory-store default, answering through its handler.
type inProcess struct {
	t testing.TB
	h http.Handler
}

func newInProcess(t testing.TB, extra map[string]string) *inProcess {
	t.Helper()
	env := map[string]string{"A1_STORE": "memory", "A1_GATEWAY_ID": "gw-inproc", "A1_RATE_LIMIT_RPS": "0",
		"A1_ADMIN_TOKEN": adminToken, "A1_TENANT": "t-" + randHex(6)}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gateway.NewServer(context.Background(), cfg, gateway.Deps{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &inProcess{t: t, h: s.Handler()}
}

// call sends method path with body (a string or a value to marshal) and
// the given headers ("" removes one).
func (p *inProcess) call(method, path string, body any, hdr map[string]string) reply {
	p.t.Helper()
	req := jsonRequest(p.t, method, path, body, hdr)
	req.RemoteAddr = "192.0.2.1:1234" // as httptest.NewRequest sets it
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, req)
	r := reply{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	_ = json.Unmarshal(w.Body.Bytes(), &r.body)
	return r
}

var asAdmin = map[string]string{"Authorization": "Bearer " + adminToken}

// TestStorageOutageAdminRoutes503: with the storage link cut, every route
// that reads or writes storage answers 503 STORAGE_UNAVAILABLE with
// Retry-After: an admin revocation is never reported done, a root is
// never reported added or removed, a list never answers empty, a batch
// authorization never answers a partial allow; the answer names neither
// the backend's address nor its error.
func TestStorageOutageAdminRoutes503(t *testing.T) {
	ru := redisURL(t)
	u, err := url.Parse(ru)
	if err != nil {
		t.Fatal(err)
	}
	p := newLinkProxy(t, u.Host)
	sc := newScenario(t)
	g := newInProcess(t, map[string]string{"A1_STORE": "redis", "A1_REDIS_URL": withHost(t, ru, p.Addr()), "A1_STORAGE_TIMEOUT": "300ms",
		"A1_TRUSTED_ROOTS": sc.human.pk.Hex()})
	fp := strings.Repeat("ab", 32)
	rootPK := newKey(t).pk.Hex()

	// Reachable: the routes work (so the 503s below are the outage's).
	if r := g.call("GET", "/v1/roots", nil, asAdmin); r.status != 200 {
		t.Fatalf("roots before the outage: %d %s", r.status, r.raw)
	}
	if r := g.call("POST", "/v1/authorize", sc.authReq(sc.chain(t, 0), 0), nil); r.status != 200 {
		t.Fatalf("authorize before the outage: %d %s", r.status, r.raw)
	}
	p.Cut()

	batch := map[string]any{"chain": sc.chain(t, 0, 1), "executor_pk_hex": sc.tool.pk.Hex(),
		"intents": []map[string]any{{"name": tradeIntents[0].name, "params": tradeIntents[0].params}, {"name": tradeIntents[1].name, "params": tradeIntents[1].params}}}
	for _, tc := range []struct {
		name, method, path string
		body               any
		hdr                map[string]string
	}{
		{"revoke", "POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": fp, "reason": "x"}, asAdmin},
		{"revoke batch", "POST", "/v1/cert/revoke-batch", map[string]any{"fingerprints": []string{fp}}, asAdmin},
		{"cert status", "GET", "/v1/cert/" + fp, nil, nil},
		{"list revocations", "GET", "/v1/revocations", nil, asAdmin},
		{"add root", "POST", "/v1/roots", map[string]any{"public_key_hex": rootPK, "label": "l"}, asAdmin},
		{"remove root", "DELETE", "/v1/roots/" + rootPK, nil, asAdmin},
		{"list roots", "GET", "/v1/roots", nil, asAdmin},
		{"authorize", "POST", "/v1/authorize", sc.authReq(sc.chain(t, 0), 0), nil},
		{"authorize batch", "POST", "/v1/authorize/batch", batch, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.call(tc.method, tc.path, tc.body, tc.hdr)
			if r.status != 503 || r.code() != "STORAGE_UNAVAILABLE" || r.header.Get("Retry-After") == "" {
				t.Fatalf("%d %s (Retry-After %q), want 503 STORAGE_UNAVAILABLE with Retry-After", r.status, r.raw, r.header.Get("Retry-After"))
			}
			for _, leak := range []string{p.Addr(), u.Host, "redis", "dial", "connection"} {
				if strings.Contains(strings.ToLower(string(r.raw)), strings.ToLower(leak)) {
					t.Fatalf("the answer names %q: %s", leak, r.raw)
				}
			}
			for _, k := range []string{"authorized", "revoked", "removed", "roots", "revocations", "results"} {
				if _, ok := r.body[k]; ok {
					t.Fatalf("a 503 carries %q: %s", k, r.raw)
				}
			}
		})
	}
}
