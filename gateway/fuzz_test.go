package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// fuzzRoutes are the request-body routes the handler fuzzer drives; admin
// routes get the admin token so that their decoders are reached.
var fuzzRoutes = []struct {
	path  string
	admin bool
}{
	{"/v1/authorize", false},
	{"/v1/passport/authorize", false},
	{"/v1/authorize/batch", false},
	{"/v1/token/verify", false},
	{"/v1/cert/revoke", false},
	{"/v1/cert/revoke-batch", false},
	{"/v1/cert/issue", true},
	{"/v1/passport/issue", true},
	{"/v1/passport/sub", true},
	{"/v1/roots", true},
}

// FuzzHandler sends arbitrary bodies to every request-body route of an
// in-process gateway on the memory store. Storage cannot fail there, so any
// 5xx is a bug (the recoverer turns a panic into a 500); every error answer
// must be the JSON error shape with an error_code.
func FuzzHandler(f *testing.F) {
	sc := newScenario(f)
	env := map[string]string{"A1_STORE": "memory", "A1_TRUSTED_ROOTS": sc.human.pk.Hex(),
		"A1_GATEWAY_ID": "fuzz", "A1_RATE_LIMIT_RPS": "0", "A1_ADMIN_TOKEN": adminToken}
	cfg, err := gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	s, err := gateway.NewServer(context.Background(), cfg, gateway.Deps{Stdout: io.Discard})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	h := s.Handler()

	// Seeds: a valid PoP authorization, a batch, and bodies for each route.
	chain := sc.chain(f, 0, 1)
	p, err := a1.SignPoP(sc.tool.signer(), "fuzz", chain.Fingerprint(), sc.intents[0], now()+3600)
	if err != nil {
		f.Fatal(err)
	}
	auth := sc.authReq(chain, 0)
	auth["proof"] = p.JSON()
	valid, _ := json.Marshal(auth)
	batch, _ := json.Marshal(map[string]any{"chain": chain, "executor_pk_hex": sc.tool.pk.Hex(),
		"intents": []map[string]any{{"intent_name": "trade.fx"}, {"intent_name": "trade.equity", "intent_params": map[string]string{"symbol": "AAPL"}}}})
	seeds := map[int][]string{
		0: {string(valid), `{}`, `{"chain":{"version":2,"certs":[]}}`, `{"chain":null,"intent_name":"a"}`},
		1: {string(valid)},
		2: {string(batch), `{"intents":[]}`},
		3: {`{"token":{}}`, `{"token":{"chain_fingerprint":"00","mac":"zz"}}`},
		4: {`{"fingerprint_hex":"` + strings.Repeat("ab", 32) + `"}`, `{"revocation":{}}`},
		5: {`{"fingerprints_hex":["` + strings.Repeat("ab", 32) + `"]}`},
		6: {`{"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","intents":[{"name":"a","params":{"k":"v"}}],"ttl_seconds":60}`},
		7: {`{"namespace":"n","capabilities":["a","b"],"ttl_seconds":60}`},
		8: {`{"passport":{},"delegate_pk_hex":"` + sc.tool.pk.Hex() + `","capabilities":["a"]}`},
		9: {`{"public_key_hex":"` + sc.orch.pk.Hex() + `","label":"x"}`},
	}
	for route, bodies := range seeds {
		for _, b := range bodies {
			f.Add(uint8(route), []byte(b), "application/json")
		}
	}
	f.Add(uint8(0), valid, "text/plain")
	f.Add(uint8(0), valid[:len(valid)/2], "application/json; charset=utf-8")

	f.Fuzz(func(t *testing.T, route uint8, body []byte, contentType string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		r := httptest.NewRequest("POST", rt.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if rt.admin {
			r.Header.Set("Authorization", "Bearer "+adminToken)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s answered %d (memory store: only a bug gives 5xx): %s", rt.path, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e struct {
				Error     string `json:"error"`
				ErrorCode string `json:"error_code"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.ErrorCode == "" {
				t.Fatalf("%s answered %d without the JSON error shape: %q", rt.path, w.Code, w.Body)
			}
		}
	})
}
