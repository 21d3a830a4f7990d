package redis_test

// Rejecting tests for checks a mutation review found unguarded: each test
// fails when the check it names is removed or weakened.

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1/store"
	a1redis "github.com/a1-go/a1/store/redis"
	"github.com/a1-go/a1/store/storetest"
)

// TestNonceIndexExpiryFollowsLatestNonce guards the authorize script's
// index expiry: a request whose latest nonce expires after the index
// pushes the index's expiry to that nonce's expiry plus the grace, whatever
// the nonce's position in the request. Without it (PEXPIREAT only for an
// index without expiry, or "last" taken from the request's last nonce
// instead of its latest) Redis deletes the index, and every nonce in it,
// while nonces are still unexpired: replays.
func TestNonceIndexExpiryFollowsLatestNonce(t *testing.T) {
	s, tenant := openTenant(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	wantExpiry := func(want time.Time) {
		t.Helper()
		ms, err := s.Client().PExpireTime(ctx, nonceIndex(tenant)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := time.UnixMilli(ms.Milliseconds()); !got.Equal(want.Add(a1redis.NonceIndexGrace)) {
			t.Fatalf("index expires at %v, want %v", got, want.Add(a1redis.NonceIndexGrace))
		}
	}
	short := now.Add(time.Minute)
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: short}}}); err != nil {
		t.Fatal(err)
	}
	wantExpiry(short)
	// The latest nonce first, a shorter one (still later than the index) last.
	latest, later := now.Add(48*time.Hour), now.Add(24*time.Hour)
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{
		{Key: storetest.Rand32(), ExpiresAt: latest}, {Key: storetest.Rand32(), ExpiresAt: later},
	}}); err != nil {
		t.Fatal(err)
	}
	wantExpiry(latest)
}

// scriptReply is a go-redis hook that replaces the reply of every script
// (EVALSHA, EVAL) with v while v is set, as a damaged or foreign server
// might answer.
type scriptReply struct{ v atomic.Pointer[any] }

func (h *scriptReply) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *scriptReply) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if v := h.v.Load(); v != nil && (cmd.Name() == "evalsha" || cmd.Name() == "eval") {
			cmd.(interface{ SetVal(any) }).SetVal(*v)
			cmd.SetErr(nil)
			return nil
		}
		return err
	}
}
func (h *scriptReply) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestUnexpectedScriptReplies guards the range checks on the scripts'
// replies: an authorize reply naming no fingerprint or nonce of the request
// (past either end, or the smallest int64) is ErrUnavailable, never a
// decision; a rate reply of the wrong shape is ErrUnavailable, and a
// denial always carries a positive RetryAfter.
func TestUnexpectedScriptReplies(t *testing.T) {
	s, tenant := openTenant(t)
	hook := &scriptReply{}
	s.Client().AddHook(hook)
	ctx := context.Background()
	set := func(v any) { hook.v.Store(&v) }
	defer hook.v.Store(nil)
	exp := time.Now().Add(time.Hour)
	req := store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{storetest.Rand32(), storetest.Rand32()},
		Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: exp}, {Key: storetest.Rand32(), ExpiresAt: exp}}}
	for _, r := range []int64{3, -3, math.MinInt64, math.MaxInt64} {
		set(r)
		err := s.Authorize(ctx, req)
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrReplay) {
			t.Errorf("authorize script reply %d: %v, want only ErrUnavailable", r, err)
		}
	}
	set([]any{int64(0), int64(0), int64(0)})
	if d, err := s.AllowRate(ctx, tenant+"rl", 1, 1); err != nil || d.Allowed || d.RetryAfter <= 0 {
		t.Errorf("rate reply {0, 0, 0}: %+v %v, want denied with RetryAfter > 0", d, err)
	}
	set([]any{int64(1), int64(0)})
	if d, err := s.AllowRate(ctx, tenant+"rl", 1, 1); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("rate reply of two values: %+v %v, want ErrUnavailable", d, err)
	}
}

// TestSweepKeepsNoncesAboutToExpire guards the sweep script's count of
// expired members (score <= now): when more than a batch of members expire
// within the next moments, a count that includes them makes the script
// remove a batch by rank, unexpired nonces included: replays.
func TestSweepKeepsNoncesAboutToExpire(t *testing.T) {
	s, tenant, prefix := openPrivatePrefix(t)
	ctx := context.Background()
	idx := prefix + ":{t:" + tenant + "}:nz"
	now := time.Now()
	var zs []goredis.Z
	for i := range 10 {
		k := storetest.Rand32()
		zs = append(zs, goredis.Z{Score: float64(now.Add(-time.Duration(i+1) * time.Second).UnixMilli()), Member: string(k[:])})
	}
	const soon = 300 // more than one sweep batch (256)
	for range soon {
		k := storetest.Rand32()
		zs = append(zs, goredis.Z{Score: float64(now.Add(700 * time.Millisecond).UnixMilli()), Member: string(k[:])})
	}
	if err := s.Client().ZAdd(ctx, idx, zs...).Err(); err != nil {
		t.Fatal(err)
	}
	// Sweep visits the tenants it has authorized for.
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: now.Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 10 {
		t.Fatalf("Sweep removed %d (%v), want the 10 expired members", n, err)
	}
	if n, err := s.Client().ZCard(ctx, idx).Result(); err != nil || n != soon+1 {
		t.Fatalf("%d members left (%v), want %d", n, err, soon+1)
	}
}
