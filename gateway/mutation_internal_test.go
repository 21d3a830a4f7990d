package gateway

// Rejecting tests for checks of the gateway that a mutation review found
// unguarded, where the check is reachable only from inside the package;
// see mutation_test.go for the others. The comment of each test names the
// check it guards.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

// TestMutationForwardedForWalk guards clientIP's X-Forwarded-For walk
// (clientip.go): a hop a trusted proxy forwarded that does not parse stops
// the walk at the last address a trusted hop vouched for (skipping it would
// hand the client the address it wrote to the left of it, so a client
// chooses its rate-limit bucket), and at most maxForwardedHops entries are
// examined (beyond them the client is the last trusted hop examined, never
// an entry further left).
func TestMutationForwardedForWalk(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	var hops []string
	for i := range maxForwardedHops + 8 {
		hops = append(hops, "10.0.1."+itoa(i))
	}
	for _, c := range []struct {
		name, xff, want string
	}{
		{"garbage between a spoofed and a trusted hop", "203.0.113.66, bogus, 10.0.0.9", "10.0.0.9"},
		{"garbage with a port between trusted hops", "203.0.113.66, 10.0.0.8:x, 10.0.0.9", "10.0.0.9"},
		{"garbage right after the peer", "203.0.113.66, bogus", "10.1.2.3"},
		// 40 trusted hops: the 32nd from the right is the last examined.
		{"more trusted hops than examined", "198.51.100.7, " + strings.Join(hops, ", "), hops[len(hops)-maxForwardedHops]},
		{"exactly the examined hops", strings.Join(hops[len(hops)-maxForwardedHops+1:], ", ") + ", 10.0.0.1", hops[len(hops)-maxForwardedHops+1]},
		{"the client just inside the bound", "198.51.100.7, " + strings.Join(hops[len(hops)-maxForwardedHops+1:], ", "), "198.51.100.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.2.3:5555"
		r.Header.Set("X-Forwarded-For", c.xff)
		if got := clientIP(r, ProxyXForwardedFor, trusted); got.String() != c.want {
			t.Errorf("%s: client %v, want %s", c.name, got, c.want)
		}
	}
}

// TestMutationChainCacheSameLength guards the chain cache's bytes.Equal on
// a hit (chaincache.go): an entry found under the request's hash is
// returned only for the very same bytes. The collision test's two chains
// differ in length, so a cache comparing anything weaker (the length)
// passed it; here the colliding entry is another chain of the same length
// (one signature byte changed), which the cache must not return.
func TestMutationChainCacheSameLength(t *testing.T) {
	raw := testChainJSON(t)
	i := bytes.LastIndex(raw, []byte(`"signature":[`)) + len(`"signature":[`)
	j := i + bytes.IndexByte(raw[i:], ',') - 1 // the last digit of the first byte
	other := bytes.Clone(raw)
	other[j] ^= 1 // 0↔1, …, 4↔5, 8↔9: still a byte, same length
	otherChain, err := a1.DecodeSignedChain(other)
	if err != nil || len(other) != len(raw) || bytes.Equal(other, raw) {
		t.Fatalf("the same-length chain: %v", err)
	}
	want, err := a1.DecodeSignedChain(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []string{"current", "old"} {
		c := newChainCache()
		h := maphash.Bytes(c.seed, raw)
		e := &chainEntry{raw: other, chain: otherChain}
		if gen == "current" {
			c.cur[h] = e
		} else {
			c.old = map[uint64]*chainEntry{h: e}
		}
		got, err := c.decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got == otherChain || !chainsEqual(t, got, want) || chainsEqual(t, got, otherChain) {
			t.Fatalf("%s generation: a same-length collision returned another chain", gen)
		}
	}
}

// revocationsDownBackend is a backend whose revocation reads and writes
// fail as an unreachable server does.
type revocationsDownBackend struct{ Backend }

var errTestOutage = fmt.Errorf("test outage: %w", store.ErrUnavailable)

func (revocationsDownBackend) RevocationStatus(context.Context, string, [32]byte) (store.Revocation, bool, error) {
	return store.Revocation{}, false, errTestOutage
}

func (revocationsDownBackend) Revoke(context.Context, string, []store.Revocation) (int, error) {
	return 0, errTestOutage
}

// TestMutationAdminStorageOutage guards two fail-closed paths of the admin
// routes (admin.go): checkPassportLive must not sign a sub-cert when it
// cannot read whether the passport is revoked (a storage error is 503,
// never "not revoked"), and emitAdmin records an admin action that failed
// on storage as decision "error", not "deny" (an auditor tells an outage
// from a refusal). The outage tests never asked for a sub-cert, and did not
// read the admin audit events.
func TestMutationAdminStorageOutage(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, tool, _ := ed25519.GenerateKey(rand.Reader)
	env := map[string]string{"A1_STORE": "memory", "A1_GATEWAY_ID": "outage-test", "A1_RATE_LIMIT_RPS": "0",
		"A1_ADMIN_TOKEN": "outage-admin-token-0123456789", "A1_SIGNING_KEY_HEX": hex.EncodeToString(key.Seed())}
	cfg, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var auditOut lockedBuffer
	testOnlyWrapBackend = func(b Backend) Backend { return revocationsDownBackend{b} }
	s, err := NewServer(context.Background(), cfg, Deps{Stdout: &auditOut})
	testOnlyWrapBackend = nil
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := a1.IssuePassport(key, "bot", []string{"files.read"}, uint64(time.Now().Unix())-5, 3600)
	if err != nil {
		t.Fatal(err)
	}
	file, err := p.MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := json.Marshal(map[string]any{"passport": json.RawMessage(file), "capabilities": []string{"files.read"},
		"delegate_pk_hex": hex.EncodeToString(tool.Public().(ed25519.PublicKey))})
	revoke := `{"fingerprint_hex":"` + strings.Repeat("ab", 32) + `"}`
	for _, c := range []struct{ path, body string }{{"/v1/passport/sub", string(sub)}, {"/v1/cert/revoke", revoke}} {
		r := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+env["A1_ADMIN_TOKEN"])
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		var body map[string]any
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 503 || body["error_code"] != CodeStorage || body["chain"] != nil || body["cert"] != nil {
			t.Errorf("%s while revocations are unreadable: %d %s, want 503 %s", c.path, w.Code, w.Body, CodeStorage)
		}
	}
	if err := s.Close(); err != nil { // flushes the audit stream
		t.Fatal(err)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(auditOut.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct{ Kind, Action, Decision, ErrorCode string }
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		ev.Kind, _ = raw["kind"].(string)
		ev.Action, _ = raw["action"].(string)
		ev.Decision, _ = raw["decision"].(string)
		ev.ErrorCode, _ = raw["error_code"].(string)
		if ev.Kind == "admin" && ev.Action != "key.rotate" {
			got[ev.Action] = ev.Decision + " " + ev.ErrorCode
		}
	}
	for _, action := range []string{"passport.sub", "cert.revoke"} {
		if want := "error " + CodeStorage; got[action] != want {
			t.Errorf("audited %s: %q, want %q\n%s", action, got[action], want, auditOut.Bytes())
		}
	}
}

// TestMutationTLSMinVersion guards tlsConfig's MinVersion (tls.go): TLS 1.2
// at least. A handshake below 1.2 also fails for want of a common suite
// (the 1.2 suites are AEAD only), so the handshake test could not tell the
// bound was gone; this one reads it.
func TestMutationTLSMinVersion(t *testing.T) {
	if v := (&certReloader{}).tlsConfig().MinVersion; v != tls.VersionTLS12 {
		t.Fatalf("MinVersion %s, want TLS 1.2", tls.VersionName(v))
	}
}
