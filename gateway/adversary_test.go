package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression tests for defects found by attacking a running gateway.

// TestAdversaryFieldNameCase: encoding/json matches member names
// case-insensitively (and under Unicode folding: U+212A KELVIN SIGN is
// "k"), so {"intent_name": A, "INTENT_NAME": B} passed the duplicate-key
// check and the gateway authorized B while every case-sensitive reader of
// the same body (a policy engine in front, the tool that executes the
// action, the reference gateway) sees A. A member that matches a field
// only case-insensitively is now a 400, at every level and on every route.
func TestAdversaryFieldNameCase(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)
	ex := sc.tool.pk.Hex()
	chainJSON := func() string {
		b, err := json.Marshal(sc.chain(t, 2)) // trade.fx only
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// The smuggled intent alone is authorized: the chain allows trade.fx.
	for _, c := range []struct{ name, body string }{
		{"case-variant duplicate of intent_name", `{"chain":` + chainJSON() + `,"intent_name":"trade.equity","INTENT_NAME":"trade.fx","executor_pk_hex":"` + ex + `"}`},
		{"lone case-variant intent_name", `{"chain":` + chainJSON() + `,"Intent_Name":"trade.fx","executor_pk_hex":"` + ex + `"}`},
		{"case-variant chain", `{"Chain":` + chainJSON() + `,"intent_name":"trade.fx","executor_pk_hex":"` + ex + `"}`},
		{"kelvin sign in return_token", `{"chain":` + chainJSON() + `,"intent_name":"trade.fx","return_to\u212aen":true,"executor_pk_hex":"` + ex + `"}`},
		{"case-variant executor", `{"chain":` + chainJSON() + `,"intent_name":"trade.fx","executor_pk_hex":"0000","EXECUTOR_PK_HEX":"` + ex + `"}`},
		{"case-variant in proof", `{"chain":` + chainJSON() + `,"intent_name":"trade.fx","executor_pk_hex":"` + ex + `","proof":{"audience":"x","AUDIENCE":"y"}}`},
	} {
		r := g.post("/v1/authorize", c.body)
		if r.status != 400 || r.code() != "MALFORMED_REQUEST" || r.body["authorized"] == true {
			t.Errorf("authorize, %s: %d %.300s", c.name, r.status, r.raw)
		}
	}
	r := g.post("/v1/authorize/batch", `{"chain":`+chainJSON()+`,"executor_pk_hex":"`+ex+`","intents":[{"name":"trade.equity","NAME":"trade.fx"}]}`)
	if r.status != 400 || r.code() != "MALFORMED_REQUEST" {
		t.Errorf("batch, case-variant intent name: %d %.300s", r.status, r.raw)
	}
	hex64 := strings.Repeat("ab", 32)
	for _, c := range []struct{ path, body string }{
		{"/v1/cert/issue", `{"delegate_pk_hex":"` + ex + `","intents":[{"name":"a","Name":"b"}]}`},
		{"/v1/cert/revoke", `{"fingerprint_hex":"` + hex64 + `","Reason":"x"}`},
		{"/v1/cert/revoke-batch", `{"Fingerprints":["` + hex64 + `"]}`},
		{"/v1/roots", `{"PUBLIC_KEY_HEX":"` + newKey(t).pk.Hex() + `"}`},
	} {
		if r := g.admin("POST", c.path, c.body); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
			t.Errorf("%s %s: %d %.300s", c.path, c.body, r.status, r.raw)
		}
	}

	// Exact names still work, also on the slow path (escapes, unknown
	// members, null), and unknown members are still ignored.
	for _, body := range []string{
		`{"chain":` + chainJSON() + `,"intent_name":"trade.fx","executor_pk_hex":"` + ex + `"}`,
		`{"chain":` + chainJSON() + `,"intent\u005fname":"trade.fx","executor_pk_hex":"` + ex + `","merkle_proof":null,"extra":{"INTENT_NAME":1},"proof":null}`,
	} {
		if r := g.post("/v1/authorize", body); r.status != 200 || r.body["authorized"] != true {
			t.Errorf("valid request: %d %.300s", r.status, r.raw)
		}
	}
	if r := g.admin("POST", "/v1/cert/revoke", `{"fingerprint_hex":"`+hex64+`","reason":"x","note":"y"}`); r.status != 200 {
		t.Errorf("admin revoke with exact names: %d %.300s", r.status, r.raw)
	}
}

