package gcra

import (
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	const sec = int64(time.Second)
	now := int64(1000) * sec
	tests := []struct {
		name      string
		tat, now  int64
		rate      float64
		burst     int
		allowed   bool
		remaining int
		retry     time.Duration
	}{
		{"fresh key, burst 3", 0, now, 1, 3, true, 2, 0},
		{"one used", now + sec, now, 1, 3, true, 1, 0},
		{"last of burst", now + 2*sec, now, 1, 3, true, 0, 0},
		{"burst exhausted", now + 3*sec, now, 1, 3, false, 0, time.Second},
		{"half refilled", now + 3*sec, now + sec/2, 1, 3, false, 0, time.Second / 2},
		{"refilled", now + 3*sec, now + sec, 1, 3, true, 0, 0},
		{"long idle", now, now + 100*sec, 1, 3, true, 2, 0},
		{"burst 1, 10/s", now + sec/10, now, 10, 1, false, 0, time.Second / 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tat, d := Step(tc.tat, tc.now, tc.rate, tc.burst)
			if d.Allowed != tc.allowed || d.Remaining != tc.remaining || d.RetryAfter != tc.retry {
				t.Fatalf("got %+v, want allowed=%v remaining=%d retry=%v", d, tc.allowed, tc.remaining, tc.retry)
			}
			if !d.Allowed && tat != max(tc.tat, tc.now) {
				t.Fatalf("denied step moved tat")
			}
		})
	}
}

func TestLimiterBounded(t *testing.T) {
	l := New()
	now := time.Unix(1000, 0)
	for i := 0; i < MaxKeys+10; i++ {
		if _, err := l.Allow(string(rune(i+1))+"k", now, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n > MaxKeys {
		t.Fatalf("limiter tracks %d keys > %d", n, MaxKeys)
	}
}
