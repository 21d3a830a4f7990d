package redis_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1/store"
	a1redis "github.com/a1-go/a1/store/redis"
	"github.com/a1-go/a1/store/storetest"
)

func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("A1_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	s, err := a1redis.Open(u, a1redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		storetest.SkipOrFail(t, "redis unavailable: %v", err)
	}
	return u
}

func open(t testing.TB, url string, o a1redis.Options) *a1redis.Store {
	t.Helper()
	s, err := a1redis.Open(url, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cleanup(url string) func(prefix string) {
	return func(prefix string) {
		opt, err := goredis.ParseURL(url)
		if err != nil {
			return
		}
		c := goredis.NewClient(opt)
		defer c.Close()
		ctx := context.Background()
		for _, pat := range []string{"a1:{t:" + prefix + "*", "a1:rl:" + prefix + "*"} {
			iter := c.Scan(ctx, 0, pat, 1000).Iterator()
			var keys []string
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			for len(keys) > 0 {
				n := min(len(keys), 500)
				c.Del(ctx, keys[:n]...)
				keys = keys[n:]
			}
		}
	}
}

// openTenant opens a store on the test server and picks a fresh tenant;
// the tenant's keys are deleted and the store closed when the test ends.
func openTenant(t testing.TB) (*a1redis.Store, string) {
	t.Helper()
	url := redisURL(t)
	s := open(t, url, a1redis.Options{})
	t.Cleanup(func() { s.Close() })
	tenant := storetest.RandomPrefix()
	t.Cleanup(func() { cleanup(url)(tenant) })
	return s, tenant
}

// contractConfig describes the server at url to the contract suite.
func contractConfig(url string) storetest.Config {
	return storetest.Config{
		Open: func(t *testing.T, _ *storetest.FakeClock) storetest.Backend {
			return open(t, url, a1redis.Options{})
		},
		RealTime: true,
		Shared:   true,
		Reopen: func(t *testing.T, b storetest.Backend, _ *storetest.FakeClock) storetest.Backend {
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, url, a1redis.Options{})
		},
	}
}

// TestLeastPrivilegeACL runs the contract suite, a sweep and a rate limit
// as a Redis user holding only ACLRule's permissions: the rule the docs
// give is enough, and no command outside it is needed.
func TestLeastPrivilegeACL(t *testing.T) {
	url := redisURL(t)
	admin := open(t, url, a1redis.Options{})
	defer admin.Close()
	ctx := context.Background()
	user, pass := aclUser(t, admin.Client())
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	limited := fmt.Sprintf("redis://%s:%s@%s/%d", user, pass, opt.Addr, opt.DB)
	// Scripts then reach the server through EVAL, after NOSCRIPT, too.
	if err := admin.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := contractConfig(limited)
	cfg.Cleanup = cleanup(url)
	storetest.Run(t, cfg)

	s := open(t, limited, a1redis.Options{})
	defer s.Close()
	tenant := storetest.RandomPrefix()
	t.Cleanup(func() { cleanup(url)(tenant) })
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: time.Now().Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep as the limited user: %v", err)
	}
	if _, err := s.AllowRate(ctx, tenant+"ip", 10, 10); err != nil {
		t.Fatalf("AllowRate as the limited user: %v", err)
	}
	// The start-up check works as the limited user.
	if w, err := s.CheckServer(ctx); err != nil || len(w) != 0 {
		t.Errorf("CheckServer as the limited user: %v, %v", w, err)
	}
	// The limited user reports nothing excessive; the default user does.
	if ex, err := s.ExcessPrivileges(ctx); err != nil || len(ex) != 0 {
		t.Errorf("ExcessPrivileges as the limited user: %v, %v", ex, err)
	}
	if ex, err := admin.ExcessPrivileges(ctx); err != nil || len(ex) != 1 {
		t.Errorf("ExcessPrivileges as the default user: %v, %v", ex, err)
	}
	// And the rule does deny: keys outside the prefix, commands it lacks.
	if err := s.Client().Set(ctx, "other:"+tenant, "x", time.Second).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("write outside the prefix: %v, want NOPERM", err)
	}
	if err := s.Client().FlushDB(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("FLUSHDB: %v, want NOPERM", err)
	}
}

// TestACLRuleDocumented: docs/storage.md prints ACLRule("") verbatim.
func TestACLRuleDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/storage.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "ACL SETUSER a1-gateway on >PASSWORD "+a1redis.ACLRule("")+"\n") {
		t.Fatalf("docs/storage.md does not give the current rule:\n%s", a1redis.ACLRule(""))
	}
}

