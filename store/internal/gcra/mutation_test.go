package gcra

// Rejecting tests for checks a mutation review found unguarded: each test
// fails when the check it names is removed or weakened.

import (
	"strconv"
	"testing"
	"time"
)

// TestStepRefillBoundary guards the comparison now < allowAt: one
// nanosecond before the bucket refills the request is denied (with
// RetryAfter 1ns), at the refill it is allowed. A comparison against a
// later now (now+1 < allowAt) lets requests through early.
func TestStepRefillBoundary(t *testing.T) {
	const sec = int64(time.Second)
	now := int64(1000) * sec
	tat := now + 3*sec // burst of 3 at 1/s exhausted at now
	if _, d := Step(tat, now+sec-1, 1, 3); d.Allowed || d.RetryAfter != 1 {
		t.Fatalf("1ns before the refill: %+v, want denied with RetryAfter 1ns", d)
	}
	if _, d := Step(tat, now+sec, 1, 3); !d.Allowed {
		t.Fatalf("at the refill: %+v, want allowed", d)
	}
}

// TestIntervalRoundsUp guards the rounding of the emission interval: it is
// rounded up, so a limiter never admits more than its rate (3/s is one
// request per 333 333 334 ns, not 333 333 333).
func TestIntervalRoundsUp(t *testing.T) {
	if got := Interval(3); got != 333333334 {
		t.Fatalf("Interval(3) = %d, want 333333334", got)
	}
	tat, d := Step(0, 0, 3, 1)
	if !d.Allowed {
		t.Fatal(d)
	}
	if _, d := Step(tat, 333333333, 3, 1); d.Allowed {
		t.Fatalf("a request 333333333ns after the last at 3/s: %+v, want denied", d)
	}
}

// TestLimiterBoundedDistinctKeys guards the bound len(l.tat) >= MaxKeys
// that triggers eviction, with keys that are all distinct (runes in the
// surrogate range all become U+FFFD, so TestLimiterBounded's keys repeat
// and never reach the bound).
func TestLimiterBoundedDistinctKeys(t *testing.T) {
	l := New()
	now := time.Unix(1000, 0)
	for i := range MaxKeys + 10 {
		if _, err := l.Allow(strconv.Itoa(i), now, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n > MaxKeys {
		t.Fatalf("limiter tracks %d keys > %d", n, MaxKeys)
	}
}

// TestEvictKeepsActiveBuckets guards the eviction rule t <= now: when the
// key table is full, only buckets that have refilled are dropped; a key
// still limited stays limited (dropping every key would let a flood of new
// keys reset everyone's limits).
func TestEvictKeepsActiveBuckets(t *testing.T) {
	l := New()
	t0 := time.Unix(1000, 0)
	// The victim's single token is spent: limited for a second.
	if d, err := l.Allow("victim", t0, 1, 1); err != nil || !d.Allowed {
		t.Fatalf("victim's first request: %+v %v", d, err)
	}
	// Fill the table with buckets that refill within a nanosecond.
	for i := range MaxKeys - 1 {
		if _, err := l.Allow(strconv.Itoa(i), t0, 1e9, 1); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != MaxKeys {
		t.Fatalf("%d keys, want %d", l.Len(), MaxKeys)
	}
	t1 := t0.Add(time.Millisecond)
	if _, err := l.Allow("newcomer", t1, 1, 1); err != nil { // evicts
		t.Fatal(err)
	}
	if d, err := l.Allow("victim", t1, 1, 1); err != nil || d.Allowed {
		t.Fatalf("victim after an eviction: %+v %v, want still denied", d, err)
	}
}
