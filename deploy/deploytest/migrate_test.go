//go:build linux

package deploytest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/jackc/pgx/v5"
)

// testPGURL is the PostgreSQL server the test may create databases on, as
// its owner (scripts/test.sh exports it; the default is the local server it
// starts). An unreachable server fails the test.
func testPGURL() string {
	if u := os.Getenv("A1_TEST_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// TestKubernetesMigrationRun plays the manifest's PostgreSQL story on a real
// server, with the binary the Dockerfile builds: on a fresh database (with
// the gateway's role, which the manifest asks an administrator to create),
// the a1-migrate Job's command, with the Job's environment and the owner's
// credentials; then a gateway replica with the Deployment's environment,
// logged in as the role the Job granted. The replica must become ready,
// see no excess privilege, and authorize, rate-limit and revoke with
// exactly the granted privileges.
func TestKubernetesMigrationRun(t *testing.T) {
	m, err := decodeManifest(k8sSource(t), readImageT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.checkMigrationJob(); err != nil {
		t.Fatal(err)
	}
	job := &m.job.Spec.Template.Spec.Containers[0]
	role, err := migrateGrant(job)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := url.Parse(testPGURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, owner.String())
	if err != nil {
		t.Fatalf("PostgreSQL at A1_TEST_PG_URL: %v", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) }) // after the DROP below
	// The administrator's one-time step; the role is cluster-wide and kept.
	if _, err := admin.Exec(ctx, `DO $$ BEGIN CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN;
		EXCEPTION WHEN duplicate_object THEN NULL; END $$`); err != nil {
		t.Fatal(err)
	}
	db := "a1_deploytest_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", db, err)
		}
	})
	ownerURL := *owner
	ownerURL.Path = "/" + db
	roleURL := ownerURL
	roleURL.User = url.User(role)

	bin := buildAsDockerfile(t, m.image)

	// The Job: its command line and environment, the owner's URL.
	env, err := m.envOf(job)
	if err != nil {
		t.Fatal(err)
	}
	env["A1_PG_URL"] = ownerURL.String()
	cmd := exec.CommandContext(ctx, bin, slices.Concat(job.Command, job.Args)...)
	cmd.Env = envList(env)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Job's %q: %v\n%s", cmd.Args[1:], err, out)
	}

	// A replica: the Deployment's environment, the granted role's URL.
	env, err = m.env()
	if err != nil {
		t.Fatal(err)
	}
	env["A1_PG_URL"] = roleURL.String()
	env["A1_LISTEN"] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	env["A1_DATA_DIR"] = t.TempDir()
	gw := exec.Command(bin, "gateway")
	gw.Env = envList(env)
	gw.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr lockedBuffer
	gw.Stdout, gw.Stderr = &stdout, &stderr
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gw.Process.Kill(); _ = gw.Wait() }()
	logs := func() string { return "stderr:\n" + stderr.String() }

	base := "http://" + env["A1_LISTEN"]
	hc := &http.Client{Timeout: 3 * time.Second}
	call := func(method, path string, body any, hdr ...string) (int, string) {
		var r bytes.Buffer
		if body != nil {
			if err := json.NewEncoder(&r).Encode(body); err != nil {
				t.Fatal(err)
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, &r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := call("GET", "/healthz", nil); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica is not ready after 30 s\n%s", logs())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Authorize: a chain from the gateway's own key (a trust anchor) to an
	// agent, without a proof of possession, so its nonce is consumed
	// (a1_authorize) and a replay is refused; rate limiting writes too.
	seed, err := hex.DecodeString(testSecrets["A1_SIGNING_KEY_HEX"])
	if err != nil {
		t.Fatal(err)
	}
	gwKey := ed25519.NewKeyFromSeed(seed)
	agentPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().Unix())
	p, err := a1.IssuePassport(gwKey, "deploytest", []string{"trade.equity"}, now-5, 600)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := p.IssueSub(gwKey, a1.PublicKey(agentPub), []string{"trade.equity"}, now-5, 300)
	if err != nil {
		t.Fatal(err)
	}
	chain := a1.NewChain(p.Holder(), p.Cert.ScopeRoot, p.Cert, sub)
	req := map[string]any{"chain": chain, "intent_name": "trade.equity", "executor_pk_hex": hex.EncodeToString(agentPub)}
	if code, body := call("POST", "/v1/authorize", req); code != http.StatusOK || !strings.Contains(body, `"authorized":true`) {
		t.Fatalf("authorize as %s: %d %s\n%s", role, code, body, logs())
	}
	if code, body := call("POST", "/v1/authorize", req); code != http.StatusUnauthorized || !strings.Contains(body, "NONCE_REPLAY") {
		t.Fatalf("replay as %s: %d %s", role, code, body)
	}
	// Revoke (an INSERT the role may do), and see it enforced.
	fp := sub.Fingerprint()
	if code, body := call("POST", "/v1/cert/revoke", map[string]string{"fingerprint_hex": hex.EncodeToString(fp[:])},
		"Authorization", "Bearer "+testSecrets["A1_ADMIN_TOKEN"]); code != http.StatusOK {
		t.Fatalf("revoke as %s: %d %s\n%s", role, code, body, logs())
	}
	if code, body := call("GET", "/v1/cert/"+hex.EncodeToString(fp[:]), nil); code != http.StatusOK || !strings.Contains(body, `"revoked":true`) {
		t.Fatalf("revocation status: %d %s", code, body)
	}

	// The start-up privilege check ran once storage was ready.
	if strings.Contains(stderr.String(), "allow more than the gateway needs") {
		t.Fatalf("the gateway finds excess privileges for role %s:\n%s", role, logs())
	}
	if strings.Contains(stderr.String(), `"level":"ERROR"`) {
		t.Fatalf("the gateway logged an error:\n%s", logs())
	}
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		out = append(out, k+"="+env[k])
	}
	return out
}
