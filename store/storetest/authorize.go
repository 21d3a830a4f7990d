package storetest

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
)

// authorizeRequests returns a generator of the typical authorization of
// tenant: two fixed fingerprints (none revoked) and two nonces never
// consumed before, derived from a random seed and a counter so that a
// benchmark pays for no randomness per call. It is safe for concurrent use.
func authorizeRequests(tenant string) func() store.AuthorizeRequest {
	fps := [][32]byte{Rand32(), Rand32()}
	exp := time.Now().Add(time.Hour)
	seed := Rand32()
	var ctr atomic.Uint64
	return func() store.AuthorizeRequest {
		i := ctr.Add(1)
		k1, k2 := seed, seed
		binary.LittleEndian.PutUint64(k1[:], i)
		binary.LittleEndian.PutUint64(k2[:], i)
		k2[31] ^= 1
		return store.AuthorizeRequest{
			Tenant: tenant, Fingerprints: fps,
			Nonces: []store.Nonce{{Key: k1, ExpiresAt: exp}, {Key: k2, ExpiresAt: exp}},
		}
	}
}

// BenchAuthorize measures one authorization (2 fingerprints, 2 nonces) of
// tenant against s, serially or from b.RunParallel callers (set their
// number with b.SetParallelism first), after one untimed warm-up call (a
// backend may load a script or prepare a statement on first use). When
// roundTrips is non-nil it reports the growth of its count per operation
// as "roundtrips/op".
func BenchAuthorize(b *testing.B, s Backend, tenant string, parallel bool, roundTrips func() int64) {
	next := authorizeRequests(tenant)
	ctx := context.Background()
	one := func() {
		if err := s.Authorize(ctx, next()); err != nil {
			b.Fatal(err)
		}
	}
	one()
	var before int64
	if roundTrips != nil {
		before = roundTrips()
	}
	b.ResetTimer()
	if parallel {
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
	if roundTrips != nil {
		b.ReportMetric(float64(roundTrips()-before)/float64(b.N), "roundtrips/op")
	}
}

// CheckAuthorizeOneRoundTrip fails t unless each of 20 authorizations (2
// fingerprints, 2 nonces) of tenant against s, after one warm-up call,
// costs exactly one round trip as roundTrips counts them.
func CheckAuthorizeOneRoundTrip(t *testing.T, s Backend, tenant string, roundTrips func() int64) {
	t.Helper()
	next := authorizeRequests(tenant)
	ctx := context.Background()
	if err := s.Authorize(ctx, next()); err != nil {
		t.Fatal(err)
	}
	const n = 20
	before := roundTrips()
	for i := 0; i < n; i++ {
		if err := s.Authorize(ctx, next()); err != nil {
			t.Fatal(err)
		}
	}
	if got := roundTrips() - before; got != n {
		t.Fatalf("%d authorizations took %d round trips, want %d", n, got, n)
	}
}
