package postgres_test

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

// BenchmarkAuthorize measures one authorization (2 fingerprints, 2 nonces)
// against the real server, serially and from parallel callers, and
// reports statements per operation (round trips).
func BenchmarkAuthorize(b *testing.B) {
	for _, mode := range []string{"exec", "cache_statement"} {
		b.Run(mode, func(b *testing.B) { benchAuthorize(b, mode, false) })
		b.Run(mode+"/parallel", func(b *testing.B) { benchAuthorize(b, mode, true) })
	}
}

func benchAuthorize(b *testing.B, mode string, parallel bool) {
	qc := &queryCounter{}
	s := open(b, postgres.Config{QueryExecMode: mode, Tracer: qc, MaxConns: 8})
	defer s.Close()
	tenant := storetest.RandomPrefix()
	defer cleanup(dbURL(b))(tenant)
	ctx := context.Background()
	fps := [][32]byte{storetest.Rand32(), storetest.Rand32()}
	if _, err := s.Revoke(ctx, tenant, []store.Revocation{{Fingerprint: storetest.Rand32()}}); err != nil {
		b.Fatal(err)
	}
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
	one()
	before := qc.n.Load()
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
	b.ReportMetric(float64(qc.n.Load()-before)/float64(b.N), "roundtrips/op")
}
