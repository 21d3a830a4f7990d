package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/internal/gcra"
	"github.com/a1-go/a1/store/internal/sweep"
)

// Defaults.
const (
	// DefaultTimeout bounds the wait for the file lock at Open and every
	// operation's wait for the context.
	DefaultTimeout = 2 * time.Second
	// DefaultSweepInterval is how often expired nonces are deleted.
	DefaultSweepInterval = time.Minute
	// sweepBatch bounds the nonces deleted by one write transaction.
	sweepBatch = 10000
)

var (
	bucketRev    = []byte("rev")
	bucketNonce  = []byte("nonce")
	bucketExpiry = []byte("expiry")
	bucketRoot   = []byte("root")
)

// Causes of ErrUnavailable that Open reports (match with errors.Is).
var (
	// ErrLocked: another process holds the file (bbolt allows one
	// process per file) and did not release it within Options.Timeout.
	ErrLocked = errors.New("bolt: the file is locked by another process")
	// ErrCorrupt: the file is damaged (truncated, emptied, overwritten, or
	// not a bbolt file), or a stored record does not decode. Open refuses
	// such a file instead of starting on an empty store, which would
	// forget every revocation and consumed nonce.
	ErrCorrupt = errors.New("bolt: corrupt file")
)

// errCorrupt is the cause of ErrUnavailable when a stored value does not
// decode.
var errCorrupt = fmt.Errorf("%w: undecodable record", ErrCorrupt)

// Options configure a Store.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Timeout bounds the wait for the file lock at Open (default
	// DefaultTimeout; another process holding the file makes Open fail).
	Timeout time.Duration
	// SweepInterval is the period of the background sweeper (default
	// DefaultSweepInterval; negative disables it).
	SweepInterval time.Duration
	// NoSync skips fsync (tests only: a crash can lose consumed nonces).
	NoSync bool
}

// Store is the bbolt backend. It is safe for concurrent use.
type Store struct {
	db   *bbolt.DB
	now  func() time.Time
	rate *gcra.Limiter
	// writes groups concurrent authorizations' write transactions.
	writes *group

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// Open opens the store file at path, creating it if it does not exist.
//
// A new file is initialized under a temporary name in the same directory
// and linked into place complete (then the directory is fsynced), so a
// crash during the first start never leaves a partial file at path. An
// existing file that is empty, shorter than its own header says
// (truncated), or not a bbolt file is refused with ErrCorrupt (wrapped in
// store.ErrUnavailable), never silently reinitialized; a file locked by
// another process fails with ErrLocked after Options.Timeout.
func Open(path string, o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if err := create(path, o); err != nil {
		return nil, store.Unavailable("open", err)
	}
	db, err := openFile(path, &bbolt.Options{Timeout: o.Timeout, NoSync: o.NoSync, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, store.Unavailable("open", err)
	}
	s := &Store{db: db, now: o.Now, rate: gcra.New(), writes: &group{db: db}, stop: make(chan struct{}), done: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	every := o.SweepInterval
	if every == 0 {
		every = DefaultSweepInterval
	}
	sweep.Start(every, s.stop, s.done, s.Sweep)
	return s, nil
}

// Close stops the sweeper and closes the file. It is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		select {
		case <-s.done:
		default:
			close(s.stop)
			<-s.done
		}
		if cerr := s.db.Close(); cerr != nil {
			err = store.Unavailable("close", cerr)
		}
	})
	return err
}

func tenantKey(tenant string) []byte { return append([]byte("t:"), tenant...) }

// sub returns a tenant's sub-bucket of top, or nil.
func sub(tx *bbolt.Tx, top []byte, tenant string) *bbolt.Bucket {
	return tx.Bucket(top).Bucket(tenantKey(tenant))
}

func subCreate(tx *bbolt.Tx, top []byte, tenant string) (*bbolt.Bucket, error) {
	return tx.Bucket(top).CreateBucketIfNotExists(tenantKey(tenant))
}

func expiryKey(exp int64, tenant string, k [32]byte) []byte {
	b := make([]byte, 0, 8+1+len(tenant)+32)
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = append(b, byte(len(tenant)))
	b = append(b, tenant...)
	return append(b, k[:]...)
}

func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return store.Unavailable(op, err)
	}
	return nil
}