// aclUser creates one user holding exactly a1redis.ACLRule("") on every
// server the clients talk to (ACL users are not replicated), deleted when
// the test ends.
func aclUser(t *testing.T, clients ...goredis.UniversalClient) (user, pass string) {
	t.Helper()
	secret := storetest.Rand32()
	user, pass = "a1test-"+storetest.RandomPrefix(), hex.EncodeToString(secret[:])
	args := []any{"ACL", "SETUSER", user, "reset", "on", ">" + pass}
	for _, f := range strings.Fields(a1redis.ACLRule("")) {
		args = append(args, f)
	}
	for _, c := range clients {
		if err := c.Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("ACL SETUSER: %v", err)
		}
		t.Cleanup(func() { c.Do(context.Background(), "ACL", "DELUSER", user) })
	}
	return user, pass
}

func TestContract(t *testing.T) {
	url := redisURL(t)
	cfg := contractConfig(url)
	cfg.Cleanup = cleanup(url)
	storetest.Run(t, cfg)
}

// cmdCounter is a go-redis hook counting round trips: one per command
// sent alone, one per pipeline.
type cmdCounter struct{ n atomic.Int64 }

func (h *cmdCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *cmdCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *cmdCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestAuthorizeIsOneRoundTrip(t *testing.T) {
	s, tenant := openTenant(t)
	hook := &cmdCounter{}
	s.Client().AddHook(hook)
	// The warm-up call may load the script (EVALSHA, NOSCRIPT, EVAL).
	storetest.CheckAuthorizeOneRoundTrip(t, s, tenant, hook.n.Load)
}

// nonceIndex is the tenant's nonce index key (ADR 0012).
func nonceIndex(tenant string) string { return "a1:{t:" + tenant + "}:nz" }

func TestNonceIndexScoresAndExpiry(t *testing.T) {
	s, tenant := openTenant(t)
	ctx := context.Background()
	k1, k2 := storetest.Rand32(), storetest.Rand32()
	exp1 := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Millisecond) // a passport's lifetime, far past 24 h
	exp2 := exp1.Add(-time.Hour)
	for _, n := range []store.Nonce{{Key: k1, ExpiresAt: exp1}, {Key: k2, ExpiresAt: exp2}} {
		if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}); err != nil {
			t.Fatal(err)
		}
	}
	if keys, err := s.Client().Keys(ctx, "a1:{t:"+tenant+"}:n:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("per-nonce keys written: %v %v", keys, err)
	}
	for _, tc := range []struct {
		k   [32]byte
		exp time.Time
	}{{k1, exp1}, {k2, exp2}} {
		score, err := s.Client().ZScore(ctx, nonceIndex(tenant), string(tc.k[:])).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := time.UnixMilli(int64(score)); !got.Equal(tc.exp) {
			t.Fatalf("nonce scored %v, want its expiry %v", got, tc.exp)
		}
	}
	// The index expires a grace period after its latest nonce, not after
	// the last one added.
	ms, err := s.Client().PExpireTime(ctx, nonceIndex(tenant)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := time.UnixMilli(ms.Milliseconds()), exp1.Add(a1redis.NonceIndexGrace); !got.Equal(want) {
		t.Fatalf("index expires at %v, want %v", got, want)
	}
}

func TestLegacyNonceKeyStillConsumed(t *testing.T) {
	// A nonce consumed by a gateway of the earlier layout (a string key
	// per nonce) stays consumed after the upgrade until that key expires.
	s, tenant := openTenant(t)
	ctx := context.Background()
	k := storetest.Rand32()
	legacy := "a1:{t:" + tenant + "}:n:" + hex.EncodeToString(k[:])
	if err := s.Client().Set(ctx, legacy, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := storetest.Rand32()
	err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{
		{Key: fresh, ExpiresAt: time.Now().Add(time.Minute)},
		{Key: k, ExpiresAt: time.Now().Add(time.Minute)},
	}})
	var re *store.ReplayError
	if !errors.As(err, &re) || re.Index != 1 {
		t.Fatalf("legacy-consumed nonce: got %v, want a replay at index 1", err)
	}
	// Nothing was consumed by the refused request.
	if n, err := s.Client().ZCard(ctx, nonceIndex(tenant)).Result(); err != nil || n != 0 {
		t.Fatalf("index holds %d members (%v) after a refused request", n, err)
	}
	if err := s.Client().Del(ctx, legacy).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: k, ExpiresAt: time.Now().Add(time.Minute)}}}); err != nil {
		t.Fatalf("after the legacy key expired: %v", err)
	}
}

