package gateway_test

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/bolt"
)

// Durability of the embedded store (store/bolt) as the gateway runs it: a
// real process, killed with SIGKILL right after its answers, restarted on
// the same A1_DATA_DIR.

// boltEnv is a gateway on the default store (A1_STORE unset, neither
// A1_PG_URL nor A1_REDIS_URL: bbolt in A1_DATA_DIR) in dir.
func boltEnv(t *testing.T, dir string, roots ...string) map[string]string {
	env := baseEnv(t)
	delete(env, "A1_STORE")
	env["A1_DATA_DIR"] = dir
	env["A1_TRUSTED_ROOTS"] = strings.Join(roots, ",")
	return env
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (g *gw) kill9() {
	g.t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		g.t.Fatal(err)
	}
	<-g.done
}

// exitCode waits for a gateway that must exit by itself (a start failure)
// and returns its exit code.
func (g *gw) exitCode() int {
	g.t.Helper()
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		g.t.Fatalf("gateway still running, want a start failure: %s", g.stderr.String())
	}
	return g.cmd.ProcessState.ExitCode()
}

// TestBoltStateSurvivesSIGKILL: an authorization (no proof of possession:
// the terminal cert's nonce is consumed) and a revocation, each answered
// 200, then SIGKILL at once: after a restart on the same directory the
// replay is refused and the revoked certificate stays revoked.
func TestBoltStateSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	sc, other := newScenario(t), newScenario(t)
	env := boltEnv(t, dir, sc.human.pk.Hex(), other.human.pk.Hex())
	g := startGateway(t, env)
	if h := g.do("GET", "/healthz", nil, nil); h.body["storage_backend"] != "bolt" {
		t.Fatalf("default store: %s, want bolt", h.raw)
	}

	req := sc.authReq(sc.chain(t, 0), 0)
	if r := g.post("/v1/authorize", req); r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	g.kill9()

	g = startGateway(t, env)
	if r := g.post("/v1/authorize", req); r.status != 401 || r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay after SIGKILL and restart: %d %s, want 401 NONCE_REPLAY", r.status, r.raw)
	}
	fp := other.c1.Fingerprint()
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(fp[:]), "reason": "lost laptop"}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	g.kill9()

	g = startGateway(t, env)
	if r := g.post("/v1/authorize", other.authReq(other.chain(t, 0), 0)); r.status != 401 || r.code() != "CERT_REVOKED" {
		t.Fatalf("revoked cert after SIGKILL and restart: %d %s, want 401 CERT_REVOKED", r.status, r.raw)
	}
	if r := g.post("/v1/authorize", req); r.status != 401 || r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay after the second restart: %d %s", r.status, r.raw)
	}
	// The store still works: a fresh chain is authorized.
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 200 {
		t.Fatalf("fresh chain: %d %s", r.status, r.raw)
	}
}

// TestBoltSecondGatewayRefused: a second gateway on the same A1_DATA_DIR
// exits with a configuration error naming the variable and the lock,
// instead of hanging or sharing the file; the first keeps serving.
func TestBoltSecondGatewayRefused(t *testing.T) {
	dir := t.TempDir()
	sc := newScenario(t)
	env := boltEnv(t, dir, sc.human.pk.Hex())
	first := startGateway(t, env)

	second := tryStart(t, env)
	if code := second.exitCode(); code != 2 {
		t.Fatalf("second gateway exit code %d, want 2: %s", code, second.stderr.String())
	}
	msg := second.stderr.String()
	if !strings.Contains(msg, "a1: error: A1_DATA_DIR:") || !strings.Contains(msg, "locked by another process") ||
		!strings.Contains(msg, "give each gateway its own A1_DATA_DIR") {
		t.Errorf("second gateway's error does not name A1_DATA_DIR, the lock and the fix:\n%s", msg)
	}
	if r := first.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 200 {
		t.Fatalf("first gateway after the second's attempt: %d %s", r.status, r.raw)
	}
}

