package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRequestIDHeader: a caller's X-Request-Id is echoed on the response
// and recorded in the audit event of the request (authorize and admin);
// an authorize body's request_id takes precedence in the event; an
// unusable header (too long, control characters or spaces) is ignored and
// the request still served.
func TestRequestIDHeader(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)

	hdr := func(id string) map[string]string { return map[string]string{"X-Request-Id": id} }
	first := sc.authReq(sc.chain(t, 0), 0)
	delete(first, "request_id")
	r := g.do("POST", "/v1/authorize", first, hdr("corr-authorize-1"))
	if r.status != 200 || r.header.Get("X-Request-Id") != "corr-authorize-1" {
		t.Fatalf("authorize: %d, X-Request-Id %q", r.status, r.header.Get("X-Request-Id"))
	}
	body := sc.authReq(sc.chain(t, 1), 1)
	body["request_id"] = "body-id-7"
	if r := g.do("POST", "/v1/authorize", body, hdr("corr-authorize-2")); r.status != 200 || r.body["request_id"] != "body-id-7" {
		t.Fatalf("authorize with a body request_id: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/roots", nil, map[string]string{"Authorization": "Bearer " + adminToken, "X-Request-Id": "corr-admin-1"}); r.status != 200 {
		t.Fatalf("admin: %d", r.status)
	}
	if r := g.do("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": strings.Repeat("ab", 32)},
		map[string]string{"X-Request-Id": "corr-denied-1"}); r.status/100 != 4 || r.header.Get("X-Request-Id") != "corr-denied-1" {
		t.Fatalf("unauthenticated revoke: %d, X-Request-Id %q", r.status, r.header.Get("X-Request-Id"))
	}
	for _, bad := range []string{strings.Repeat("x", 129), "two words", "tab\there"} {
		r := g.do("GET", "/healthz", nil, hdr(bad))
		if r.status != 200 || r.header.Get("X-Request-Id") != "" {
			t.Errorf("header %q: %d, echoed %q", bad, r.status, r.header.Get("X-Request-Id"))
		}
	}

	want := map[string]string{ // request_id -> kind
		"corr-authorize-1": "authorize",
		"body-id-7":        "authorize",
		"corr-admin-1":     "admin",
		"corr-denied-1":    "admin",
	}
	waitFor(t, 5*time.Second, "the audit events", func() bool {
		return strings.Contains(g.audit.String(), "corr-denied-1")
	})
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(g.audit.String()), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if id, _ := ev["request_id"].(string); id != "" {
			seen[id], _ = ev["kind"].(string)
		}
	}
	for id, kind := range want {
		if seen[id] != kind {
			t.Errorf("request_id %q: audit kind %q, want %q (seen %v)", id, seen[id], kind, seen)
		}
	}
	if _, ok := seen["corr-authorize-2"]; ok {
		t.Errorf("the header id replaced the body's request_id in the audit event")
	}
}
