package memory

import (
	"bytes"
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/internal/gcra"
	"github.com/a1-go/a1/store/internal/sweep"
)

// Defaults.
const (
	// DefaultMaxNonces bounds the consumed nonces kept in memory. When the
	// store is full, Authorize fails closed with ErrUnavailable.
	DefaultMaxNonces = 1 << 22
	// DefaultSweepInterval is how often expired nonces are deleted.
	DefaultSweepInterval = time.Minute
)

// ErrClosed is the cause of ErrUnavailable after Close.
var ErrClosed = errors.New("memory: store closed")

// errFull is the cause of ErrUnavailable when MaxNonces is reached.
var errFull = errors.New("memory: nonce table full")

// Options configure a Store. The zero value is usable.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxNonces bounds the nonce table (default DefaultMaxNonces).
	MaxNonces int
	// SweepInterval is the period of the background sweeper (default
	// DefaultSweepInterval; negative disables it).
	SweepInterval time.Duration
}

// tenantState is one tenant's state; the Store looks the tenant up once
// per call and then hashes only fixed-size keys.
type tenantState struct {
	revs   map[[32]byte]store.Revocation
	nonces map[[32]byte]int64 // expiry, unix nanoseconds
	roots  map[[32]byte]store.Root
}

// wheelEntry schedules one nonce for deletion.
type wheelEntry struct {
	t *tenantState
	k [32]byte
}

// wheelSlot is the width of one expiry bucket.
const wheelSlot = int64(time.Second)

// sweepBatch bounds the nonces deleted under one hold of the lock, so that a
// mass expiry never stalls Authorize for long.
const sweepBatch = 4096

// maxSpare bounds the recycled bucket slices; maxSpareCap bounds the
// capacity of one recycled slice.
const (
	maxSpare    = 64
	maxSpareCap = 1 << 14
)

// Store is the in-memory backend. It is safe for concurrent use.
type Store struct {
	now       func() time.Time
	maxNonces int
	rate      *gcra.Limiter

	mu      sync.Mutex
	closed  bool
	tenants map[string]*tenantState
	nNonces int
	// wheel buckets nonces by expiry second; lowest is the first bucket
	// that may hold entries.
	wheel  map[int64][]wheelEntry
	lowest int64
	// spare holds emptied bucket slices for reuse (at most maxSpare), so
	// the steady state allocates nothing per nonce.
	spare [][]wheelEntry

	stop chan struct{}
	done chan struct{}
}