// TestBoltDamagedFileRefused: a gateway whose A1_DATA_DIR holds a damaged
// a1.db refuses to start with a configuration error (exit 2) naming
// A1_DATA_DIR, never a Go panic, and never silently starts on an empty
// store (which would un-revoke every certificate).
func TestBoltDamagedFileRefused(t *testing.T) {
	// full writes a store with enough revocations and nonces to span many
	// pages, as a real one does.
	full := func(t *testing.T, path string) {
		s, err := bolt.Open(path, bolt.Options{SweepInterval: -1, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := 0; i < 40; i++ {
			var revs []store.Revocation
			var nonces []store.Nonce
			for j := 0; j < 100; j++ {
				var k [32]byte
				copy(k[:], randHexBytes(32))
				revs = append(revs, store.Revocation{Fingerprint: k, Reason: "test"})
				copy(k[:], randHexBytes(32))
				nonces = append(nonces, store.Nonce{Key: k, ExpiresAt: time.Now().Add(time.Hour)})
			}
			if _, err := s.Revoke(ctx, "", revs); err != nil {
				t.Fatal(err)
			}
			if err := s.Authorize(ctx, store.AuthorizeRequest{Nonces: nonces}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"zero length", func(t *testing.T, path string) {
			full(t, path)
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated to half", func(t *testing.T, path string) {
			full(t, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file\n", 1000)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.damage(t, filepath.Join(dir, "a1.db"))
			g := tryStart(t, boltEnv(t, dir))
			code := g.exitCode()
			msg := g.stderr.String()
			if code != 2 || !strings.Contains(msg, "a1: error: A1_DATA_DIR:") || !strings.Contains(msg, "restore a1.db from a backup") {
				t.Fatalf("exit code %d, want 2 with an A1_DATA_DIR error and the fix:\n%.2000s", code, msg)
			}
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
				t.Fatalf("the gateway panicked:\n%.2000s", msg)
			}
		})
	}
}

func randHexBytes(n int) []byte {
	b, _ := hex.DecodeString(randHex(n))
	return b
}

// TestBoltDiskFull runs the gateway's store on a tiny tmpfs (root only;
// skipped where mounting is not permitted), then fills the disk. Every
// authorization must then answer 200 (bbolt reused a free page) or 503
// STORAGE_UNAVAILABLE, never anything else; one whose write failed consumed
// nothing and is authorized once space is back; what was acknowledged
// before stays consumed, also across a SIGKILL.
func TestBoltDiskFull(t *testing.T) {
	dir := tmpfs(t, "2m")
	sc := newScenario(t)
	env := boltEnv(t, dir, sc.human.pk.Hex())
	g := startGateway(t, env)

	var ok []map[string]any
	for i := 0; i < 5; i++ {
		req := sc.authReq(sc.chain(t, 0), 0)
		if r := g.post("/v1/authorize", req); r.status != 200 {
			t.Fatalf("authorize before the disk is full: %d %s", r.status, r.raw)
		}
		ok = append(ok, req)
	}
	filler := fill(t, dir)

	var failed map[string]any
	before := len(ok)
	for i := 0; i < 5000 && failed == nil; i++ {
		req := sc.authReq(sc.chain(t, 0), 0)
		switch r := g.post("/v1/authorize", req); {
		case r.status == 200:
			ok = append(ok, req)
		case r.status == 503 && r.code() == "STORAGE_UNAVAILABLE":
			failed = req
		default:
			t.Fatalf("authorize on a full disk: %d %s, want 200 or 503", r.status, r.raw)
		}
	}
	if failed == nil {
		t.Fatal("no write failed on a full disk after 5000 authorizations")
	}
	t.Logf("disk full: %d authorizations fit in free pages before the first 503", len(ok)-before)
	// The probe only reads the file: a full disk keeps the replica in the
	// balancer (docs/storage.md), its writes answered 503.
	if r := g.do("GET", "/healthz", nil, nil); r.status != 200 {
		t.Errorf("/healthz on a full disk: %d %s, want 200 as documented", r.status, r.raw)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if r := g.post("/v1/authorize", failed); r.status != 200 {
		t.Fatalf("the request whose write failed, once space is back: %d %s, want 200 (nothing was consumed)", r.status, r.raw)
	}
	ok = append(ok, failed)
	g.kill9()
	g = startGateway(t, env)
	for i, req := range ok {
		if r := g.post("/v1/authorize", req); r.status != 401 || r.code() != "NONCE_REPLAY" {
			t.Fatalf("replay %d of %d after the full disk and a SIGKILL: %d %s", i, len(ok), r.status, r.raw)
		}
	}
}

// tmpfs mounts a private tmpfs of size (mount's -o size=) and returns its
// path; the test is skipped where mounting is not permitted.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into dir until the file system is full and returns
// its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}

// TestMemoryStoreSaysItForgets: the memory store is never the default, and
// when chosen the gateway says at start and on /healthz that it forgets;
// after a restart a consumed nonce is indeed accepted again.
func TestMemoryStoreSaysItForgets(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_STORE"] = "memory"
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	const warning = "memory store: revocations and consumed nonces are lost on restart"
	g := startGateway(t, env)
	if !strings.Contains(g.stderr.String(), warning) {
		t.Errorf("no start-up warning on the memory store:\n%s", g.stderr.String())
	}
	h := g.do("GET", "/healthz", nil, nil)
	if h.body["storage_backend"] != "memory" || !strings.Contains(string(h.raw), warning) {
		t.Errorf("/healthz does not warn about the memory store: %s", h.raw)
	}
	req := sc.authReq(sc.chain(t, 0), 0)
	if r := g.post("/v1/authorize", req); r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	if r := g.post("/v1/authorize", req); r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	g.stop()
	g = startGateway(t, env)
	if r := g.post("/v1/authorize", req); r.status != 200 {
		t.Fatalf("replay after a restart on the memory store: %d %s; the documented behaviour is that it is accepted", r.status, r.raw)
	}
}
