package storetest

// Rejecting tests for checks of the store contract that a mutation review
// found unguarded: each Check below fails when the check it names is
// removed or weakened in a backend (the mutation is named in its comment).
// RunMutationChecks runs them all with a backend's contract Config; Run
// includes it, so every backend's contract suite runs them.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
)

// RunMutationChecks runs every Check of this file against fresh backends
// opened by cfg.Open (cfg.RealTime selects waiting over advancing the fake
// clock; cfg.Cleanup, when set, deletes the tenants and rate keys used).
func RunMutationChecks(t *testing.T, cfg Config) {
	s := &suite{cfg: cfg, prefix: RandomPrefix()}
	if cfg.Cleanup != nil {
		t.Cleanup(func() { cfg.Cleanup(s.prefix) })
	}
	// clock is nil for a backend that decides expiry and refill with its
	// server's clock.
	open := func(t *testing.T) (Backend, *FakeClock) {
		b, clock := s.open(t)
		if cfg.RealTime {
			clock = nil
		}
		return b, clock
	}
	t.Run("NonceExpiryBoundary", func(t *testing.T) {
		b, clock := open(t)
		CheckNonceExpiryBoundary(t, b, clock, s.tenant())
	})
	t.Run("ReplayIndex", func(t *testing.T) {
		b, _ := open(t)
		CheckReplayIndex(t, b, s.tenant())
	})
	t.Run("RevokedWithoutNonces", func(t *testing.T) {
		b, _ := open(t)
		CheckRevokedWithoutNonces(t, b, s.tenant())
	})
	t.Run("SweepKeepsReconsumedNonce", func(t *testing.T) {
		b, clock := open(t)
		CheckSweepKeepsReconsumedNonce(t, b, clock, s.tenant())
	})
	t.Run("RateLimitHolds", func(t *testing.T) {
		b, clock := open(t)
		CheckRateLimitHolds(t, b, clock, s.prefix+"rl-holds")
	})
	t.Run("PaginationExactFit", func(t *testing.T) {
		b, _ := open(t)
		CheckPaginationExactFit(t, b, s.tenant())
	})
}

// CheckNonceExpiryBoundary guards the expiry comparison of the replay
// check: a consumed nonce stays consumed strictly before its ExpiresAt and
// is free from it on. With clock (a backend deciding expiry with its Now
// hook) the boundary is checked to the nanosecond, and a nonce that is
// already at its expiry when consumed is not kept; with a nil clock (the
// server's clock decides) a nonce consumed for 500 ms must still be a
// replay right away. Kills: comparing with a later "now" (a nonce freed
// before its expiry: a replay window), e.g. exp > now+1 in
// store/memory, tonumber(s) > now + d in the Redis script, expires_at >
// now() + d in a1_authorize.
func CheckNonceExpiryBoundary(t *testing.T, b Backend, clock *FakeClock, tenant string) {
	t.Helper()
	c := ctx(t)
	if clock == nil {
		n := nonce(time.Now().Add(500 * time.Millisecond))
		mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}))
		wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}), 0)
		return
	}
	exp := clock.Now().Add(time.Hour)
	n := nonce(exp)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}))
	clock.Advance(exp.Sub(clock.Now()) - time.Nanosecond)
	if d := exp.Sub(clock.Now()); d != time.Nanosecond {
		t.Fatalf("clock %v before the expiry, want 1ns", d)
	}
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}), 0)
	clock.Advance(time.Nanosecond) // exactly exp: free
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}))
	// Consumed at its own expiry, it was not kept.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}))
}