func TestSweepRemovesOnlyExpired(t *testing.T) {
	// A prefix of its own: Sweep also visits the tenants other tests
	// register, and this test counts what it removes.
	s, tenant, prefix := openPrivatePrefix(t)
	ctx := context.Background()
	idx := prefix + ":{t:" + tenant + "}:nz"
	now := time.Now()
	// Stand-ins for nonces consumed earlier (the server-side script only
	// ever adds unexpired nonces): more expired members than one batch,
	// a few live ones, and one whose score ties the sweep's clock reading
	// at most.
	const expired, live = 700, 5
	var zs []goredis.Z
	for i := range expired {
		k := storetest.Rand32()
		zs = append(zs, goredis.Z{Score: float64(now.Add(-time.Duration(i+1) * time.Second).UnixMilli()), Member: string(k[:])})
	}
	var liveKeys [][32]byte
	for i := range live {
		k := storetest.Rand32()
		liveKeys = append(liveKeys, k)
		zs = append(zs, goredis.Z{Score: float64(now.Add(time.Duration(i+1) * time.Hour).UnixMilli()), Member: string(k[:])})
	}
	if err := s.Client().ZAdd(ctx, idx, zs...).Err(); err != nil {
		t.Fatal(err)
	}
	// Sweep only visits tenants it has authorized for.
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep before any authorization: %d, %v", n, err)
	}
	// A nonce that expired is consumed again: it takes its new expiry and
	// the sweep must keep it.
	reused := zs[0].Member.(string)
	var rk [32]byte
	copy(rk[:], reused)
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: rk, ExpiresAt: now.Add(time.Hour)}}}); err != nil {
		t.Fatalf("re-consuming an expired nonce: %v", err)
	}
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != expired-1 {
		t.Fatalf("Sweep removed %d, want %d", n, expired-1)
	}
	left, err := s.Client().ZRangeWithScores(ctx, idx, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != live+1 {
		t.Fatalf("%d members left, want %d", len(left), live+1)
	}
	for _, z := range left {
		if int64(z.Score) <= time.Now().UnixMilli() {
			t.Fatalf("expired member left with score %v", z.Score)
		}
	}
	// Live and re-consumed nonces are still replays.
	for _, k := range append(liveKeys, rk) {
		err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: k, ExpiresAt: now.Add(time.Hour)}}})
		var re *store.ReplayError
		if !errors.As(err, &re) {
			t.Fatalf("kept nonce after sweep: %v, want a replay", err)
		}
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second Sweep: %d, %v", n, err)
	}
}

