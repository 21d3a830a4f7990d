package gateway_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1"
)

// binary is the a1 executable built once by TestMain; every test drives
// real `a1 gateway` processes over HTTP.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "a1-gateway-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "a1")
	cmd := exec.Command("go", "build", "-o", binary, "../cmd/a1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building a1:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminToken = "test-admin-token-0123456789"

// gw is one running gateway process.
type gw struct {
	t      testing.TB
	url    string
	cmd    *exec.Cmd
	stderr *syncBuf
	audit  *syncBuf
	done   chan struct{}
	client *http.Client
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 8<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// baseEnv is what every test gateway gets unless overridden.
func baseEnv(t testing.TB) map[string]string {
	return map[string]string{
		"A1_STORE":            "memory",
		"A1_DATA_DIR":         t.TempDir(),
		"A1_LOG_FORMAT":       "text",
		"A1_RATE_LIMIT_RPS":   "0",
		"A1_ADMIN_TOKEN":      adminToken,
		"A1_SHUTDOWN_TIMEOUT": "5s",
		"A1_TENANT":           "t-" + randHex(6),
	}
}

// startGateway starts `a1 gateway` with env and waits for /readyz.
func startGateway(t testing.TB, env map[string]string) *gw {
	t.Helper()
	g := tryStart(t, env)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := g.client.Get(g.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g
			}
		}
		select {
		case <-g.done:
			t.Fatalf("gateway exited during start: %s", g.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready after 20s: %s", g.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tryStart(t testing.TB, env map[string]string) *gw {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(binary, "gateway")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "A1_LISTEN=" + addr}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	g := &gw{t: t, url: "http://" + addr, cmd: cmd, stderr: &syncBuf{}, audit: &syncBuf{}, done: make(chan struct{}),
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}}
	cmd.Stdout, cmd.Stderr = g.audit, g.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(g.done) }()
	t.Cleanup(func() { g.stop() })
	return g
}

// stop sends SIGTERM and waits for a graceful exit.
func (g *gw) stop() {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
		g.t.Errorf("gateway did not stop within 10s after SIGTERM")
	}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r reply) code() string {
	s, _ := r.body["error_code"].(string)
	return s
}

// jsonRequest is a request for url with body (nil, a string, bytes or a
// value to marshal) as application/json and the given headers ("" removes
// one).
func jsonRequest(t testing.TB, method, url string, body any, hdr map[string]string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req
}

func (g *gw) do(method, path string, body any, hdr map[string]string) reply {
	g.t.Helper()
	resp, err := g.client.Do(jsonRequest(g.t, method, g.url+path, body, hdr))
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	if resp.Header.Get("X-A1-Protocol") != "dyolo_v2.8.0" {
		g.t.Errorf("%s %s: missing X-A1-Protocol header", method, path)
	}
	return r
}

func (g *gw) post(path string, body any) reply { return g.do("POST", path, body, nil) }

func (g *gw) admin(method, path string, body any) reply {
	return g.do(method, path, body, map[string]string{"Authorization": "Bearer " + adminToken})
}

func (g *gw) discovery() map[string]any {
	r := g.do("GET", "/.well-known/a1-configuration", nil, nil)
	if r.status != 200 {
		g.t.Fatalf("discovery: %d %s", r.status, r.raw)
	}
	return r.body
}

// key is a test Ed25519 key.
type key struct {
	priv ed25519.PrivateKey
	pk   a1.PublicKey
}

func newKey(t testing.TB) key {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv: priv, pk: a1.PublicKey(priv.Public().(ed25519.PublicKey))}
}

func (k key) signer() crypto.Signer { return k.priv }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func now() uint64 { return uint64(time.Now().Unix()) }

