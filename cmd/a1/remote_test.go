package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
	"github.com/jackc/pgx/v5/pgxpool"
)

const testAdminToken = "test-admin-token"

// newTestGateway serves the wire shapes a1 authorize and a1 revoke use,
// with the real verifier and memory store: it trusts every root (the
// testscripts check PoP, revocation and replay, not trust anchors).
func newTestGateway() *httptest.Server {
	const id = "gw-cli-test"
	v := a1.NewVerifier(a1.TrustAnyRoot{}, a1.WithAudience(id))
	st := memory.New(memory.Options{SweepInterval: -1})
	fail := func(w http.ResponseWriter, status int, code, msg, hint string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": msg, "error_code": code, "hint": hint})
	}
	ok := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/a1-configuration", func(w http.ResponseWriter, r *http.Request) {
		ok(w, map[string]any{"gateway_id": id})
	})
	mux.HandleFunc("POST /v1/authorize", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Chain        *a1.SignedChain   `json:"chain"`
			IntentName   string            `json:"intent_name"`
			IntentParams map[string]string `json:"intent_params"`
			Executor     string            `json:"executor_pk_hex"`
			Proof        *a1.PoPJSON       `json:"proof"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			fail(w, 400, "MALFORMED_REQUEST", err.Error(), "")
			return
		}
		pk, _ := a1.ParsePublicKeyHex(b.Executor)
		h, _ := a1.HashIntent(b.IntentName, b.IntentParams)
		req := &a1.Request{Chain: b.Chain, Executor: pk, Intent: h, Action: b.IntentName}
		if b.Proof != nil {
			req.PoP, _ = b.Proof.Parse()
		}
		res, err := v.Authorize(r.Context(), req, "", st)
		if err != nil {
			fail(w, a1.HTTPStatus(err), a1.ErrorCode(err), err.Error(), a1.Hint(err))
			return
		}
		fp := hex.EncodeToString(res.ChainFingerprint[:])
		ok(w, map[string]any{"authorized": true, "chain_depth": res.Depth, "chain_fingerprint": fp,
			"verified_at_unix": res.Receipt.VerifiedAtUnix, "error_code": nil,
			"receipt": map[string]any{"passport_namespace": res.PassportNamespace}, "pop": b.Proof != nil})
	})
	mux.HandleFunc("POST /v1/cert/revoke", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			FingerprintHex string          `json:"fingerprint_hex"`
			Chain          *a1.SignedChain `json:"chain"`
			Index          int             `json:"index"`
			Reason         string          `json:"reason"`
			IssuedAt       uint64          `json:"issued_at"`
			RevokerPKHex   string          `json:"revoker_pk_hex"`
			SignatureHex   string          `json:"signature_hex"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			fail(w, 400, "MALFORMED_REQUEST", err.Error(), "")
			return
		}
		var fp [32]byte
		if auth := r.Header.Get("Authorization"); auth != "" {
			if auth != "Bearer "+testAdminToken {
				fail(w, 401, "UNAUTHORIZED", "invalid or missing admin token", "send Authorization: Bearer $A1_ADMIN_TOKEN")
				return
			}
			raw, _ := hex.DecodeString(b.FingerprintHex)
			copy(fp[:], raw)
		} else {
			rev := &a1.SignedRevocation{Chain: b.Chain, Index: b.Index, Reason: b.Reason, IssuedAt: b.IssuedAt}
			rev.Revoker, _ = a1.ParsePublicKeyHex(b.RevokerPKHex)
			sig, _ := hex.DecodeString(b.SignatureHex)
			copy(rev.Signature[:], sig)
			var err error
			if fp, err = a1.VerifyRevocation(rev, a1.TrustAnyRoot{}, id, uint64(time.Now().Unix())); err != nil {
				fail(w, a1.HTTPStatus(err), a1.ErrorCode(err), err.Error(), a1.Hint(err))
				return
			}
		}
		n, _ := st.Revoke(r.Context(), "", []store.Revocation{{Fingerprint: fp, Reason: b.Reason}})
		ok(w, map[string]any{"revoked": hex.EncodeToString(fp[:]), "fingerprint_hex": hex.EncodeToString(fp[:]), "newly_revoked": n > 0})
	})
	return httptest.NewServer(mux)
}

