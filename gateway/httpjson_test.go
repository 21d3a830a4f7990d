package gateway

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnmarshalStrictTrailing checks the end of the first top-level value:
// whitespace may follow it, nothing else (a stray closing bracket included).
func TestUnmarshalStrictTrailing(t *testing.T) {
	cases := []struct {
		body  string
		ok    bool
		inMsg string
	}{
		{`{"intent_name":"a"}`, true, ""},
		{"{\"intent_name\":\"a\"} \t\r\n", true, ""},
		{`{"intent_name":"a"}{}`, false, "trailing data"},
		{`{"intent_name":"a"} x`, false, "trailing data"},
		{`{"intent_name":"a"}}`, false, "trailing data"},
		{`{"intent_name":"a"}]`, false, "trailing data"},
		{`{"intent_name":"a"`, false, "malformed JSON"},
		{`{"intent_name":}`, false, "malformed JSON"},
		{`{"intent_name":"a}"} `, true, ""},
		{`[]`, false, "wrong type"},
		{`"s"`, false, "wrong type"},
	}
	for _, tc := range cases {
		var req authorizeRequest
		e := unmarshalStrict([]byte(tc.body), &req)
		if (e == nil) != tc.ok {
			t.Fatalf("%q: err = %v, want ok=%v", tc.body, e, tc.ok)
		}
		if e != nil && !strings.Contains(e.Msg, tc.inMsg) {
			t.Fatalf("%q: %q does not mention %q", tc.body, e.Msg, tc.inMsg)
		}
	}
}

// TestUnmarshalStrictChainSpan checks that the chain bytes handed to the
// chain decoder are exactly the top-level "chain" object, and that the rest
// of the envelope is decoded.
func TestUnmarshalStrictChainSpan(t *testing.T) {
	chain := `{"version":1,"principal_pk":"ab","certs":[{"x":[1,2,{"y":"}"}]}]}`
	for _, body := range []string{
		`{"chain":` + chain + `,"intent_name":"n","request_id":"r"}`,
		`{"intent_name":"n", "chain" : ` + chain + `, "request_id":"r"}` + "\n",
		`{"request_id":"r","intent_name":"n","chain":` + chain + `}`,
	} {
		var req authorizeRequest
		if e := unmarshalStrict([]byte(body), &req); e != nil {
			t.Fatalf("%s: %v", body, e)
		}
		if string(req.Chain) != chain || req.IntentName != "n" || req.RequestID != "r" {
			t.Fatalf("%s: chain %q, intent %q, request_id %q", body, req.Chain, req.IntentName, req.RequestID)
		}
	}
	// A nested "chain" key is not the envelope's.
	var req authorizeRequest
	if e := unmarshalStrict([]byte(`{"intent_params":{"chain":"x"}}`), &req); e != nil || req.Chain != nil {
		t.Fatalf("nested chain key: %v, chain %q", e, req.Chain)
	}
}

// TestDecodePooledReuse decodes bodies of different sizes through the
// pool: each decode sees only its own body.
func TestDecodePooledReuse(t *testing.T) {
	for i, body := range []string{
		`{"chain":{"a":"` + strings.Repeat("x", 5000) + `"},"intent_name":"long"}`,
		`{"chain":{"b":1},"intent_name":"short"}`,
		`{"intent_name":"none"}`,
	} {
		r := httptest.NewRequest("POST", "/v1/authorize", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req authorizeRequest
		buf, e := decodePooled(httptest.NewRecorder(), r, 1<<20, &req)
		if e != nil {
			t.Fatalf("body %d: %v", i, e)
		}
		if !bytes.Contains([]byte(body), req.Chain) || (req.Chain == nil) != (i == 2) {
			t.Fatalf("body %d: chain %q", i, req.Chain)
		}
		putBody(buf)
	}
	// Content types: the fast path and the parsed form.
	for ct, ok := range map[string]bool{"application/json": true, "application/json; charset=utf-8": true,
		"Application/JSON": true, "application/jsonx": false, "text/json": false} {
		r := httptest.NewRequest("POST", "/v1/authorize", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", ct)
		var req authorizeRequest
		buf, e := decodePooled(httptest.NewRecorder(), r, 1<<20, &req)
		putBody(buf)
		if (e == nil) != ok {
			t.Fatalf("Content-Type %q: %v", ct, e)
		}
	}
}
