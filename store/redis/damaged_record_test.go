package redis_test

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/storetest"
)

// TestDamagedRecordsAreUnavailable: a revocation or root record the store
// did not write whole (a partial restore, a hand edit, another writer) is
// an outage (ErrUnavailable, a 503 at the gateway), never read as "not
// revoked" or silently skipped. In particular a revocation key that
// exists denies authorizations (the authorize script checks EXISTS), so
// its status must not say "not revoked".
func TestDamagedRecordsAreUnavailable(t *testing.T) {
	s, tenant := openTenant(t)
	url := redisURL(t)
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opt)
	defer rc.Close()
	ctx := context.Background()
	revKey := func(tn string, fp [32]byte) string { return "a1:{t:" + tn + "}:rev:" + hex.EncodeToString(fp[:]) }

	for _, tc := range []struct {
		name   string
		fields []any
	}{
		{"time missing", []any{"r", "reason", "a", "admin"}},
		{"time not a number", []any{"r", "reason", "a", "admin", "t", "yesterday"}},
		{"only a time field missing the rest", []any{"t", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := tenant + "d"
			fp := storetest.Rand32()
			if err := rc.HSet(ctx, revKey(tn, fp), tc.fields...).Err(); err != nil {
				t.Fatal(err)
			}
			// The authorization is denied: the record exists.
			if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tn, Fingerprints: [][32]byte{fp}}); !errors.Is(err, store.ErrRevoked) {
				t.Fatalf("Authorize with the damaged record: %v, want ErrRevoked", err)
			}
			r, ok, err := s.RevocationStatus(ctx, tn, fp)
			if !errors.Is(err, store.ErrUnavailable) || ok {
				t.Fatalf("RevocationStatus of a damaged record: %+v revoked=%v, %v; want ErrUnavailable", r, ok, err)
			}
			// Listed through the index, it is an outage too.
			if err := rc.ZAdd(ctx, "a1:{t:"+tn+"}:revidx", goredis.Z{Member: hex.EncodeToString(fp[:])}).Err(); err != nil {
				t.Fatal(err)
			}
			if revs, _, err := s.ListRevocations(ctx, tn, store.Page{}); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("ListRevocations over a damaged record: %+v, %v; want ErrUnavailable", revs, err)
			}
			rc.Del(ctx, revKey(tn, fp), "a1:{t:"+tn+"}:revidx")
		})
	}

	t.Run("index names a missing revocation", func(t *testing.T) {
		tn := tenant + "i"
		fp := storetest.Rand32()
		if err := rc.ZAdd(ctx, "a1:{t:"+tn+"}:revidx", goredis.Z{Member: hex.EncodeToString(fp[:])}).Err(); err != nil {
			t.Fatal(err)
		}
		if revs, _, err := s.ListRevocations(ctx, tn, store.Page{}); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("ListRevocations: %+v, %v; want ErrUnavailable", revs, err)
		}
	})

	for _, tc := range []struct{ name, field, value string }{
		{"root field not a key", "not-hex", `{"label":"x"}`},
		{"root record not JSON", hex.EncodeToString(make([]byte, 32)), `{"label":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := tenant + "r"
			key := "a1:{t:" + tn + "}:roots"
			defer rc.Del(ctx, key)
			if err := rc.HSet(ctx, key, tc.field, tc.value).Err(); err != nil {
				t.Fatal(err)
			}
			if roots, err := s.ListRoots(ctx, tn); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("ListRoots: %+v, %v; want ErrUnavailable", roots, err)
			}
		})
	}
}
