package gateway_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store/redis"
)

// postRaw is a goroutine-safe POST returning status and error_code.
func postRaw(c *http.Client, u string, body []byte) (int, string, error) {
	resp, err := c.Post(u, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b struct {
		ErrorCode *string `json:"error_code"`
	}
	json.NewDecoder(resp.Body).Decode(&b)
	code := ""
	if b.ErrorCode != nil {
		code = *b.ErrorCode
	}
	return resp.StatusCode, code, nil
}

// startReplicas starts n gateways sharing env and waits until all are ready.
func startReplicas(t *testing.T, n int, env map[string]string) []*gw {
	var gs []*gw
	for i := 0; i < n; i++ {
		gs = append(gs, tryStart(t, env))
	}
	for _, g := range gs {
		waitFor(t, 30*time.Second, "replica ready", g.answers("/readyz", 200))
	}
	return gs
}

func replicaEnv(t *testing.T, sc *scenario) map[string]string {
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	env["A1_GATEWAY_ID"] = "gw-shared"
	env["A1_SIGNING_KEY_HEX"] = randHex(32)
	env["A1_MAC_KEY_HEX"] = randHex(32)
	env["A1_ROOTS_REFRESH"] = "200ms"
	return env
}

// TestReplicasPostgres and TestReplicasRedis: three gateway processes share
// one backend. 64 concurrent clients fire one single-use chain at all three
// replicas: exactly one is authorized. A revocation through replica A is
// enforced by the next request to replica C, and a root registered through
// A is honoured by C.
func TestReplicasPostgres(t *testing.T) {
	u := pgURL(t)
	sc := newScenario(t)
	env := replicaEnv(t, sc)
	env["A1_STORE"] = "postgres"
	env["A1_PG_URL"] = u
	env["A1_MIGRATE"] = "true"
	testReplicas(t, sc, startReplicas(t, 3, env))
}

func TestReplicasRedis(t *testing.T) {
	u := redisURL(t)
	sc := newScenario(t)
	env := replicaEnv(t, sc)
	env["A1_STORE"] = "redis"
	env["A1_REDIS_URL"] = u
	testReplicas(t, sc, startReplicas(t, 3, env))

	// The replicas run the nonce sweeper (ADR 0012): it registers their
	// tenant for every replica's sweeps within a second or so.
	st, err := redis.Open(u, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, 5*time.Second, "the tenant in the sweepers' registry", func() bool {
		ok, err := st.Client().SIsMember(context.Background(), redis.DefaultPrefix+":nztenants", env["A1_TENANT"]).Result()
		return err == nil && ok
	})
}

func testReplicas(t *testing.T, sc *scenario, gs []*gw) {
	const clients = 64
	for round := 0; round < 3; round++ {
		chain := sc.chain(t, 0)
		body, _ := json.Marshal(sc.authReq(chain, 0))
		var ok, replay, other atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				st, code, err := postRaw(gs[i%len(gs)].client, gs[i%len(gs)].url+"/v1/authorize", body)
				switch {
				case err == nil && st == 200:
					ok.Add(1)
				case err == nil && st == 401 && code == "NONCE_REPLAY":
					replay.Add(1)
				default:
					other.Add(1)
					t.Errorf("unexpected answer: %d %q %v", st, code, err)
				}
			}(i)
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 || replay.Load() != clients-1 || other.Load() != 0 {
			t.Fatalf("round %d: %d authorized, %d replays, %d other; want exactly 1 authorized", round, ok.Load(), replay.Load(), other.Load())
		}
	}

	// Revocation through A, enforced on the very next request to C.
	a, c := gs[0], gs[len(gs)-1]
	if r := c.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 200 {
		t.Fatalf("before revocation: %d %s", r.status, r.raw)
	}
	fp := sc.c1.Fingerprint()
	if r := a.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": hex.EncodeToString(fp[:])}); r.status != 200 {
		t.Fatalf("revoke on A: %d %s", r.status, r.raw)
	}
	if r := c.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 401 || r.code() != "CERT_REVOKED" {
		t.Fatalf("C after revocation on A: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/v1/cert/"+hex.EncodeToString(fp[:]), nil, nil); r.body["revoked"] != true {
		t.Errorf("status on C: %s", r.raw)
	}

	// A root registered through A is honoured by C within the refresh.
	human2, tool := newKey(t), newKey(t)
	mk := func() map[string]any {
		cert, _ := a1.NewCert(tool.pk, []a1.IntentHash{hashOf(t, "ping", nil)}, now()-5, 600)
		cert.Sign(human2.signer())
		return map[string]any{"chain": a1.NewChain(human2.pk, cert.ScopeRoot, cert), "intent_name": "ping", "executor_pk_hex": tool.pk.Hex()}
	}
	if r := c.post("/v1/authorize", mk()); r.code() != "UNTRUSTED_ROOT" {
		t.Fatalf("before registration: %d %s", r.status, r.raw)
	}
	if r := a.admin("POST", "/v1/roots", map[string]any{"public_key_hex": human2.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root on A: %d %s", r.status, r.raw)
	}
	waitFor(t, 5*time.Second, "root registered on A to be trusted by C", func() bool {
		return c.post("/v1/authorize", mk()).status == 200
	})
}

// TestStorageDownRedis and TestStorageDownPostgres: under load, the link
// to the backend is cut (a TCP proxy between gateway and server; the shared
// server keeps running). Every request started during the outage is a 503
// STORAGE_UNAVAILABLE, none is authorized, /healthz is 503; after the link
// is restored the gateway authorizes again.
func TestStorageDownRedis(t *testing.T) {
	u := redisURL(t)
	pu, _ := url.Parse(u)
	p := newLinkProxy(t, pu.Host)
	env := map[string]string{"A1_STORE": "redis", "A1_REDIS_URL": withHost(t, u, p.Addr())}
	g := testStorageDown(t, p, env)
	// The background nonce sweep (every second on Redis) failed during the
	// outage too, and was counted.
	if n := metricSum(t, g, "a1_storage_errors_total", map[string]string{"op": "sweep"}); n < 1 {
		t.Errorf("a1_storage_errors_total{op=sweep} = %v after a 1.2 s outage, want >= 1", n)
	}
	// Logged when the sweeps start failing and when they recover: every
	// failure line is closed by a recovery line.
	waitFor(t, 5*time.Second, "the sweep recovery logged", func() bool {
		return strings.Contains(g.stderr.String(), "nonce sweeps recovered")
	})
	log := g.stderr.String()
	if fails, recs := strings.Count(log, "expired nonces are not being swept"), strings.Count(log, "nonce sweeps recovered"); fails < 1 || fails != recs {
		t.Errorf("sweep failures logged %d times, recoveries %d; want each failure period logged once:\n%s", fails, recs, log)
	}
}

func TestStorageDownPostgres(t *testing.T) {
	u := pgURL(t)
	pu, _ := url.Parse(u)
	p := newLinkProxy(t, pu.Host)
	env := map[string]string{"A1_STORE": "postgres", "A1_PG_URL": withHost(t, u, p.Addr()), "A1_MIGRATE": "true"}
	testStorageDown(t, p, env)
}

func testStorageDown(t *testing.T, p *linkProxy, extra map[string]string) *gw {
	sc := newScenario(t)
	env := replicaEnv(t, sc)
	// The cut refuses connections, so outage requests fail at once; the
	// timeout only bounds a slow request on a loaded CI machine, where a
	// fresh PostgreSQL backend can take longer than a few hundred ms.
	env["A1_STORAGE_TIMEOUT"] = "2s"
	for k, v := range extra {
		env[k] = v
	}
	g := startGateway(t, env)
	chain := sc.chain(t, 0)
	base := sc.authReq(chain, 0)

	type result struct {
		start  time.Time
		end    time.Time
		status int
		code   string
	}
	var mu sync.Mutex
	var results []result
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				pop, _ := a1.SignPoP(sc.tool.signer(), "gw-shared", chain.Fingerprint(), sc.intents[0], now())
				req := map[string]any{}
				for k, v := range base {
					req[k] = v
				}
				req["proof"] = pop.JSON()
				body, _ := json.Marshal(req)
				start := time.Now()
				st, code, err := postRaw(g.client, g.url+"/v1/authorize", body)
				if err != nil {
					st, code = -1, err.Error()
				}
				mu.Lock()
				results = append(results, result{start, time.Now(), st, code})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	p.Cut()
	cutAt := time.Now()
	time.Sleep(1200 * time.Millisecond)
	if r := g.do("GET", "/healthz", nil, nil); r.status != 503 || r.body["storage"] != "unavailable" {
		t.Errorf("healthz during outage: %d %s", r.status, r.raw)
	}
	// Liveness does not depend on storage: an orchestrator restarting on
	// /livez leaves the replicas alone during a database outage.
	if r := g.do("GET", "/livez", nil, nil); r.status != 200 {
		t.Errorf("livez during outage: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/cert/"+strings.Repeat("ab", 32), nil, nil); r.status != 503 || r.code() != "STORAGE_UNAVAILABLE" {
		t.Errorf("cert status during outage must fail closed: %d %s", r.status, r.raw)
	}
	restoreAt := time.Now()
	if err := p.Restore(); err != nil {
		t.Fatalf("restore: %v", err)
	}
	waitFor(t, 15*time.Second, "healthz after restore", g.answers("/healthz", 200))
	// Pools re-dial lazily: give them a moment, then every request must pass.
	recovered := time.Now().Add(time.Second)
	time.Sleep(1700 * time.Millisecond)
	close(stop)
	wg.Wait()

	var before, during, after, during503, afterFail int
	for _, r := range results {
		switch {
		case r.start.Before(cutAt):
			if r.status == 200 {
				before++
			}
		case r.end.Before(restoreAt):
			during++
			if r.status == 200 {
				t.Errorf("authorized during the outage")
			}
			if r.status == 503 && r.code == "STORAGE_UNAVAILABLE" {
				during503++
			} else {
				t.Errorf("during outage: %d %q (want 503 STORAGE_UNAVAILABLE)", r.status, r.code)
			}
		case r.start.After(recovered):
			if r.status == 200 {
				after++
			} else {
				afterFail++
				if afterFail < 5 {
					t.Errorf("after recovery: %d %q at +%v", r.status, r.code, r.start.Sub(recovered))
				}
			}
		}
	}
	t.Logf("before=%d during=%d (503=%d) after=%d", before, during, during503, after)
	if before == 0 || during == 0 || after == 0 {
		t.Errorf("load did not cover every phase: before=%d during=%d after=%d", before, during, after)
	}
	return g
}

// TestNonceSweepRedis: the gateway sweeps the nonces it consumed once they
// expire (PoP nonces after 2 x A1_DRIFT_SECS) and counts them.
func TestNonceSweepRedis(t *testing.T) {
	sc := newScenario(t)
	env := replicaEnv(t, sc)
	env["A1_STORE"] = "redis"
	env["A1_REDIS_URL"] = redisURL(t)
	env["A1_DRIFT_SECS"] = "1"
	g := startGateway(t, env)
	chain := sc.chain(t, 0)
	const n = 5
	for range n {
		if r := g.post("/v1/authorize", sc.withPoP(t, sc.authReq(chain, 0), chain, 0, "gw-shared")); r.status != 200 {
			t.Fatalf("authorize: %d %s", r.status, r.raw)
		}
	}
	if got := metricSum(t, g, "a1_nonces_swept_total", nil); got != 0 {
		t.Fatalf("swept %v nonces before any expired", got)
	}
	waitFor(t, 10*time.Second, "the expired PoP nonces swept", func() bool {
		return metricSum(t, g, "a1_nonces_swept_total", nil) >= n
	})
	if got := metricSum(t, g, "a1_storage_errors_total", map[string]string{"op": "sweep"}); got != 0 {
		t.Errorf("sweep errors: %v", got)
	}
}

// TestRateLimitSharedRedis: two replicas sharing Redis share one bucket per
// client IP: with burst 5 and a negligible refill, exactly 5 of 12 requests
// pass across both, and the rest are 429 RATE_LIMITED with Retry-After.
func TestRateLimitSharedRedis(t *testing.T) {
	u := redisURL(t)
	env := baseEnv(t)
	env["A1_STORE"] = "redis"
	env["A1_REDIS_URL"] = u
	env["A1_RATE_LIMIT_RPS"] = "0.01"
	env["A1_RATE_LIMIT_BURST"] = "5"
	gs := startReplicas(t, 2, env)
	allowed, limited := 0, 0
	for i := 0; i < 12; i++ {
		r := gs[i%2].do("GET", "/.well-known/a1-configuration", nil, nil)
		switch {
		case r.status == 200:
			allowed++
		case r.status == 429 && r.code() == "RATE_LIMITED" && r.header.Get("Retry-After") != "":
			limited++
		default:
			t.Errorf("unexpected: %d %s", r.status, r.raw)
		}
	}
	if allowed != 5 || limited != 7 {
		t.Errorf("allowed=%d limited=%d, want 5 and 7 across both replicas", allowed, limited)
	}
	// Probes are never rate limited.
	if r := gs[0].do("GET", "/healthz", nil, nil); r.status != 200 {
		t.Errorf("healthz rate limited: %d", r.status)
	}
	if m := gs[0].do("GET", "/metrics", nil, nil); !strings.Contains(string(m.raw), "a1_rate_limited_total") {
		t.Errorf("metrics lack a1_rate_limited_total")
	}
}

// TestRateLimitLocalFallbackRedis: while the shared limiter (Redis) is down
// the replica limits each client with a bucket of its own (same rate and
// burst) instead of lifting the limit, counts it, logs the start and the
// end of the fallback once each, and uses the shared limiter again once
// Redis answers.
func TestRateLimitLocalFallbackRedis(t *testing.T) {
	u := redisURL(t)
	pu, _ := url.Parse(u)
	p := newLinkProxy(t, pu.Host)
	env := baseEnv(t)
	env["A1_STORE"] = "redis"
	env["A1_REDIS_URL"] = withHost(t, u, p.Addr())
	env["A1_RATE_LIMIT_RPS"] = "0.01"
	env["A1_RATE_LIMIT_BURST"] = "3"
	g := startGateway(t, env)
	get := func() int { return g.do("GET", "/.well-known/a1-configuration", nil, nil).status }
	if st := get(); st != 200 { // one of the shared bucket's 3
		t.Fatalf("first request: %d", st)
	}

	p.Cut()
	var got []int
	for i := 0; i < 6; i++ {
		got = append(got, get())
	}
	if want := []int{200, 200, 200, 429, 429, 429}; !slices.Equal(got, want) {
		t.Errorf("during the outage: %v, want %v (the replica's own bucket, burst 3)", got, want)
	}
	if n := metricSum(t, g, "a1_rate_limit_local_total", nil); n < 6 {
		t.Errorf("a1_rate_limit_local_total = %v, want >= 6", n)
	}
	if n := metricSum(t, g, "a1_storage_errors_total", map[string]string{"op": "rate_limit"}); n < 1 {
		t.Errorf("a1_storage_errors_total{op=rate_limit} = %v, want >= 1", n)
	}

	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	// The shared bucket (1 of 3 used before the outage) decides again.
	waitFor(t, 15*time.Second, "the shared limiter used again", func() bool {
		get()
		return strings.Contains(g.stderr.String(), "the shared rate limiter answers again")
	})
	log := g.stderr.String()
	if n := strings.Count(log, "limits clients on its own"); n != 1 {
		t.Errorf("the fallback was logged %d times, want once:\n%s", n, log)
	}
	if n := strings.Count(log, "the shared rate limiter answers again"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once:\n%s", n, log)
	}
}

// TestTrustedProxy: X-Forwarded-For is believed only from a trusted peer
// (the right-most untrusted address is the client); from an untrusted peer
// it is ignored, so spoofing it does not buy a fresh bucket.
func TestTrustedProxy(t *testing.T) {
	mk := func(proxies string) *gw {
		env := baseEnv(t)
		env["A1_RATE_LIMIT_RPS"] = "0.01"
		env["A1_RATE_LIMIT_BURST"] = "2"
		env["A1_TRUSTED_PROXY_MODE"] = "x-forwarded-for"
		env["A1_TRUSTED_PROXIES"] = proxies
		return startGateway(t, env)
	}
	get := func(g *gw, xff string) int {
		return g.do("GET", "/openapi.json", nil, map[string]string{"X-Forwarded-For": xff}).status
	}
	trusted := mk("127.0.0.1/32,10.0.0.0/8")
	// Two distinct clients behind the proxy chain each get their own bucket;
	// the left-most (client-supplied) entries are ignored.
	for _, xff := range []string{"1.1.1.1, 203.0.113.7, 10.0.0.5", "9.9.9.9, 203.0.113.7, 10.0.0.5"} {
		if s := get(trusted, xff); s != 200 {
			t.Errorf("first request of 203.0.113.7: %d", s)
		}
	}
	if s := get(trusted, "203.0.113.7"); s != 429 {
		t.Errorf("third request of 203.0.113.7 (spoofed left entries changed nothing): %d", s)
	}
	if s := get(trusted, "198.51.100.1"); s != 200 {
		t.Errorf("another client: %d", s)
	}

	untrusted := mk("10.0.0.0/8")
	for i, xff := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		s := get(untrusted, xff)
		if (i < 2 && s != 200) || (i == 2 && s != 429) {
			t.Errorf("spoofed XFF from an untrusted peer, request %d: %d", i, s)
		}
	}
}

// TestConfigErrors: a wrong value stops the gateway with exit code 2 and a
// message naming the variable and the fix; it never echoes a secret.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"A1_SIGNING_KEY_HEX": "abcd"}, "A1_SIGNING_KEY_HEX"},
		{map[string]string{"A1_SIGNING_KEY_HEX": strings.Repeat("0", 64)}, "A1_SIGNING_KEY_HEX"},
		{map[string]string{"A1_MAC_KEY_HEX": "nothex-secret-value"}, "A1_MAC_KEY_HEX"},
		{map[string]string{"A1_PG_URL": "postgres://x", "A1_REDIS_URL": "redis://y", "A1_STORE": ""}, "A1_STORE"},
		{map[string]string{"A1_STORE": "mongo"}, "A1_STORE"},
		{map[string]string{"A1_TRUSTED_PROXY_MODE": "cf-connecting-ip"}, "A1_TRUSTED_PROXY_MODE"},
		{map[string]string{"A1_TRUSTED_PROXY_MODE": "x-forwarded-for"}, "A1_TRUSTED_PROXIES"},
		{map[string]string{"A1_TRUSTED_PROXIES": "10.0.0.0/33"}, "A1_TRUSTED_PROXIES"},
		{map[string]string{"A1_RATE_LIMIT_RPS": "-1"}, "A1_RATE_LIMIT_RPS"},
		{map[string]string{"A1_NONCE_MODE": "some"}, "A1_NONCE_MODE"},
		{map[string]string{"A1_DRIFT_SECS": "abc"}, "A1_DRIFT_SECS"},
		{map[string]string{"A1_TRUSTED_ROOTS": "xyz"}, "A1_TRUSTED_ROOTS"},
		{map[string]string{"A1_TRUSTED_ROOTS": "@/nonexistent/roots"}, "A1_TRUSTED_ROOTS"},
		{map[string]string{"A1_LOG_FORMAT": "xml"}, "A1_LOG_FORMAT"},
		{map[string]string{"A1_REQUIRE_POP": "maybe"}, "A1_REQUIRE_POP"},
		{map[string]string{"A1_MAX_BODY_BYTES": "10"}, "A1_MAX_BODY_BYTES"},
		{map[string]string{"A1_MAX_CONNS": "2"}, "A1_MAX_CONNS"},
		{map[string]string{"A1_SHUTDOWN_TIMEOUT": "0s"}, "A1_SHUTDOWN_TIMEOUT"},
		{map[string]string{"A1_MAX_BATCH": "1001"}, "A1_MAX_BATCH"}, // above one revoke storage call
		{map[string]string{"A1_ADMIN_TOKEN": "short"}, "A1_ADMIN_TOKEN"},
		{map[string]string{"A1_AUDIT_SINKS": "carrier-pigeon"}, "A1_AUDIT_SINKS"},
		{map[string]string{"A1_TOKEN_MAX_AGE": "-5m"}, "A1_TOKEN_MAX_AGE"},
		{map[string]string{"A1_TOKEN_MAX_AGE": "0"}, "A1_TOKEN_MAX_AGE"}, // unset is no maximum; 0 would refuse all but the drift
		{map[string]string{"A1_TOKEN_MAX_AGE": "a while"}, "A1_TOKEN_MAX_AGE"},
		{map[string]string{"A1_TOKEN_MAX_AGE": "87601h"}, "A1_TOKEN_MAX_AGE"}, // above ten years
		{map[string]string{"A1_TOKEN_MAX_AGE": "1500ms"}, "A1_TOKEN_MAX_AGE"}, // not whole seconds
	}
	for _, c := range cases {
		env := baseEnv(t)
		for k, v := range c.env {
			env[k] = v
		}
		g := tryStart(t, env)
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: gateway did not exit", c.env)
		}
		if code := g.cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%v: exit code %d, want 2", c.env, code)
		}
		out := g.stderr.String()
		if !strings.Contains(out, "a1: error: "+c.want) || !strings.Contains(out, "a1: hint: ") {
			t.Errorf("%v: stderr does not name %s with a hint: %s", c.env, c.want, out)
		}
		if strings.Contains(out, "nothex-secret-value") {
			t.Errorf("secret echoed: %s", out)
		}
	}
}

