package redis_test

import (
	"testing"

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
