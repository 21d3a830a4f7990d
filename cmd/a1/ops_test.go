package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
)

func TestTokenVerify(t *testing.T) {
	dir := t.TempDir()
	var key, old [32]byte
	key[0], old[0] = 1, 2
	tok := a1.NewVerifiedToken(a1.Receipt{ChainDepth: 2, VerifiedAtUnix: 1700000000}, old)
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "token.json")
	wrapped := filepath.Join(dir, "resp.json")
	os.WriteFile(path, b, 0o600)
	os.WriteFile(wrapped, []byte(`{"authorized":true,"token":`+string(b)+`}`), 0o600)
	tampered := strings.Replace(string(b), `"chain_depth":2`, `"chain_depth":1`, 1)
	if tampered == string(b) {
		t.Fatal("tamper did not change the token")
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(tampered), 0o600)
	bound, err := a1.NewBoundToken(a1.Receipt{ChainDepth: 2, VerifiedAtUnix: 1700000000},
		a1.TokenBinding{Audience: "trading-api", Executor: a1.PublicKey{9}}, old)
	if err != nil {
		t.Fatal(err)
	}
	bb, _ := json.Marshal(bound)
	boundPath := filepath.Join(dir, "bound.json")
	os.WriteFile(boundPath, bb, 0o600)
	now := uint64(time.Now().Unix())
	fresh := filepath.Join(dir, "fresh.json")
	ahead := filepath.Join(dir, "ahead.json")
	for file, at := range map[string]uint64{fresh: now, ahead: now + 100} {
		b, _ := json.Marshal(a1.NewVerifiedToken(a1.Receipt{ChainDepth: 2, VerifiedAtUnix: at}, key))
		os.WriteFile(file, b, 0o600)
	}
	k, o := hex.EncodeToString(key[:]), hex.EncodeToString(old[:])
	noenv := func(string) string { return "" }
	env := func(n string) string {
		return map[string]string{"A1_MAC_KEY_HEX": k, "A1_MAC_KEYS_PREVIOUS_HEX": o}[n]
	}
	tests := []struct {
		name   string
		getenv func(string) string
		args   []string
		code   int
		want   string
	}{
		{"previous key from flag", noenv, []string{"--token", path, "--mac-key", k + "," + o}, 0, "valid:"},
		{"keys from env", env, []string{"--token", path}, 0, "valid:"},
		{"wrapped in a response", env, []string{"--token", wrapped, "--json"}, 0, `"valid": true`},
		{"current key only", noenv, []string{"--token", path, "--mac-key", k}, 1, "INVALID"},
		{"tampered", env, []string{"--token", bad}, 1, "INVALID"},
		{"tampered json", env, []string{"--token", bad, "--json"}, 1, `"valid": false`},
		{"no key", noenv, []string{"--token", path}, 2, "no MAC key"},
		{"short key", noenv, []string{"--token", path, "--mac-key", "abcd"}, 2, "not 64 hex"},
		{"not a token", env, []string{"--token", filepath.Join(dir, "nope")}, 2, "no such file"},
		// --max-age: the age of a genuine token only.
		{"old token, max age", env, []string{"--token", path, "--max-age", "5m"}, 1, "TOKEN_EXPIRED"},
		{"fresh token, max age", env, []string{"--token", fresh, "--max-age", "5m"}, 0, "valid:"},
		{"ahead beyond the drift", env, []string{"--token", ahead, "--max-age", "5m"}, 1, "TOKEN_NOT_YET_VALID"},
		{"ahead within --drift", env, []string{"--token", ahead, "--max-age", "5m", "--drift", "120"}, 0, "valid:"},
		{"ahead within A1_DRIFT_SECS", func(n string) string {
			if n == "A1_DRIFT_SECS" {
				return "120"
			}
			return env(n)
		}, []string{"--token", ahead, "--max-age", "5m"}, 0, "valid:"},
		{"tampered old token, max age", env, []string{"--token", bad, "--max-age", "5m"}, 1, "MAC verification failed"},
		{"old token, max age, json", env, []string{"--token", path, "--max-age", "5m", "--json"}, 1, `"error_code": "TOKEN_EXPIRED"`},
		// --audience: a bound token only for its audience, an unbound one never.
		{"bound, its audience", env, []string{"--token", boundPath, "--audience", "trading-api"}, 0, "audience:          trading-api"},
		{"bound, its audience, json", env, []string{"--token", boundPath, "--audience", "trading-api", "--json"}, 0, `"executor_pk_hex": "09`},
		{"bound, no audience", env, []string{"--token", boundPath}, 1, "TOKEN_AUDIENCE_MISMATCH"},
		{"bound, another audience", env, []string{"--token", boundPath, "--audience", "payments-api"}, 1, "TOKEN_AUDIENCE_MISMATCH"},
		{"audience given empty", env, []string{"--token", path, "--audience", ""}, 2, `--audience ""`},
		{"audience with a control character", env, []string{"--token", boundPath, "--audience", "trading-api\n"}, 2, "--audience"},
		{"audience U+FFFD", env, []string{"--token", path, "--audience", "svc\ufffd"}, 2, "--audience"},
		{"unbound, an audience", env, []string{"--token", path, "--audience", "trading-api"}, 1, "TOKEN_AUDIENCE_MISMATCH"},
		{"bound, tampered audience", env, []string{"--token", writeFile(t, dir, "bound-bad.json", strings.Replace(string(bb), "trading-api", "trading-apj", 1)), "--audience", "trading-apj"}, 1, "MAC verification failed"},
		{"drift without max age", env, []string{"--token", fresh, "--drift", "5"}, 2, "--drift without --max-age"},
		{"max age not whole seconds", env, []string{"--token", fresh, "--max-age", "1500ms"}, 2, "--max-age"},
		{"max age zero", env, []string{"--token", fresh, "--max-age", "0s"}, 2, "--max-age"},
		{"drift too large", env, []string{"--token", fresh, "--max-age", "5m", "--drift", "601"}, 2, "drift"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.getenv, append([]string{"token", "verify"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("code %d (want %d), stdout %q, stderr %q (want %q)", code, tt.code, out, errOut, tt.want)
			}
			if strings.Contains(out+errOut, k) || strings.Contains(out+errOut, o) {
				t.Fatal("a MAC key was printed")
			}
		})
	}
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "audit.ndjson")
	os.WriteFile(garbage, []byte("{\"not\":\"an event\"}\nnot json\n"), 0o600)
	out, errOut, code := runCLI(t, nil, "audit", "verify", garbage)
	if code != 1 || !strings.Contains(out, "line 2:") || !strings.Contains(errOut, "a1: hint:") {
		t.Fatalf("garbage: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	empty := filepath.Join(dir, "empty.ndjson")
	os.WriteFile(empty, nil, 0o600)
	if out, errOut, code := runCLI(t, nil, "audit", "verify", empty); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("empty: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, nil, "audit", "verify", filepath.Join(dir, "missing")); code != 2 || !strings.Contains(errOut, "a1: error:") {
		t.Fatalf("missing: code %d, stderr %q", code, errOut)
	}
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