// runCLI runs the command line in-process.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenv, now: time.Now}
	code = e.main(args)
	return out.String(), errb.String(), code
}

func TestMigrate(t *testing.T) {
	url := os.Getenv("A1_TEST_PG_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err == nil {
		err = pool.Ping(ctx)
		defer pool.Close()
	}
	if err != nil {
		if os.Getenv("A1_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	for i := 0; i < 2; i++ { // idempotent
		out, errOut, code := runCLI(t, func(string) string { return "" }, "migrate", "--pg-url", url)
		if code != 0 || !strings.HasPrefix(out, "migrations applied") {
			t.Fatalf("run %d: code %d, stdout %q, stderr %q", i, code, out, errOut)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM a1_schema_migrations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("a1_schema_migrations: %d rows, %v", n, err)
	}
	// --grant gives an existing role the gateway's privileges, no more.
	role := fmt.Sprintf("a1cli_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP OWNED BY "+role)
		pool.Exec(context.Background(), "DROP ROLE "+role)
	})
	out, errOut, code := runCLI(t, func(string) string { return "" }, "migrate", "--pg-url", url, "--grant", role)
	if code != 0 || !strings.Contains(out, "granted "+role) {
		t.Fatalf("--grant: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = neturl.User(role)
	as, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()
	if err := as.QueryRow(ctx, "SELECT count(*) FROM a1_schema_migrations").Scan(&n); err != nil {
		t.Fatalf("the granted role cannot read the migrations: %v", err)
	}
	if _, err := as.Exec(ctx, "DELETE FROM a1_revocation"); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Fatalf("the granted role may delete revocations: %v", err)
	}
	for _, tc := range []struct{ role, want string }{
		{"", "invalid --grant"},
		{strings.Repeat("r", 64), "invalid --grant"},
		{"no_such_role_" + role, "create the role first"},
	} {
		_, errOut, code := runCLI(t, func(string) string { return "" }, "migrate", "--pg-url", url, "--grant", tc.role)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("--grant %q: code %d, stderr %q, want %q", tc.role, code, errOut, tc.want)
		}
	}

	// The URL comes from the environment too; a bad one never echoes its password.
	_, errOut, code = runCLI(t, func(k string) string {
		if k == "A1_PG_URL" {
			return "postgres://u:hunter2@[::1"
		}
		return ""
	}, "migrate")
	if code != 2 || strings.Contains(errOut, "hunter2") || !strings.Contains(errOut, "a1: hint:") {
		t.Fatalf("bad URL: code %d, stderr %q", code, errOut)
	}
}

// TestRequestIDFlag: --request-id reaches the gateway (revoke: the
// X-Request-Id header), and an id the gateway would ignore is a usage error.
func TestRequestIDFlag(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Request-Id")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"revoked":"ok","fingerprint_hex":"` + strings.Repeat("ab", 32) + `","newly_revoked":true}`))
	}))
	defer srv.Close()
	code, stderr := runWith(t, map[string]string{"A1_ADMIN_TOKEN": "t0k3n-for-the-test-1234"}, "revoke", "--gateway", srv.URL,
		"--fingerprint", strings.Repeat("ab", 32), "--request-id", "change-4711")
	if code != exitOK {
		t.Fatalf("revoke: exit %d: %s", code, stderr)
	}
	if id := <-got; id != "change-4711" {
		t.Errorf("X-Request-Id = %q, want change-4711", id)
	}
	for _, args := range [][]string{
		{"revoke", "--gateway", srv.URL, "--fingerprint", strings.Repeat("ab", 32), "--request-id", "has space"},
		{"authorize", "--request-id", strings.Repeat("x", 129)},
	} {
		if code, stderr := runWith(t, nil, args...); code != exitUsage || !strings.Contains(stderr, "--request-id") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