func hashOf(t testing.TB, name string, params map[string]string) a1.IntentHash {
	h, err := a1.HashIntent(name, params)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// scenario is the seed sequence's cast: a human principal, an orchestrator
// holding C1 over several trade intents, and a tool.
type scenario struct {
	human, orch, tool key
	intents           []a1.IntentHash
	tree              *a1.IntentTree
	c1                *a1.Cert
}

var tradeIntents = []struct {
	name   string
	params map[string]string
}{
	{"trade.equity", map[string]string{"symbol": "AAPL"}},
	{"trade.equity", map[string]string{"symbol": "MSFT"}},
	{"trade.fx", nil},
	{"trade.crypto", map[string]string{"asset": "btc"}},
}

func newScenario(t testing.TB) *scenario {
	sc := &scenario{human: newKey(t), orch: newKey(t), tool: newKey(t)}
	for _, in := range tradeIntents {
		sc.intents = append(sc.intents, hashOf(t, in.name, in.params))
	}
	var err error
	if sc.tree, err = a1.NewIntentTree(sc.intents); err != nil {
		t.Fatal(err)
	}
	sc.c1 = sc.issueC1(t)
	return sc
}

func (sc *scenario) issueC1(t testing.TB) *a1.Cert {
	c1, err := a1.NewCert(sc.orch.pk, sc.intents, now()-5, 3600)
	if err != nil {
		t.Fatal(err)
	}
	c1.MaxDepth = 8
	if err := c1.Sign(sc.human.signer()); err != nil {
		t.Fatal(err)
	}
	return c1
}

// chain returns a fresh [C1, C2] where C2 narrows to the given intents of
// tradeIntents (by index) with max depth 0; each call has a fresh C2 nonce.
func (sc *scenario) chain(t testing.TB, idx ...int) *a1.SignedChain {
	if len(idx) == 0 {
		idx = []int{0}
	}
	var sub []a1.IntentHash
	for _, i := range idx {
		sub = append(sub, sc.intents[i])
	}
	c2, err := a1.NewSubCert(sc.tool.pk, sc.tree, sub, now()-5, 600)
	if err != nil {
		t.Fatal(err)
	}
	c2.MaxDepth = 0
	if err := c2.Sign(sc.orch.signer()); err != nil {
		t.Fatal(err)
	}
	return a1.NewChain(sc.human.pk, sc.c1.ScopeRoot, sc.c1, c2)
}

// authReq is a /v1/authorize body for tradeIntents[i].
func (sc *scenario) authReq(chain *a1.SignedChain, i int) map[string]any {
	return map[string]any{
		"chain":           chain,
		"intent_name":     tradeIntents[i].name,
		"intent_params":   tradeIntents[i].params,
		"executor_pk_hex": sc.tool.pk.Hex(),
		"request_id":      "req-" + randHex(4),
	}
}

// withPoP adds a fresh proof of possession for audience.
func (sc *scenario) withPoP(t testing.TB, req map[string]any, chain *a1.SignedChain, i int, audience string) map[string]any {
	p, err := a1.SignPoP(sc.tool.signer(), audience, chain.Fingerprint(), sc.intents[i], now())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for k, v := range req {
		out[k] = v
	}
	out["proof"] = p.JSON()
	return out
}

// services: real PostgreSQL and Redis; unreachable → skip, or fail under
// A1_REQUIRE_SERVICES=1.
func serviceURL(t testing.TB, env, def string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		u = def
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	c, err := net.DialTimeout("tcp", pu.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("A1_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s (%s) unreachable and A1_REQUIRE_SERVICES=1: %v", env, pu.Host, err)
		}
		t.Skipf("%s unreachable: %v", env, err)
	}
	c.Close()
	return u
}

func pgURL(t testing.TB) string {
	return serviceURL(t, "A1_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

func redisURL(t testing.TB) string {
	return serviceURL(t, "A1_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
}

// withHost replaces the host:port of a service URL (to go through a proxy).
func withHost(t testing.TB, raw, host string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	return u.String()
}

// answers returns a waitFor condition: GET path answers status.
func (g *gw) answers(path string, status int) func() bool {
	return func() bool {
		resp, err := g.client.Get(g.url + path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == status
	}
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var _ = context.Background
