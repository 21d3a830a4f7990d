// Package gcra is the generic cell rate algorithm shared by the in-process
// rate limiters of store/memory and store/bolt. The Redis and PostgreSQL
// backends run the same arithmetic server-side (Lua, SQL) so that a limit
// holds across gateway replicas.
package gcra

import (
	"math"
	"sync"
	"time"

	"github.com/a1-go/a1/store"
)

// MaxKeys bounds the number of keys an in-process Limiter tracks.
const MaxKeys = 1 << 17

// Interval is the emission interval of a rate in nanoseconds (at least 1).
func Interval(ratePerSec float64) int64 {
	return max(int64(math.Ceil(1e9/ratePerSec)), 1)
}

// Step runs one GCRA decision. tat is the key's theoretical arrival time
// (0 for an unknown key) and now the current time, both in nanoseconds. It
// returns the new tat (unchanged when denied) and the decision.
func Step(tat, now int64, ratePerSec float64, burst int) (int64, store.RateDecision) {
	t := Interval(ratePerSec)
	tat = max(tat, now)
	next := tat + t
	allowAt := next - int64(burst)*t
	if now < allowAt {
		return tat, store.RateDecision{RetryAfter: time.Duration(allowAt - now)}
	}
	return next, store.RateDecision{Allowed: true, Remaining: int((now - allowAt) / t)}
}

// Limiter is an in-process GCRA limiter over at most MaxKeys keys.
type Limiter struct {
	mu  sync.Mutex
	tat map[string]int64
}

// New returns an empty Limiter.
func New() *Limiter { return &Limiter{tat: make(map[string]int64)} }

// Allow decides one request of key at now.
func (l *Limiter) Allow(key string, now time.Time, ratePerSec float64, burst int) (store.RateDecision, error) {
	if err := store.CheckRate(key, ratePerSec, burst); err != nil {
		return store.RateDecision{}, err
	}
	n := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	old, known := l.tat[key]
	if !known && len(l.tat) >= MaxKeys {
		l.evict(n)
	}
	tat, d := Step(old, n, ratePerSec, burst)
	if d.Allowed {
		l.tat[key] = tat
	}
	return d, nil
}

// evict drops keys whose bucket is full again (tat in the past carries no
// information); if none is, it drops an arbitrary key so memory stays
// bounded. Called with l.mu held.
func (l *Limiter) evict(now int64) {
	for k, t := range l.tat {
		if t <= now {
			delete(l.tat, k)
		}
	}
	if len(l.tat) < MaxKeys {
		return
	}
	for k := range l.tat {
		delete(l.tat, k)
		return
	}
}

// Len reports the number of tracked keys.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}