// New returns an empty Store and starts its sweeper.
func New(o Options) *Store {
	s := &Store{
		now:       o.Now,
		maxNonces: o.MaxNonces,
		rate:      gcra.New(),
		tenants:   make(map[string]*tenantState),
		wheel:     make(map[int64][]wheelEntry),
		lowest:    math.MaxInt64,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxNonces <= 0 {
		s.maxNonces = DefaultMaxNonces
	}
	every := o.SweepInterval
	if every == 0 {
		every = DefaultSweepInterval
	}
	sweep.Start(every, s.stop, s.done, s.Sweep)
	return s
}

// Sweep deletes expired nonces and reports how many it deleted. It holds
// the lock for at most sweepBatch deletions at a time.
func (s *Store) Sweep(context.Context) (int, error) {
	now := s.now().UnixNano()
	total := 0
	for {
		n, more, err := s.sweepSome(now)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (s *Store) sweepSome(now int64) (deleted int, more bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false, store.Unavailable("sweep", ErrClosed)
	}
	last := now/wheelSlot - 1 // buckets entirely in the past
	for ; s.lowest <= last; s.lowest++ {
		entries := s.wheel[s.lowest]
		for len(entries) > 0 {
			if deleted >= sweepBatch {
				s.wheel[s.lowest] = entries
				return deleted, true, nil
			}
			e := entries[len(entries)-1]
			entries = entries[:len(entries)-1]
			// A nonce consumed again after its expiry has a later
			// entry of its own; only delete what has expired.
			if exp, ok := e.t.nonces[e.k]; ok && exp <= now {
				delete(e.t.nonces, e.k)
				s.nNonces--
				deleted++
			}
		}
		delete(s.wheel, s.lowest)
		if cap(entries) <= maxSpareCap && len(s.spare) < maxSpare {
			s.spare = append(s.spare, entries[:0])
		}
		if len(s.wheel) == 0 {
			s.lowest = math.MaxInt64
			break
		}
	}
	return deleted, false, nil
}

// tenant returns the state of a tenant, creating it when create is set (nil
// otherwise). Called with s.mu held.
func (s *Store) tenant(name string, create bool) *tenantState {
	t := s.tenants[name]
	if t == nil && create {
		t = &tenantState{
			revs:   make(map[[32]byte]store.Revocation),
			nonces: make(map[[32]byte]int64),
			roots:  make(map[[32]byte]store.Root),
		}
		s.tenants[strings.Clone(name)] = t // a copy: callers' strings do not escape
	}
	return t
}

// Authorize implements the atomic authorization step (see
// store.AuthorizeRequest) under one lock.
func (s *Store) Authorize(_ context.Context, req store.AuthorizeRequest) error {
	if err := req.Check(); err != nil {
		return err
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Unavailable("authorize", ErrClosed)
	}
	t := s.tenant(req.Tenant, len(req.Nonces) > 0)
	if t == nil {
		return nil // no state, no nonces: nothing revoked, nothing to consume
	}
	for i, fp := range req.Fingerprints {
		if _, ok := t.revs[fp]; ok {
			return &store.RevokedError{Index: i, Fingerprint: fp}
		}
	}
	for i, n := range req.Nonces {
		if exp, ok := t.nonces[n.Key]; ok && exp > now {
			return &store.ReplayError{Index: i}
		}
		for j := 0; j < i; j++ {
			if req.Nonces[j].Key == n.Key {
				return &store.ReplayError{Index: i}
			}
		}
	}
	if s.nNonces+len(req.Nonces) > s.maxNonces {
		return store.Unavailable("authorize", errFull)
	}
	for _, n := range req.Nonces {
		exp := store.ClampExpiry(n.ExpiresAt).UnixNano()
		if exp <= now {
			continue // already expired: nothing to remember
		}
		if _, ok := t.nonces[n.Key]; !ok {
			s.nNonces++
		}
		t.nonces[n.Key] = exp
		slot := exp / wheelSlot
		bucket, ok := s.wheel[slot]
		if !ok && len(s.spare) > 0 {
			bucket = s.spare[len(s.spare)-1]
			s.spare = s.spare[:len(s.spare)-1]
		}
		s.wheel[slot] = append(bucket, wheelEntry{t, n.Key})
		s.lowest = min(s.lowest, slot)
	}
	return nil
}

// Revoke records revocations; an already revoked fingerprint keeps its
// first record. It reports how many were new.
func (s *Store) Revoke(_ context.Context, tenant string, revs []store.Revocation) (int, error) {
	if err := store.CheckRevocations(tenant, revs); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.Unavailable("revoke", ErrClosed)
	}
	if len(revs) == 0 {
		return 0, nil
	}
	t := s.tenant(tenant, true)
	added := 0
	for _, r := range revs {
		if _, ok := t.revs[r.Fingerprint]; ok {
			continue
		}
		if r.RevokedAt.IsZero() {
			r.RevokedAt = now
		}
		t.revs[r.Fingerprint] = r
		added++
	}
	return added, nil
}

// RevocationStatus returns the revocation of fp, if any.
func (s *Store) RevocationStatus(_ context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return store.Revocation{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Revocation{}, false, store.Unavailable("revocation status", ErrClosed)
	}
	if t := s.tenant(tenant, false); t != nil {
		r, ok := t.revs[fp]
		return r, ok, nil
	}
	return store.Revocation{}, false, nil
}

// ListRevocations lists a tenant's revocations in ascending fingerprint
// order. It scans the tenant's revocations (an admin operation, not a hot
// path).
func (s *Store) ListRevocations(_ context.Context, tenant string, p store.Page) ([]store.Revocation, string, error) {
	limit, after, hasAfter, err := store.CheckPage(tenant, p)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, "", store.Unavailable("list revocations", ErrClosed)
	}
	var out []store.Revocation
	if t := s.tenant(tenant, false); t != nil {
		for fp, r := range t.revs {
			if !hasAfter || bytes.Compare(fp[:], after[:]) > 0 {
				out = append(out, r)
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Fingerprint[:], out[j].Fingerprint[:]) < 0 })
	if len(out) > limit {
		return out[:limit], store.Cursor(out[limit-1].Fingerprint), nil
	}
	return out, "", nil
}

// AddRoot adds a trusted root or replaces the record of a present one.
func (s *Store) AddRoot(_ context.Context, tenant string, r store.Root) error {
	if err := store.CheckRoot(tenant, r); err != nil {
		return err
	}
	if r.AddedAt.IsZero() {
		r.AddedAt = s.now().UTC()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Unavailable("add root", ErrClosed)
	}
	t := s.tenant(tenant, true)
	if _, ok := t.roots[r.PublicKey]; !ok && len(t.roots) >= store.MaxRootsPerTenant {
		return store.ErrTooManyRoots
	}
	t.roots[r.PublicKey] = r
	return nil
}

// RemoveRoot removes a root and reports whether it was present.
func (s *Store) RemoveRoot(_ context.Context, tenant string, pk [32]byte) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, store.Unavailable("remove root", ErrClosed)
	}
	t := s.tenant(tenant, false)
	if t == nil {
		return false, nil
	}
	if _, ok := t.roots[pk]; !ok {
		return false, nil
	}
	delete(t.roots, pk)
	return true, nil
}

// ListRoots lists a tenant's roots in ascending key order.
func (s *Store) ListRoots(_ context.Context, tenant string) ([]store.Root, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, store.Unavailable("list roots", ErrClosed)
	}
	var out []store.Root
	if t := s.tenant(tenant, false); t != nil {
		out = make([]store.Root, 0, len(t.roots))
		for _, r := range t.roots {
			out = append(out, r)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].PublicKey[:], out[j].PublicKey[:]) < 0 })
	return out, nil
}

// AllowRate decides one request of key with an in-process GCRA limiter
// (burst requests, refilled at ratePerSec).
func (s *Store) AllowRate(_ context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error) {
	if s.isClosed() {
		return store.RateDecision{}, store.Unavailable("allow rate", ErrClosed)
	}
	return s.rate.Allow(key, s.now(), ratePerSec, burst)
}

// Ping reports ErrUnavailable after Close.
func (s *Store) Ping(context.Context) error {
	if s.isClosed() {
		return store.Unavailable("ping", ErrClosed)
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops the sweeper and drops all state. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.tenants, s.wheel = nil, nil
	s.mu.Unlock()
	select {
	case <-s.done:
	default:
		close(s.stop)
		<-s.done
	}
	return nil
}