// CheckReplayIndex guards the replay index mapping: ReplayError.Index is
// the lowest index that is either already consumed or a repeat of an
// earlier nonce of the request (adjacent repeats included), and a refused
// request consumes nothing. Kills: a duplicate scan that skips the
// previous nonce (j < i-1 in store/memory), -greatest(idx, dup) for
// -least(idx, dup) in a1_authorize, reporting the first occurrence's
// index.
func CheckReplayIndex(t *testing.T, b Backend, tenant string) {
	t.Helper()
	c := ctx(t)
	exp := time.Now().Add(time.Hour)
	used := nonce(exp)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{used}}))
	f1, f2, f3 := nonce(exp), nonce(exp), nonce(exp)
	for _, tc := range []struct {
		name   string
		nonces []store.Nonce
		index  int
	}{
		{"adjacent repeat", []store.Nonce{f1, f1}, 1},
		{"adjacent repeat after a fresh nonce", []store.Nonce{f2, f1, f1}, 2},
		{"consumed before a repeat", []store.Nonce{f1, used, f1}, 1},
		{"repeat before a consumed nonce", []store.Nonce{f2, f2, used}, 1},
		{"repeat of the consumed nonce", []store.Nonce{f3, used, used}, 1},
	} {
		err := b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: tc.nonces})
		var re *store.ReplayError
		if !errors.As(err, &re) || re.Index != tc.index {
			t.Errorf("%s: got %v, want a replay at index %d", tc.name, err, tc.index)
		}
	}
	// Nothing of the refused requests was consumed.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{f1, f2, f3}}))
}

// CheckRevokedWithoutNonces guards the revocation check of a request that
// carries fingerprints but no nonce (the whole storage step of an
// authorization without single-use certs or proof of possession): every
// fingerprint is checked and the lowest revoked one is named. Kills:
// skipping the revocation loop when there is nothing to consume (an
// un-revoke), skipping the first or the last fingerprint.
func CheckRevokedWithoutNonces(t *testing.T, b Backend, tenant string) {
	t.Helper()
	c := ctx(t)
	fps := [][32]byte{Rand32(), Rand32(), Rand32()}
	for i := range fps {
		other := Rand32()
		// A tenant that holds nothing but this revocation.
		tn := fmt.Sprintf("%s-%d", tenant, i)
		_, err := b.Revoke(c, tn, []store.Revocation{{Fingerprint: fps[i]}})
		mustOK(t, err)
		req := make([][32]byte, len(fps))
		copy(req, fps)
		for j := range req {
			if j != i {
				req[j] = other
			}
		}
		wantRevoked(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Fingerprints: req}), i, fps[i])
		// Another tenant's revocation is not this tenant's.
		mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn + "-other", Fingerprints: req}))
	}
}

// CheckSweepKeepsReconsumedNonce guards the sweeper's expiry check: a
// nonce consumed again after it had expired carries its new expiry, and a
// sweep must not delete it (it would be replayable at once). Kills: a
// sweep deleting every member of a past expiry bucket or every row whose
// old expiry passed without re-reading the current one (store/memory
// wheel), a sweep deleting what expires within the next few seconds
// (Redis sweep script, PostgreSQL Sweep). Backends
// that cannot sweep on demand skip it.
func CheckSweepKeepsReconsumedNonce(t *testing.T, b Backend, clock *FakeClock, tenant string) {
	t.Helper()
	sw, ok := b.(Sweeper)
	if !ok {
		t.Skip("backend does not sweep on demand")
	}
	c := ctx(t)
	// n is consumed again once expired; gone stays expired, so the sweep
	// has something to remove.
	n, gone := store.Nonce{Key: Rand32()}, store.Nonce{Key: Rand32()}
	if clock == nil {
		n.ExpiresAt = time.Now().Add(time.Second)
	} else {
		n.ExpiresAt = clock.Now().Add(time.Minute)
	}
	gone.ExpiresAt = n.ExpiresAt
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n, gone}}))
	if clock == nil {
		time.Sleep(time.Until(n.ExpiresAt.Add(300 * time.Millisecond)))
		n.ExpiresAt = time.Now().Add(3 * time.Second)
	} else {
		clock.Advance(2 * time.Minute)
		n.ExpiresAt = clock.Now().Add(500 * time.Millisecond)
	}
	// Expired: free again, and consumed anew with a later expiry.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}))
	if _, err := sw.Sweep(c); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}), 0)
}

