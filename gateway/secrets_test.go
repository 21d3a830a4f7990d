package gateway_test

import (
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSecretsNeverLogged runs a gateway at debug level with every secret
// set to a recognizable value, drives the paths that log (admin calls with
// the right and a wrong bearer, authorizations with tokens, token
// verification, denials, a storage backend it cannot reach, a refused
// configuration), and requires that no secret appears in its log or its
// audit stream, in either hex case.
func TestSecretsNeverLogged(t *testing.T) {
	sc := newScenario(t)
	signing := strings.Repeat("5a", 32)
	mac := strings.Repeat("6b", 32)
	prevMAC := strings.Repeat("7c", 32)
	wrongBearer := "wrong-bearer-token-never-logged-0123"
	prevAdmin := "previous-admin-token-never-logged-1"
	secrets := []string{signing, mac, prevMAC, adminToken, wrongBearer, prevAdmin}

	env := baseEnv(t)
	env["A1_LOG_LEVEL"] = "debug"
	env["A1_SIGNING_KEY_HEX"] = signing
	env["A1_MAC_KEY_HEX"] = mac
	env["A1_MAC_KEYS_PREVIOUS_HEX"] = prevMAC
	env["A1_ADMIN_TOKENS_PREVIOUS"] = prevAdmin
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)

	// Admin with the right and a wrong token, and without one.
	if r := g.admin("GET", "/v1/roots", nil); r.status != 200 {
		t.Fatalf("admin: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/roots", nil, map[string]string{"Authorization": "Bearer " + prevAdmin}); r.status != 200 {
		t.Fatalf("previous admin token: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/roots", nil, map[string]string{"Authorization": "Bearer " + wrongBearer}); r.status != 401 {
		t.Fatalf("wrong bearer: %d %s", r.status, r.raw)
	}
	// An authorization with a token, its verification, a tampered token,
	// a replay.
	chain := sc.chain(t, 0)
	req := sc.authReq(chain, 0)
	req["return_token"] = true
	r := g.post("/v1/authorize", req)
	if r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	tok := r.body["token"].(map[string]any)
	macHex, _ := tok["mac"].(string)
	if len(macHex) != 64 {
		t.Fatalf("token mac: %v", tok["mac"])
	}
	secrets = append(secrets, macHex)
	if v := g.post("/v1/token/verify", map[string]any{"token": tok}); v.status != 200 {
		t.Fatalf("token verify: %d %s", v.status, v.raw)
	}
	bad := map[string]any{}
	for k, v := range tok {
		bad[k] = v
	}
	bad["mac"] = strings.Repeat("00", 32)
	g.post("/v1/token/verify", map[string]any{"token": bad})
	if r := g.post("/v1/authorize", req); r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	// Cert issuance signs with the gateway key.
	if r := g.admin("POST", "/v1/cert/issue", map[string]any{"delegate_pk_hex": sc.tool.pk.Hex(),
		"intents": []map[string]any{{"name": "trade.equity", "params": map[string]string{"symbol": "AAPL"}}}}); r.status != 201 {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	g.stop()

	// Storage it cannot reach, with passwords in the URLs.
	for _, c := range []struct{ store, key, url string }{
		{"postgres", "A1_PG_URL", "postgres://a1:pg-password-never-logged@127.0.0.1:1/a1?sslmode=disable&connect_timeout=1"},
		{"redis", "A1_REDIS_URL", "redis://:redis-password-never-logged@127.0.0.1:1/0"},
	} {
		e := baseEnv(t)
		e["A1_LOG_LEVEL"] = "debug"
		e["A1_STORE"] = c.store
		e[c.key] = c.url
		e["A1_STORAGE_TIMEOUT"] = "300ms"
		sg := tryStart(t, e)
		waitFor(t, 20*time.Second, c.store+" gateway answering /healthz with 503", sg.answers("/healthz", 503))
		// A request that needs storage fails closed and is logged.
		if r := sg.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 503 && r.status != 403 {
			t.Errorf("%s authorize during outage: %d %s", c.store, r.status, r.raw)
		}
		sg.stop()
		if !strings.Contains(sg.stderr.String(), "unavailable") && !strings.Contains(sg.stderr.String(), "not ready") {
			t.Errorf("%s gateway logged no storage failure: %.600s", c.store, sg.stderr.String())
		}
		u, _ := url.Parse(c.url)
		pw, _ := u.User.Password()
		checkNoSecrets(t, c.store+" gateway", sg.stderr.String()+sg.audit.String(), pw)
	}

	// A configuration refused for a malformed secret does not quote it.
	e := baseEnv(t)
	e["A1_MAC_KEY_HEX"] = "zz-malformed-mac-key-never-logged"
	cg := tryStart(t, e)
	select {
	case <-cg.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway with a malformed MAC key did not exit")
	}
	checkNoSecrets(t, "config error", cg.stderr.String(), "zz-malformed-mac-key-never-logged")

	logs := g.stderr.String() + g.audit.String()
	if !strings.Contains(logs, `"kind":"authorize"`) || !strings.Contains(logs, `"error_code":"NONCE_REPLAY"`) {
		t.Fatalf("the audit stream does not show the exercised paths: %.600s", logs)
	}
	checkNoSecrets(t, "gateway", logs, secrets...)
	// The public halves may appear; prove the check can see hex at all.
	if !strings.Contains(logs, sc.human.pk.Hex()) && !strings.Contains(logs, hex.EncodeToString(chain.PrincipalPK[:])) {
		t.Errorf("the principal's public key is in no log line: the scan may not be reading the logs")
	}
}

func checkNoSecrets(t *testing.T, where, logs string, secrets ...string) {
	t.Helper()
	low := strings.ToLower(logs)
	for _, s := range secrets {
		if strings.Contains(low, strings.ToLower(s)) {
			t.Errorf("%s: a secret (%.6s…) appears in the logs", where, s)
		}
	}
}