// Authorize implements the atomic authorization step (see
// store.AuthorizeRequest) in one bbolt transaction: read-only when there
// are no nonces, otherwise a write transaction that concurrent
// authorizations may share (group commit: one fsync for the group, no
// added delay when there is no company).
func (s *Store) Authorize(ctx context.Context, req store.AuthorizeRequest) error {
	if err := req.Check(); err != nil {
		return err
	}
	if err := ctxErr(ctx, "authorize"); err != nil {
		return err
	}
	now := s.now().UnixNano()
	if len(req.Nonces) == 0 {
		var decision error
		err := s.view(func(tx *bbolt.Tx) error {
			decision = checkRevoked(tx, req)
			return nil
		})
		if err != nil {
			return store.Unavailable("authorize", err)
		}
		return decision
	}
	var decision error
	err := s.writes.run(func(tx *bbolt.Tx) error {
		decision = nil // a failed group runs this function again
		if decision = checkRevoked(tx, req); decision != nil {
			return nil
		}
		nb := sub(tx, bucketNonce, req.Tenant)
		for i, n := range req.Nonces {
			if nb != nil {
				if v := nb.Get(n.Key[:]); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now {
					decision = &store.ReplayError{Index: i}
					return nil
				}
			}
			for j := 0; j < i; j++ {
				if req.Nonces[j].Key == n.Key {
					decision = &store.ReplayError{Index: i}
					return nil
				}
			}
		}
		var err error
		if nb == nil {
			if nb, err = subCreate(tx, bucketNonce, req.Tenant); err != nil {
				return err
			}
		}
		eb := tx.Bucket(bucketExpiry)
		for _, n := range req.Nonces {
			exp := store.ClampExpiry(n.ExpiresAt).UnixNano()
			if exp <= now {
				continue // already expired: nothing to remember
			}
			// bbolt keeps the key and value slices until commit:
			// each Put gets its own buffer.
			kv := make([]byte, 32+8)
			copy(kv, n.Key[:])
			binary.BigEndian.PutUint64(kv[32:], uint64(exp))
			if err := nb.Put(kv[:32], kv[32:]); err != nil {
				return err
			}
			if err := eb.Put(expiryKey(exp, req.Tenant, n.Key), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Unavailable("authorize", err)
	}
	return decision
}

func checkRevoked(tx *bbolt.Tx, req store.AuthorizeRequest) error {
	rb := sub(tx, bucketRev, req.Tenant)
	if rb == nil {
		return nil
	}
	for i, fp := range req.Fingerprints {
		if rb.Get(fp[:]) != nil {
			return &store.RevokedError{Index: i, Fingerprint: fp}
		}
	}
	return nil
}

// Sweep deletes expired nonces, sweepBatch per write transaction, and
// reports how many it deleted.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		if err := ctxErr(ctx, "sweep"); err != nil {
			return total, err
		}
		now := s.now().UnixNano()
		n, more := 0, false
		err := s.update(func(tx *bbolt.Tx) error {
			n, more = 0, false
			c := tx.Bucket(bucketExpiry).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.First() {
				if len(k) < 9+32 || len(k) != 9+int(k[8])+32 {
					return fmt.Errorf("%w: expiry key", errCorrupt)
				}
				exp := int64(binary.BigEndian.Uint64(k))
				if exp > now {
					return nil
				}
				if n == sweepBatch {
					more = true
					return nil
				}
				tenant := string(k[9 : 9+int(k[8])])
				key := k[9+int(k[8]):]
				if nb := sub(tx, bucketNonce, tenant); nb != nil {
					// Delete only if this entry is the nonce's current
					// expiry (it may have been consumed again later).
					if v := nb.Get(key); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= now {
						if err := nb.Delete(key); err != nil {
							return err
						}
					}
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, store.Unavailable("sweep", err)
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

func encodeText(t time.Time, a, b string) []byte {
	out := make([]byte, 0, 10+len(a)+len(b))
	ts := int64(0)
	if !t.IsZero() {
		ts = t.UnixNano()
	}
	out = binary.BigEndian.AppendUint64(out, uint64(ts))
	out = binary.BigEndian.AppendUint16(out, uint16(len(a)))
	out = append(out, a...)
	return append(out, b...)
}

func decodeText(v []byte) (t time.Time, a, b string, err error) {
	if len(v) < 10 {
		return t, "", "", errCorrupt
	}
	n := int(binary.BigEndian.Uint16(v[8:]))
	if len(v) < 10+n {
		return t, "", "", errCorrupt
	}
	t = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
	return t, string(v[10 : 10+n]), string(v[10+n:]), nil
}

// Revoke records revocations; an already revoked fingerprint keeps its
// first record. It reports how many were new.
func (s *Store) Revoke(ctx context.Context, tenant string, revs []store.Revocation) (int, error) {
	if err := store.CheckRevocations(tenant, revs); err != nil {
		return 0, err
	}
	if len(revs) == 0 {
		return 0, nil
	}
	if err := ctxErr(ctx, "revoke"); err != nil {
		return 0, err
	}
	now := s.now()
	added := 0
	err := s.update(func(tx *bbolt.Tx) error {
		added = 0
		rb, err := subCreate(tx, bucketRev, tenant)
		if err != nil {
			return err
		}
		for _, r := range revs {
			if rb.Get(r.Fingerprint[:]) != nil {
				continue
			}
			at := r.RevokedAt
			if at.IsZero() {
				at = now
			}
			if err := rb.Put(r.Fingerprint[:], encodeText(at, r.Reason, r.Actor)); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, store.Unavailable("revoke", err)
	}
	return added, nil
}

func decodeRevocation(k, v []byte) (store.Revocation, error) {
	r := store.Revocation{}
	if len(k) != 32 {
		return r, errCorrupt
	}
	copy(r.Fingerprint[:], k)
	var err error
	r.RevokedAt, r.Reason, r.Actor, err = decodeText(v)
	return r, err
}

// RevocationStatus returns the revocation of fp, if any.
func (s *Store) RevocationStatus(ctx context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return store.Revocation{}, false, err
	}
	if err := ctxErr(ctx, "revocation status"); err != nil {
		return store.Revocation{}, false, err
	}
	var r store.Revocation
	var ok bool
	err := s.view(func(tx *bbolt.Tx) error {
		rb := sub(tx, bucketRev, tenant)
		if rb == nil {
			return nil
		}
		v := rb.Get(fp[:])
		if v == nil {
			return nil
		}
		var err error
		r, err = decodeRevocation(fp[:], v)
		ok = err == nil
		return err
	})
	if err != nil {
		return store.Revocation{}, false, store.Unavailable("revocation status", err)
	}
	return r, ok, nil
}

// ListRevocations lists a tenant's revocations in ascending fingerprint
// order.
func (s *Store) ListRevocations(ctx context.Context, tenant string, p store.Page) ([]store.Revocation, string, error) {
	limit, after, hasAfter, err := store.CheckPage(tenant, p)
	if err != nil {
		return nil, "", err
	}
	if err := ctxErr(ctx, "list revocations"); err != nil {
		return nil, "", err
	}
	var out []store.Revocation
	next := ""
	err = s.view(func(tx *bbolt.Tx) error {
		rb := sub(tx, bucketRev, tenant)
		if rb == nil {
			return nil
		}
		c := rb.Cursor()
		k, v := c.First()
		if hasAfter {
			k, v = c.Seek(after[:])
			if k != nil && bytes.Equal(k, after[:]) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				next = store.Cursor(out[limit-1].Fingerprint)
				return nil
			}
			r, err := decodeRevocation(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", store.Unavailable("list revocations", err)
	}
	return out, next, nil
}

// AddRoot adds a trusted root or replaces the record of a present one.
func (s *Store) AddRoot(ctx context.Context, tenant string, r store.Root) error {
	if err := store.CheckRoot(tenant, r); err != nil {
		return err
	}
	if err := ctxErr(ctx, "add root"); err != nil {
		return err
	}
	if r.AddedAt.IsZero() {
		r.AddedAt = s.now()
	}
	tooMany := false
	err := s.update(func(tx *bbolt.Tx) error {
		b, err := subCreate(tx, bucketRoot, tenant)
		if err != nil {
			return err
		}
		if b.Get(r.PublicKey[:]) == nil && b.Stats().KeyN >= store.MaxRootsPerTenant {
			tooMany = true
			return nil
		}
		return b.Put(r.PublicKey[:], encodeText(r.AddedAt, r.Label, r.AddedBy))
	})
	if err != nil {
		return store.Unavailable("add root", err)
	}
	if tooMany {
		return store.ErrTooManyRoots
	}
	return nil
}

// RemoveRoot removes a root and reports whether it was present.
func (s *Store) RemoveRoot(ctx context.Context, tenant string, pk [32]byte) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	if err := ctxErr(ctx, "remove root"); err != nil {
		return false, err
	}
	found := false
	err := s.update(func(tx *bbolt.Tx) error {
		b := sub(tx, bucketRoot, tenant)
		if b == nil || b.Get(pk[:]) == nil {
			found = false
			return nil
		}
		found = true
		return b.Delete(pk[:])
	})
	if err != nil {
		return false, store.Unavailable("remove root", err)
	}
	return found, nil
}

// ListRoots lists a tenant's roots in ascending key order.
func (s *Store) ListRoots(ctx context.Context, tenant string) ([]store.Root, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx, "list roots"); err != nil {
		return nil, err
	}
	var out []store.Root
	err := s.view(func(tx *bbolt.Tx) error {
		b := sub(tx, bucketRoot, tenant)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 32 || len(out) >= store.MaxRootsPerTenant {
				return errCorrupt
			}
			r := store.Root{}
			copy(r.PublicKey[:], k)
			var err error
			r.AddedAt, r.Label, r.AddedBy, err = decodeText(v)
			out = append(out, r)
			return err
		})
	})
	if err != nil {
		return nil, store.Unavailable("list roots", err)
	}
	return out, nil
}

// AllowRate decides one request of key with an in-process GCRA limiter.
// Rate state is not persisted (a restart refills every bucket).
func (s *Store) AllowRate(ctx context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error) {
	if err := s.Ping(ctx); err != nil {
		return store.RateDecision{}, store.Unavailable("allow rate", err)
	}
	return s.rate.Allow(key, s.now(), ratePerSec, burst)
}

// Ping reads the file (a read transaction); it fails after Close.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctxErr(ctx, "ping"); err != nil {
		return err
	}
	err := s.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketRev) == nil {
			return errCorrupt
		}
		return nil
	})
	if err != nil {
		return store.Unavailable("ping", err)
	}
	return nil
}