func TestSweepVisitsRegisteredTenants(t *testing.T) {
	// A gateway that stopped leaves its tenant's index; another gateway
	// on the same Redis sweeps it, and drops the tenant from the registry
	// once the index is gone.
	first, tenant, prefix := openPrivatePrefix(t)
	ctx := context.Background()
	short, long := storetest.Rand32(), storetest.Rand32()
	if err := first.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{
		{Key: short, ExpiresAt: time.Now().Add(200 * time.Millisecond)},
		{Key: long, ExpiresAt: time.Now().Add(time.Hour)},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Sweep(ctx); err != nil { // registers the tenant
		t.Fatal(err)
	}
	first.Close()
	registry, idx := prefix+":nztenants", prefix+":{t:"+tenant+"}:nz"
	second := open(t, redisURL(t), a1redis.Options{Prefix: prefix})
	t.Cleanup(func() { second.Close() })
	if ok, err := second.Client().SIsMember(ctx, registry, tenant).Result(); err != nil || !ok {
		t.Fatalf("tenant registered: %v, %v", ok, err)
	}
	time.Sleep(300 * time.Millisecond)
	n, err := second.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("second store swept %d (%v), want the first one's expired nonce", n, err)
	}
	if m, err := second.Client().ZCard(ctx, idx).Result(); err != nil || m != 1 {
		t.Fatalf("index holds %d (%v), want the live nonce", m, err)
	}
	if ok, err := second.Client().SIsMember(ctx, registry, tenant).Result(); err != nil || !ok {
		t.Fatalf("tenant with an index dropped from the registry: %v, %v", ok, err)
	}
	// The index expires (here: is deleted); the next sweep forgets the tenant.
	if err := second.Client().Del(ctx, idx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := second.Client().SIsMember(ctx, registry, tenant).Result(); err != nil || ok {
		t.Fatalf("tenant with no index still registered: %v, %v", ok, err)
	}
}

// openPrivatePrefix opens a store whose keys start with a fresh prefix
// and picks a tenant; every key under the prefix is deleted at the end.
func openPrivatePrefix(t testing.TB) (*a1redis.Store, string, string) {
	t.Helper()
	url := redisURL(t)
	prefix := "a1test" + storetest.RandomPrefix()
	s := open(t, url, a1redis.Options{Prefix: prefix})
	t.Cleanup(func() {
		s.Close()
		c := open(t, url, a1redis.Options{})
		defer c.Close()
		ctx := context.Background()
		keys, _ := c.Client().Keys(ctx, prefix+":*").Result()
		if len(keys) > 0 {
			c.Client().Del(ctx, keys...)
		}
	})
	return s, storetest.RandomPrefix(), prefix
}

func TestBackgroundSweeper(t *testing.T) {
	url := redisURL(t)
	s := open(t, url, a1redis.Options{SweepInterval: 20 * time.Millisecond})
	tenant := storetest.RandomPrefix()
	t.Cleanup(func() { cleanup(url)(tenant) })
	ctx := context.Background()
	k := storetest.Rand32()
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: k, ExpiresAt: time.Now().Add(300 * time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	keep := storetest.Rand32()
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: keep, ExpiresAt: time.Now().Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := s.Client().ZCard(ctx, nonceIndex(tenant)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background sweeper left %d members, want 1", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil { // stops the sweeper and waits for it
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx); err != nil { // closed: returns without touching the client
		t.Fatalf("Sweep after Close: %v", err)
	}
}

func TestClusterKeysShareSlot(t *testing.T) {
	// All keys of one tenant carry the same hash tag (the part between the
	// first { and the next }), so a cluster puts them in one slot.
	s, tenant := openTenant(t)
	ctx := context.Background()
	fp := storetest.Rand32()
	if _, err := s.Revoke(ctx, tenant, []store.Revocation{{Fingerprint: fp}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: fp, ExpiresAt: time.Now().Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Client().Keys(ctx, "a1:*"+tenant+"*").Result()
	if err != nil || len(keys) != 3 { // revocation, revocation index, nonce index
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, k := range keys {
		if tag := hashTag(k); tag != "t:"+tenant {
			t.Fatalf("key %q has hash tag %q", k, tag)
		}
	}
}

func hashTag(k string) string {
	for i := 0; i < len(k); i++ {
		if k[i] == '{' {
			for j := i + 1; j < len(k); j++ {
				if k[j] == '}' {
					return k[i+1 : j]
				}
			}
		}
	}
	return ""
}

func TestOpenURLForms(t *testing.T) {
	for _, tc := range []struct {
		url  string
		kind string
	}{
		{"redis://127.0.0.1:1/0", "*redis.Client"},
		{"rediss://127.0.0.1:1/0", "*redis.Client"},
		{"redis://127.0.0.1:1?master_name=m&addr=127.0.0.1:2", "*redis.Client"},
		{"redis://127.0.0.1:1?cluster=true&addr=127.0.0.1:2", "*redis.ClusterClient"},
	} {
		s, err := a1redis.Open(tc.url, a1redis.Options{Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if got := typeName(s.Client()); got != tc.kind {
			t.Errorf("%s: client %s, want %s", tc.url, got, tc.kind)
		}
		s.Close()
	}
	if _, err := a1redis.Open("redis://h/0?bogus=1", a1redis.Options{}); err == nil {
		t.Error("unknown URL parameter accepted")
	}
}

func TestOutage(t *testing.T) {
	url := redisURL(t)
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	storetest.RunOutage(t, storetest.OutageConfig{
		Target:  opt.Addr,
		Timeout: timeout,
		Open: func(t *testing.T, addr string) storetest.Backend {
			return open(t, "redis://"+addr+"/0", a1redis.Options{Timeout: timeout})
		},
		Cleanup: cleanup(url),
	})
}

// TestOpenErrorHidesPassword: an unparsable URL must not come back quoted
// in the error (net/url quotes the whole input), since the caller logs it.
func TestOpenErrorHidesPassword(t *testing.T) {
	const secret = "s3cr3tPa55"
	for _, u := range []string{
		"redis://user:" + secret + "%zz@127.0.0.1:6379/0",
		"redis://user:" + secret + "@[::1/0",
		"redis://user:" + secret + "@127.0.0.1:6379/0?master_name=m\x7f",
		"redis://user:" + secret + "@127.0.0.1:6379/abc",
		"redis://user:" + secret + "@127.0.0.1:6379/0?bogus=1",
		"redis://user:" + secret + "@127.0.0.1:6379/0?cluster=true&dial_timeout=x",
		"redis://user:" + secret + "@127.0.0.1:6379/0?master_name=m&dial_timeout=x",
	} {
		s, err := a1redis.Open(u, a1redis.Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) accepted", u)
			continue
		}
		if strings.Contains(err.Error(), secret[:6]) {
			t.Errorf("Open error reveals the password: %v", err)
		}
	}
}
