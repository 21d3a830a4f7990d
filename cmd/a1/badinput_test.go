package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// writeTestChain writes a one-cert chain (human → agent, trade.equity) and
// the agent's and human's keys into dir; it returns the chain path.
func writeTestChain(t *testing.T, dir string) string {
	t.Helper()
	for _, name := range []string{"human.key", "agent.key"} {
		if code, stderr := runWith(t, nil, "keygen", "--out", filepath.Join(dir, name)); code != 0 {
			t.Fatalf("keygen: %s", stderr)
		}
	}
	out, stderr, code := runCLI(t, func(string) string { return "" }, "pubkey", "--key", filepath.Join(dir, "agent.key"))
	if code != 0 {
		t.Fatalf("pubkey: %s", stderr)
	}
	chain := filepath.Join(dir, "chain.json")
	if code, stderr := runWith(t, nil, "cert", "issue", "--key", filepath.Join(dir, "human.key"), "--delegate", strings.TrimSpace(out),
		"--intent", "trade.equity", "--out", chain); code != 0 {
		t.Fatalf("cert issue: %s", stderr)
	}
	return chain
}

// TestRemoteBadInputs: usage mistakes with the gateway commands are one
// clear usage error (exit 2) naming the flag, before any request.
func TestRemoteBadInputs(t *testing.T) {
	dir := t.TempDir()
	chain := writeTestChain(t, dir)
	key := filepath.Join(dir, "agent.key")
	human := filepath.Join(dir, "human.key")
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	fp := strings.Repeat("ab", 32)
	env := map[string]string{"A1_GATEWAY_URL": srv.URL, "A1_ADMIN_TOKEN": "t0k3n-for-the-test-1234"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"revoke", "--chain", chain, "--key", human}, "--index is required"},
		{[]string{"authorize", "--chain", chain, "--intent", "trade.equity", "--key", key, "--timeout", "0"}, "--timeout"},
		{[]string{"authorize", "--chain", chain, "--intent", "trade.equity", "--key", key, "--timeout", "-1s"}, "--timeout"},
		{[]string{"revoke", "--fingerprint", fp, "--timeout", "0s"}, "--timeout"},
		{[]string{"revoke", "--chain", chain, "--index", "0", "--key", human, "--timeout", "-5s"}, "--timeout"},
		{[]string{"migrate", "--pg-url", "postgres://u@127.0.0.1:1/db", "--timeout", "0"}, "--timeout"},
		{[]string{"authorize", "--chain", chain, "--intent", "trade.equity", "--key", key, "--token-out", filepath.Join(dir, "tok.json"), "--token-audience", ""}, "--token-audience"},
		{[]string{"authorize", "--chain", chain, "--intent", "trade.equity", "--key", key, "--token-out", filepath.Join(dir, "tok.json"), "--token-audience", "svc\ufffd"}, "--token-audience"},
		{[]string{"authorize", "--chain", chain, "--intent", "trade.equity", "--key", key, "--token-audience", "svc"}, "--token-audience"},
	} {
		code, stderr := runWith(t, env, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "a1: error:") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if hits != 0 {
		t.Errorf("%d requests reached the gateway", hits)
	}
}

// TestNegativeNow: --now is Unix seconds; a negative value is a usage
// error, not silently the current time.
func TestNegativeNow(t *testing.T) {
	dir := t.TempDir()
	chain := writeTestChain(t, dir)
	key := filepath.Join(dir, "human.key")
	pk, _, _ := runCLI(t, func(string) string { return "" }, "pubkey", "--key", key)
	pk = strings.TrimSpace(pk)
	passport := filepath.Join(dir, "p.json")
	if code, stderr := runWith(t, nil, "passport", "issue", "--namespace", "ns", "--allow", "a", "--key", key, "--out", passport); code != 0 {
		t.Fatal(stderr)
	}
	for _, args := range [][]string{
		{"chain", "inspect", chain, "--now", "-5"},
		{"passport", "inspect", passport, "--now", "-1"},
		{"verify", "--chain", chain, "--intent", "trade.equity", "--executor", pk, "--trust-any", "--now", "-5"},
		{"passport", "issue", "--namespace", "ns", "--allow", "a", "--key", key, "--out", "-", "--now", "-5"},
		{"passport", "sub", "--passport", passport, "--key", key, "--delegate", pk, "--allow", "a", "--out", "-", "--now", "-5"},
		{"passport", "renew", "--passport", passport, "--key", key, "--out", "-", "--now", "-5"},
		{"cert", "issue", "--key", key, "--delegate", pk, "--intent", "a", "--out", "-", "--now", "-5"},
	} {
		code, stderr := runWith(t, nil, args...)
		if code != exitUsage || !strings.Contains(stderr, "-now") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming --now", args, code, stderr)
		}
	}
}

// TestRevokeAgainstANonGateway: a --gateway that answers 200 with something
// other than a gateway's revocation (another service, a stub) is a
// failure, never "revoked" or "already revoked" with exit 0.
func TestRevokeAgainstANonGateway(t *testing.T) {
	dir := t.TempDir()
	chain := writeTestChain(t, dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/a1-configuration" {
			w.Write([]byte(`{"gateway_id":"not-a-gateway"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	env := map[string]string{"A1_GATEWAY_URL": srv.URL, "A1_ADMIN_TOKEN": "t0k3n-for-the-test-1234"}
	for _, args := range [][]string{
		{"revoke", "--fingerprint", strings.Repeat("ab", 32)},
		{"revoke", "--chain", chain, "--index", "0", "--key", filepath.Join(dir, "human.key")},
		{"authorize", "--chain", chain, "--intent", "trade.equity", "--key", filepath.Join(dir, "agent.key")},
	} {
		stdout, stderr, code := runCLI(t, func(k string) string { return env[k] }, args...)
		if code != exitFail || strings.Contains(stdout, "revoked") || strings.Contains(stdout, "authorized") ||
			!strings.Contains(stderr, "not an a1 gateway") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}
