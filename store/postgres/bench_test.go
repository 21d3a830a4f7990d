package postgres_test

import (
	"context"
	"testing"

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
	// A revocation of another cert: the revocation check reads a
	// non-empty tenant.
	if _, err := s.Revoke(context.Background(), tenant, []store.Revocation{{Fingerprint: storetest.Rand32()}}); err != nil {
		b.Fatal(err)
	}
	if parallel {
		b.SetParallelism(4)
	}
	storetest.BenchAuthorize(b, s, tenant, parallel, qc.n.Load)
}