// TestHealthNotMigrated: PostgreSQL reachable but its schema not applied
// (no A1_MIGRATE, an empty search_path): nothing can be authorized, so
// /healthz and /readyz answer 503 and the balancer sends no traffic, while
// /livez answers 200.
// startUnmigrated starts a gateway on a reachable PostgreSQL whose schema
// is not applied (no A1_MIGRATE, a search_path naming a schema that does
// not exist) and waits until it answers /livez.
func startUnmigrated(t *testing.T) *gw {
	t.Helper()
	env := baseEnv(t)
	env["A1_STORE"] = "postgres"
	u, err := url.Parse(pgURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "a1_absent_"+randHex(4))
	u.RawQuery = q.Encode()
	env["A1_PG_URL"] = u.String()
	g := tryStart(t, env)
	waitFor(t, 20*time.Second, "/livez", g.answers("/livez", 200))
	return g
}

func TestHealthNotMigrated(t *testing.T) {
	g := startUnmigrated(t)
	if r := g.do("GET", "/healthz", nil, nil); r.status != 503 || r.body["storage"] != "not migrated" {
		t.Errorf("healthz on an unmigrated schema: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/readyz", nil, nil); r.status != 503 {
		t.Errorf("readyz on an unmigrated schema: %d %s", r.status, r.raw)
	}
}