// CheckRateLimitHolds guards the rate limiter between refills: once a
// bucket is empty, requests stay denied until RetryAfter has passed (still
// 500 ms before it; to the nanosecond with clock), a sweep does not reset
// the bucket, and RetryAfter counts down. Kills: a Redis bucket key
// expiring before it refills (PX computed in the wrong unit), a sweep
// deleting buckets that have not refilled (PostgreSQL), a GCRA comparison
// that admits a request early (in the SQL statement, or now+1 < allowAt),
// a RetryAfter that does not shrink with time.
func CheckRateLimitHolds(t *testing.T, b Backend, clock *FakeClock, key string) {
	t.Helper()
	c := ctx(t)
	const rate, burst = 0.5, 2 // one token every two seconds, two at most
	for i := range burst {
		if d, err := b.AllowRate(c, key, rate, burst); err != nil || !d.Allowed {
			t.Fatalf("request %d of the burst: %+v %v", i, d, err)
		}
	}
	d0, err := b.AllowRate(c, key, rate, burst)
	mustOK(t, err)
	if d0.Allowed || d0.RetryAfter <= 0 || d0.RetryAfter > 2*time.Second {
		t.Fatalf("burst exhausted: %+v, want denied with 0 < RetryAfter <= 2s", d0)
	}
	// Most of the wait, not all of it: 500 ms before the refill.
	step := d0.RetryAfter - 500*time.Millisecond
	if clock == nil {
		time.Sleep(step)
	} else {
		clock.Advance(step)
	}
	if sw, ok := b.(Sweeper); ok {
		if _, err := sw.Sweep(c); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
	}
	d1, err := b.AllowRate(c, key, rate, burst)
	mustOK(t, err)
	if d1.Allowed {
		t.Fatalf("%v after the burst was exhausted (RetryAfter was %v): allowed, want denied", step, d0.RetryAfter)
	}
	if d1.RetryAfter <= 0 || d1.RetryAfter > d0.RetryAfter-step+50*time.Millisecond {
		t.Fatalf("RetryAfter %v then %v after %v: want it to count down", d0.RetryAfter, d1.RetryAfter, step)
	}
	if clock != nil {
		// One nanosecond before the refill: still denied; at it: allowed.
		clock.Advance(d1.RetryAfter - time.Nanosecond)
		if d, err := b.AllowRate(c, key, rate, burst); err != nil || d.Allowed {
			t.Fatalf("1ns before the refill: %+v %v, want denied", d, err)
		}
		clock.Advance(time.Nanosecond)
	} else {
		time.Sleep(d1.RetryAfter + 50*time.Millisecond)
	}
	if d, err := b.AllowRate(c, key, rate, burst); err != nil || !d.Allowed {
		t.Fatalf("after RetryAfter: %+v %v, want allowed", d, err)
	}
}

// CheckPaginationExactFit guards the page bound of ListRevocations: a
// page that holds exactly the remaining revocations ends the listing
// (next cursor empty), and a page never holds more than its limit. Kills:
// len(out) >= limit for len(out) > limit (a cursor to an empty page), a
// fetch of limit items only (no way to tell the last page).
func CheckPaginationExactFit(t *testing.T, b Backend, tenant string) {
	t.Helper()
	c := ctx(t)
	const total = 10
	revs := make([]store.Revocation, total)
	for i := range revs {
		revs[i] = store.Revocation{Fingerprint: Rand32()}
	}
	_, err := b.Revoke(c, tenant, revs)
	mustOK(t, err)
	page, next, err := b.ListRevocations(c, tenant, store.Page{Limit: total})
	mustOK(t, err)
	if len(page) != total || next != "" {
		t.Fatalf("limit = total: %d items, next %q; want %d and no next page", len(page), next, total)
	}
	page, next, err = b.ListRevocations(c, tenant, store.Page{Limit: total / 2})
	mustOK(t, err)
	if len(page) != total/2 || next == "" {
		t.Fatalf("first half: %d items, next %q", len(page), next)
	}
	page, next, err = b.ListRevocations(c, tenant, store.Page{Limit: total / 2, Cursor: next})
	mustOK(t, err)
	if len(page) != total/2 || next != "" {
		t.Fatalf("second half: %d items, next %q; want %d and no next page", len(page), next, total/2)
	}
	page, next, err = b.ListRevocations(c, tenant, store.Page{Limit: total - 1})
	mustOK(t, err)
	if len(page) != total-1 || next != store.Cursor(page[len(page)-1].Fingerprint) {
		t.Fatalf("limit = total-1: %d items, next %q; want %d and a cursor at the last", len(page), next, total-1)
	}
}
