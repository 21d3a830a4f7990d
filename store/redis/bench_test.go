package redis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1/store"
	a1redis "github.com/a1-go/a1/store/redis"
	"github.com/a1-go/a1/store/storetest"
)

// BenchmarkAuthorize measures one authorization (2 fingerprints, 2 nonces)
// against the real server, serially and from parallel callers, and
// reports round trips per operation.
func BenchmarkAuthorize(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchAuthorize(b, false) })
	b.Run("parallel", func(b *testing.B) { benchAuthorize(b, true) })
}

func benchAuthorize(b *testing.B, parallel bool) {
	s, tenant := openTenant(b)
	hook := &cmdCounter{}
	s.Client().AddHook(hook)
	if parallel {
		b.SetParallelism(4)
	}
	storetest.BenchAuthorize(b, s, tenant, parallel, hook.n.Load)
}

// BenchmarkSweepBatch measures sweeping one full batch (256 expired
// nonces) out of a tenant index that also holds 100,000 live ones, and
// reports the server time of the sweep scripts (EVALSHA in INFO
// commandstats; the loop sends no other script): how long sweeping a
// batch holds Redis.
func BenchmarkSweepBatch(b *testing.B) {
	s, tenant, prefix := openPrivatePrefix(b)
	ctx := context.Background()
	idx := prefix + ":{t:" + tenant + "}:nz"
	live := time.Now().Add(time.Hour).UnixMilli()
	for i := 0; i < 100_000; i += 1000 {
		zs := make([]goredis.Z, 1000)
		for j := range zs {
			k := storetest.Rand32()
			zs[j] = goredis.Z{Score: float64(live), Member: string(k[:])}
		}
		if err := s.Client().ZAdd(ctx, idx, zs...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	// Register the tenant with the store, then measure.
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: time.Now().Add(time.Hour)}}}); err != nil {
		b.Fatal(err)
	}
	expired := make([]goredis.Z, 256)
	before := evalshaUsec(b, s)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		past := time.Now().Add(-time.Second).UnixMilli()
		for j := range expired {
			k := storetest.Rand32()
			expired[j] = goredis.Z{Score: float64(past), Member: string(k[:])}
		}
		if err := s.Client().ZAdd(ctx, idx, expired...).Err(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := s.Sweep(ctx); err != nil || n != len(expired) {
			b.Fatalf("Sweep: %d, %v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric((evalshaUsec(b, s)-before)/float64(b.N), "server-µs/batch")
}

// evalshaUsec reads the server's total EVALSHA time (µs).
func evalshaUsec(b *testing.B, s *a1redis.Store) float64 {
	info, err := s.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for _, f := range strings.Split(strings.TrimSpace(rest), ",") {
				if v, ok := strings.CutPrefix(f, "usec="); ok {
					u, err := strconv.ParseFloat(v, 64)
					if err != nil {
						b.Fatal(err)
					}
					return u
				}
			}
		}
	}
	b.Fatal("no EVALSHA in INFO commandstats")
	return 0
}
