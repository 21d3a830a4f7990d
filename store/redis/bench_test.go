package redis_test

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

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
	url := redisURL(b)
	s := open(b, url, a1redis.Options{})
	defer s.Close()
	hook := &cmdCounter{}
	s.Client().AddHook(hook)
	tenant := storetest.RandomPrefix()
	defer cleanup(url)(tenant)
	ctx := context.Background()
	fps := [][32]byte{storetest.Rand32(), storetest.Rand32()}
	exp := time.Now().Add(time.Hour)
	seed := storetest.Rand32()
	var ctr atomic.Uint64
	one := func() {
		i := ctr.Add(1)
		k1, k2 := seed, seed
		binary.LittleEndian.PutUint64(k1[:], i)
		binary.LittleEndian.PutUint64(k2[:], i)
		k2[31] ^= 1
		if err := s.Authorize(ctx, store.AuthorizeRequest{
			Tenant: tenant, Fingerprints: fps,
			Nonces: []store.Nonce{{Key: k1, ExpiresAt: exp}, {Key: k2, ExpiresAt: exp}},
		}); err != nil {
			b.Fatal(err)
		}
	}
	one() // loads the script
	before := hook.n.Load()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			one()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(hook.n.Load()-before)/float64(b.N), "roundtrips/op")
}
