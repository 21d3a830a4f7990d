package redis_test

import (
	"context"
	"os"
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

func TestNonceKeyExpiresAtItsOwnTime(t *testing.T) {
	s, tenant := openTenant(t)
	ctx := context.Background()
	k := storetest.Rand32()
	exp := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Millisecond) // a passport's lifetime, far past 24 h
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: k, ExpiresAt: exp}}}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Client().Keys(ctx, "a1:{t:"+tenant+"}:n:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("nonce keys: %v %v", keys, err)
	}
	ms, err := s.Client().PExpireTime(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := time.UnixMilli(ms.Milliseconds()); !got.Equal(exp) {
		t.Fatalf("nonce key expires at %v, want %v", got, exp)
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
	if err != nil || len(keys) != 3 {
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