// rawRequest sends one literal HTTP/1.1 request (the Go client would clean
// or reject some of these request targets) and reads the response.
func rawRequest(t *testing.T, g *gw, method, target string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(g.url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestAdversaryNonCanonicalPath: a path that is not canonical ("//", "/./",
// "/../") got http.ServeMux's 307 redirect with a text/html body (or a 307
// carrying a NOT_FOUND body), and "OPTIONS *" net/http's empty 200 without
// the protocol header. Both are now a JSON 404; nothing redirects.
func TestAdversaryNonCanonicalPath(t *testing.T) {
	g := startGateway(t, baseEnv(t))
	hex64 := strings.Repeat("ab", 32)
	for _, c := range [][2]string{
		{"GET", "//v1/cert/" + hex64},
		{"GET", "/v1/../healthz"},
		{"GET", "/v1/cert/./" + hex64},
		{"POST", "/v1/./authorize"},
		{"POST", "//v1/cert/issue"},
		{"OPTIONS", "*"},
	} {
		resp, body := rawRequest(t, g, c[0], c[1])
		var e map[string]any
		json.Unmarshal(body, &e)
		if resp.StatusCode != 404 || e["error_code"] != "NOT_FOUND" || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Location") != "" || resp.Header.Get("X-A1-Protocol") != "dyolo_v2.8.0" {
			t.Errorf("%s %s: %d %v %q", c[0], c[1], resp.StatusCode, resp.Header, body)
		}
	}
	// Canonical paths are unaffected.
	if resp, body := rawRequest(t, g, "GET", "/v1/cert/"+hex64); resp.StatusCode != 200 {
		t.Errorf("canonical path: %d %s", resp.StatusCode, body)
	}
}

// TestAdversaryContentEncoding: the body is never decompressed, yet a
// Content-Encoding was ignored: a gzip body was answered "not valid UTF-8",
// and a body labelled gzip but sent plain was decoded and authorized, while
// a proxy or WAF that honours the label inspects something else. A body in
// a charset other than UTF-8 was likewise read as UTF-8. Both are now 415.
func TestAdversaryContentEncoding(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)
	body := func() string {
		b, err := json.Marshal(sc.authReq(sc.chain(t, 0), 0))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, body())
	zw.Close()
	for _, c := range []struct {
		name string
		body any
		hdr  map[string]string
	}{
		{"gzip body", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}},
		{"plain body labelled gzip", body(), map[string]string{"Content-Encoding": "gzip"}},
		{"plain body labelled br", body(), map[string]string{"Content-Encoding": "br"}},
		{"latin-1 charset", body(), map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}},
		{"utf-16 charset", body(), map[string]string{"Content-Type": "application/json; charset=utf-16"}},
	} {
		r := g.do("POST", "/v1/authorize", c.body, c.hdr)
		if r.status != 415 || r.code() != "UNSUPPORTED_MEDIA_TYPE" || r.body["authorized"] == true {
			t.Errorf("%s: %d %.300s", c.name, r.status, r.raw)
		}
	}
	for _, hdr := range []map[string]string{
		{"Content-Encoding": "identity"},
		{"Content-Type": "application/json; charset=UTF-8"},
		{"Content-Type": `Application/JSON; charset="utf-8"`},
	} {
		if r := g.do("POST", "/v1/authorize", body(), hdr); r.status != 200 {
			t.Errorf("%v: %d %.300s", hdr, r.status, r.raw)
		}
	}
}

// TestAdversaryDuplicateAuthorization: with two Authorization fields the
// gateway believed the first and ignored the second, where a proxy in
// front may act on the other one. An ambiguous credential is now no
// credential (401), on admin routes and on the admin form of revocation.
func TestAdversaryDuplicateAuthorization(t *testing.T) {
	g := startGateway(t, baseEnv(t))
	send := func(method, path, body string, auth ...string) reply {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, g.url+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for _, a := range auth {
			req.Header.Add("Authorization", a)
		}
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		r := reply{status: resp.StatusCode, raw: raw}
		json.Unmarshal(raw, &r.body)
		return r
	}
	good, bad := "Bearer "+adminToken, "Bearer not-the-admin-token-000"
	revoke := `{"fingerprint_hex":"` + strings.Repeat("cd", 32) + `"}`
	for _, auth := range [][]string{{good, bad}, {bad, good}, {good, good}} {
		if r := send("GET", "/v1/roots", "", auth...); r.status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("GET /v1/roots with %d Authorization fields: %d %s", len(auth), r.status, r.raw)
		}
		if r := send("POST", "/v1/cert/revoke", revoke, auth...); r.status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("admin revoke with %d Authorization fields: %d %s", len(auth), r.status, r.raw)
		}
	}
	if r := send("GET", "/v1/roots", "", good); r.status != 200 {
		t.Errorf("one Authorization field: %d %s", r.status, r.raw)
	}
}
