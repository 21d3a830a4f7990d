package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/internal/gcra"
	"github.com/a1-go/a1/store/internal/sweep"
)

// Defaults.
const (
	// DefaultTimeout bounds every operation.
	DefaultTimeout = 2 * time.Second
	// DefaultPrefix starts every key.
	DefaultPrefix = "a1"
	// maxPrefixLen bounds Options.Prefix.
	maxPrefixLen = 64
	// DefaultSweepInterval is the sweep period the gateway uses on Redis
	// (and a sensible Options.SweepInterval).
	DefaultSweepInterval = time.Second
	// sweepBatch bounds the members one sweep script removes, and so the
	// time it holds the server (52-60 µs measured for a full batch out of
	// a 100,000-member index: BenchmarkSweepBatch, docs/benchmarks.md).
	sweepBatch = 256
	// NonceIndexGrace is how long a tenant's nonce index outlives its
	// latest nonce. Sweepers empty it in small batches meanwhile; only
	// when no gateway has run for that long does Redis delete it whole
	// (ADR 0012).
	NonceIndexGrace = time.Hour
	// maxSweptTenants bounds the tenants one Store remembers, and the
	// registry members one Sweep reads; a tenant beyond it is swept by
	// other stores or, at worst, expires NonceIndexGrace after its latest
	// nonce.
	maxSweptTenants = 4096
)

// Options configure a Store.
type Options struct {
	// Timeout bounds every operation (default DefaultTimeout); Open also
	// caps the client's dial, read, write and pool timeouts at it.
	Timeout time.Duration
	// Now stamps RevokedAt/AddedAt when the caller leaves them zero
	// (default time.Now). Nonce expiry and rate refill use the server
	// clock, so every replica agrees.
	Now func() time.Time
	// Prefix starts every key (default "a1"); deployments sharing one
	// Redis use distinct prefixes. No braces.
	Prefix string
	// SweepInterval, when positive, starts a background sweeper that
	// removes expired nonces, in batches of a few hundred, from the nonce
	// index of every tenant this Store has authorized for (see Sweep).
	SweepInterval time.Duration
}

// Store is the Redis backend. It is safe for concurrent use.
type Store struct {
	c       goredis.UniversalClient
	timeout time.Duration
	now     func() time.Time
	prefix  string

	// tenants this Store has consumed nonces for: the sweeper's work list.
	tenants  sync.Map // string → struct{}
	ntenants atomic.Int32

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// Open builds a client from a URL and returns a Store over it. The URL
// forms (query parameters are go-redis's, e.g. dial_timeout, pool_size):
//
//	redis://[user:pass@]host:6379/0             standalone
//	rediss://…                                  standalone over TLS
//	redis://host:26379/0?master_name=mymaster&addr=host2:26379
//	                                            Sentinel: the hosts are sentinels
//	redis://host1:6379?cluster=true&addr=host2:6379
//	                                            Cluster: seed nodes (db 0 only)
//
// Client retries are disabled: a retried Authorize whose first attempt
// did run would answer "replay" to a legitimate request. A failure
// surfaces as ErrUnavailable instead and the caller fails closed. (The
// cluster client retries a failed connection regardless of MaxRetries, so
// every script is also sent as a command marked never to be retried; only
// MOVED/ASK redirections, after which the script has not run, are
// followed.)
func Open(rawURL string, o Options) (*Store, error) {
	c, err := newClient(rawURL, o)
	if err != nil {
		return nil, err
	}
	return New(c, o)
}

func newClient(rawURL string, o Options) (goredis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse URL: %w", redactURLError(err))
	}
	q := u.Query()
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch {
	case q.Has("master_name"):
		fo, err := goredis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis: parse sentinel URL: %w", redactURLError(err))
		}
		clientPolicy(timeout, &fo.MaxRetries, &fo.ContextTimeoutEnabled,
			&fo.DialTimeout, &fo.ReadTimeout, &fo.WriteTimeout, &fo.PoolTimeout)
		return goredis.NewFailoverClient(fo), nil
	case q.Get("cluster") == "true":
		q.Del("cluster")
		u.RawQuery = q.Encode()
		co, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis: parse cluster URL: %w", redactURLError(err))
		}
		clientPolicy(timeout, &co.MaxRetries, &co.ContextTimeoutEnabled,
			&co.DialTimeout, &co.ReadTimeout, &co.WriteTimeout, &co.PoolTimeout)
		return goredis.NewClusterClient(co), nil
	default:
		so, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis: parse URL: %w", redactURLError(err))
		}
		clientPolicy(timeout, &so.MaxRetries, &so.ContextTimeoutEnabled,
			&so.DialTimeout, &so.ReadTimeout, &so.WriteTimeout, &so.PoolTimeout)
		return goredis.NewClient(so), nil
	}
}

// redactURLError drops the URL from a URL parse error: net/url quotes the
// whole input, password included, and the caller logs the error. A bad
// percent-escape is named without its characters, which may be part of the
// password.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	var esc url.EscapeError
	if errors.As(ue.Err, &esc) {
		return errors.New("malformed URL: invalid percent-escape")
	}
	return fmt.Errorf("malformed URL: %w", ue.Err)
}

// clientPolicy applies the store's policy to the fields of one kind of
// go-redis options: every timeout capped at timeout (an unset one becomes
// timeout), no retries (a failed command fails closed at once), and
// context deadlines honoured.
func clientPolicy(timeout time.Duration, maxRetries *int, ctxTimeouts *bool, timeouts ...*time.Duration) {
	for _, d := range timeouts {
		if *d <= 0 || *d > timeout {
			*d = timeout
		}
	}
	*maxRetries = -1
	*ctxTimeouts = true
}

// New returns a Store over an existing client (configure its timeouts and
// disable its retries yourself) and starts the sweeper when
// o.SweepInterval is positive. Close stops the sweeper and closes the
// client.
func New(c goredis.UniversalClient, o Options) (*Store, error) {
	s := &Store{c: c, timeout: o.Timeout, now: o.Now, prefix: o.Prefix, stop: make(chan struct{}), done: make(chan struct{})}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if len(s.prefix) > maxPrefixLen || strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("%w: redis key prefix", store.ErrInvalid)
	}
	sweep.Start(o.SweepInterval, s.stop, s.done, s.Sweep)
	return s, nil
}

// Client returns the underlying client.
func (s *Store) Client() goredis.UniversalClient { return s.c }

// Close stops the sweeper and closes the client. It is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done // a sweep stops between batches; each is bounded by the timeout
		if cerr := s.c.Close(); cerr != nil {
			err = store.Unavailable("close", cerr)
		}
	})
	return err
}

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// tenantKey builds prefix:{t:<tenant>}:<kind>[:<hex>]. CheckTenant has
// excluded braces, so the hash tag is exactly {t:<tenant>}.
func (s *Store) tenantKey(tenant, kind string, id *[32]byte) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + len(tenant) + len(kind) + 72)
	b.WriteString(s.prefix)
	b.WriteString(":{t:")
	b.WriteString(tenant)
	b.WriteString("}:")
	b.WriteString(kind)
	if id != nil {
		b.WriteByte(':')
		var h [64]byte
		hex.Encode(h[:], id[:])
		b.Write(h[:])
	}
	return b.String()
}

// Authorize implements the atomic authorization step (see
// store.AuthorizeRequest) as one Lua script, one round trip.
func (s *Store) Authorize(ctx context.Context, req store.AuthorizeRequest) error {
	if err := req.Check(); err != nil {
		return err
	}
	nf, nn := len(req.Fingerprints), len(req.Nonces)
	if nf+nn == 0 {
		return nil
	}
	keys := make([]string, 0, nf+1+nn)
	for i := range req.Fingerprints {
		keys = append(keys, s.tenantKey(req.Tenant, "rev", &req.Fingerprints[i]))
	}
	keys = append(keys, s.tenantKey(req.Tenant, "nz", nil))
	args := make([]any, 2, 2+2*nn)
	args[0], args[1] = nf, NonceIndexGrace.Milliseconds()
	for i := range req.Nonces {
		n := &req.Nonces[i]
		keys = append(keys, s.tenantKey(req.Tenant, "n", &n.Key))
		args = append(args, n.Key[:], store.ClampExpiry(n.ExpiresAt).UnixMilli())
	}
	if nn > 0 {
		s.remember(req.Tenant)
	}
	c, cancel := s.op(ctx)
	defer cancel()
	r, err := authorizeScript.run(c, s.c, keys, args...).Int()
	if err != nil {
		return store.Unavailable("authorize", err)
	}
	switch {
	case r == 0:
		return nil
	case r > 0 && r <= nf:
		return &store.RevokedError{Index: r - 1, Fingerprint: req.Fingerprints[r-1]}
	case r < 0 && r >= -nn: // not -r: it overflows for the smallest int
		return &store.ReplayError{Index: -r - 1}
	}
	return store.Unavailable("authorize", fmt.Errorf("script returned %d", r))
}

// remember adds tenant to the sweeper's work list (bounded by
// maxSweptTenants).
func (s *Store) remember(tenant string) {
	if _, ok := s.tenants.Load(tenant); ok || s.ntenants.Load() >= maxSweptTenants {
		return
	}
	if _, loaded := s.tenants.LoadOrStore(tenant, struct{}{}); !loaded {
		s.ntenants.Add(1)
	}
}

// tenantsKey names the registry of tenants with a nonce index: a set
// every Store adds its own tenants to and every sweeper reads, so a
// running gateway sweeps the indexes of tenants whose gateways have gone.
func (s *Store) tenantsKey() string { return s.prefix + ":nztenants" }

// stopped reports whether Close has been called.
func (s *Store) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Sweep removes expired nonces from the nonce indexes, one script of at
// most sweepBatch members at a time, so no call holds the server for long.
// It sweeps the tenants this Store has authorized for and up to
// maxSweptTenants more from the shared registry (so indexes left by
// stopped gateways shrink too), and drops from the registry tenants whose
// index is gone. Expired nonces are already free before they are swept:
// sweeping only returns their memory, in small steps, instead of Redis
// freeing a whole index when it expires with its latest nonce. It reports
// how many nonces it removed and stops early, without error, once the
// Store is closed.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if s.stopped() {
		return 0, nil
	}
	var local []any
	s.tenants.Range(func(k, _ any) bool { local = append(local, k); return true })
	c, cancel := s.op(ctx)
	if len(local) > 0 {
		if err := s.c.SAdd(c, s.tenantsKey(), local...).Err(); err != nil {
			cancel()
			return 0, store.Unavailable("sweep", err)
		}
	}
	shared, err := s.c.SRandMemberN(c, s.tenantsKey(), maxSweptTenants).Result()
	cancel()
	if err != nil {
		return 0, store.Unavailable("sweep", err)
	}
	// This store's tenants first, then the registry's others; only the
	// others are dropped from the registry when their index is gone.
	todo := make([]string, 0, len(local)+len(shared))
	for _, t := range local {
		todo = append(todo, t.(string))
	}
	for _, t := range shared {
		if _, mine := s.tenants.Load(t); !mine {
			todo = append(todo, t)
		}
	}
	total := 0
	var gone []any
	for i, t := range todo {
		if s.stopped() {
			return total, nil
		}
		n, exists, err := s.sweepTenant(ctx, t)
		total += n
		if err != nil {
			return total, err
		}
		if !exists && i >= len(local) {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		c, cancel := s.op(ctx)
		defer cancel()
		// A gateway that starts using a dropped tenant again adds it back
		// on its next sweep.
		if err := s.c.SRem(c, s.tenantsKey(), gone...).Err(); err != nil {
			return total, store.Unavailable("sweep", err)
		}
	}
	return total, nil
}

// sweepTenant removes a tenant's expired nonces batch by batch and
// reports whether its index still exists.
func (s *Store) sweepTenant(ctx context.Context, tenant string) (removed int, exists bool, err error) {
	key := s.tenantKey(tenant, "nz", nil)
	for !s.stopped() && ctx.Err() == nil {
		c, cancel := s.op(ctx)
		n, err := sweepScript.run(c, s.c, []string{key}, sweepBatch).Int()
		cancel()
		switch {
		case err != nil:
			return removed, true, store.Unavailable("sweep", err)
		case n < 0:
			return removed, false, nil
		}
		removed += n
		if n < sweepBatch {
			break
		}
	}
	return removed, true, nil
}

// Revoke records revocations in one script; an already revoked
// fingerprint keeps its first record. It reports how many were new.
func (s *Store) Revoke(ctx context.Context, tenant string, revs []store.Revocation) (int, error) {
	if err := store.CheckRevocations(tenant, revs); err != nil {
		return 0, err
	}
	if len(revs) == 0 {
		return 0, nil
	}
	now := s.now()
	keys := make([]string, 1, 1+len(revs))
	keys[0] = s.tenantKey(tenant, "revidx", nil)
	args := make([]any, 0, 4*len(revs))
	for i := range revs {
		r := &revs[i]
		at := r.RevokedAt
		if at.IsZero() {
			at = now
		}
		keys = append(keys, s.tenantKey(tenant, "rev", &r.Fingerprint))
		args = append(args, hex.EncodeToString(r.Fingerprint[:]), r.Reason, r.Actor, strconv.FormatInt(at.UnixNano(), 10))
	}
	c, cancel := s.op(ctx)
	defer cancel()
	n, err := revokeScript.run(c, s.c, keys, args...).Int()
	if err != nil {
		return 0, store.Unavailable("revoke", err)
	}
	return n, nil
}

func parseRevocation(fp [32]byte, v []any) (store.Revocation, bool, error) {
	r := store.Revocation{Fingerprint: fp}
	if len(v) != 3 {
		return r, false, fmt.Errorf("redis: revocation record of %d fields", len(v))
	}
	if v[0] == nil && v[1] == nil && v[2] == nil {
		return r, false, nil // no record
	}
	if v[2] == nil {
		// The key exists (the authorize script denies on EXISTS) but was
		// not written whole: damage, never "not revoked".
		return r, false, errors.New("redis: revocation record without a time")
	}
	reason, _ := v[0].(string)
	actor, _ := v[1].(string)
	ts, _ := v[2].(string)
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return r, false, fmt.Errorf("redis: revocation time %q: %w", ts, err)
	}
	r.Reason, r.Actor, r.RevokedAt = reason, actor, time.Unix(0, ns).UTC()
	return r, true, nil
}

// RevocationStatus returns the revocation of fp, if any.
func (s *Store) RevocationStatus(ctx context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return store.Revocation{}, false, err
	}
	c, cancel := s.op(ctx)
	defer cancel()
	v, err := s.c.HMGet(c, s.tenantKey(tenant, "rev", &fp), "r", "a", "t").Result()
	if err != nil {
		return store.Revocation{}, false, store.Unavailable("revocation status", err)
	}
	r, ok, err := parseRevocation(fp, v)
	if err != nil {
		return store.Revocation{}, false, store.Unavailable("revocation status", err)
	}
	return r, ok, nil
}

// ListRevocations lists a tenant's revocations in ascending fingerprint
// order: one ZRANGE BYLEX on the index, then one pipeline of HMGETs.
func (s *Store) ListRevocations(ctx context.Context, tenant string, p store.Page) ([]store.Revocation, string, error) {
	limit, _, _, err := store.CheckPage(tenant, p)
	if err != nil {
		return nil, "", err
	}
	start := "-"
	if p.Cursor != "" {
		start = "(" + p.Cursor
	}
	c, cancel := s.op(ctx)
	defer cancel()
	ids, err := s.c.ZRangeArgs(c, goredis.ZRangeArgs{
		Key: s.tenantKey(tenant, "revidx", nil), Start: start, Stop: "+", ByLex: true, Count: int64(limit + 1),
	}).Result()
	if err != nil {
		return nil, "", store.Unavailable("list revocations", err)
	}
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	if len(ids) == 0 {
		return nil, "", nil
	}
	fps := make([][32]byte, len(ids))
	cmds := make([]*goredis.SliceCmd, len(ids))
	_, err = s.c.Pipelined(c, func(pipe goredis.Pipeliner) error {
		for i, id := range ids {
			f, _, err := store.ParseCursor(id)
			if err != nil {
				return fmt.Errorf("redis: bad index member %q", id)
			}
			fps[i] = f
			cmds[i] = pipe.HMGet(c, s.tenantKey(tenant, "rev", &fps[i]), "r", "a", "t")
		}
		return nil
	})
	if err != nil {
		return nil, "", store.Unavailable("list revocations", err)
	}
	out := make([]store.Revocation, 0, len(ids))
	for i, cmd := range cmds {
		r, ok, err := parseRevocation(fps[i], cmd.Val())
		if err != nil {
			return nil, "", store.Unavailable("list revocations", err)
		}
		if !ok {
			return nil, "", store.Unavailable("list revocations", errors.New("redis: index names a missing revocation"))
		}
		out = append(out, r)
	}
	next := ""
	if more {
		next = ids[len(ids)-1]
	}
	return out, next, nil
}

type rootRecord struct {
	Label   string `json:"label"`
	AddedBy string `json:"added_by"`
	AddedAt int64  `json:"added_at"` // unix ns
}

// AddRoot adds a trusted root or replaces the record of a present one.
func (s *Store) AddRoot(ctx context.Context, tenant string, r store.Root) error {
	if err := store.CheckRoot(tenant, r); err != nil {
		return err
	}
	if r.AddedAt.IsZero() {
		r.AddedAt = s.now()
	}
	rec, err := json.Marshal(rootRecord{Label: r.Label, AddedBy: r.AddedBy, AddedAt: r.AddedAt.UnixNano()})
	if err != nil {
		return err
	}
	c, cancel := s.op(ctx)
	defer cancel()
	ok, err := addRootScript.run(c, s.c, []string{s.tenantKey(tenant, "roots", nil)},
		hex.EncodeToString(r.PublicKey[:]), rec, store.MaxRootsPerTenant).Int()
	if err != nil {
		return store.Unavailable("add root", err)
	}
	if ok == 0 {
		return store.ErrTooManyRoots
	}
	return nil
}

// RemoveRoot removes a root and reports whether it was present.
func (s *Store) RemoveRoot(ctx context.Context, tenant string, pk [32]byte) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	c, cancel := s.op(ctx)
	defer cancel()
	n, err := s.c.HDel(c, s.tenantKey(tenant, "roots", nil), hex.EncodeToString(pk[:])).Result()
	if err != nil {
		return false, store.Unavailable("remove root", err)
	}
	return n > 0, nil
}

// ListRoots lists a tenant's roots in ascending key order.
func (s *Store) ListRoots(ctx context.Context, tenant string) ([]store.Root, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return nil, err
	}
	c, cancel := s.op(ctx)
	defer cancel()
	m, err := s.c.HGetAll(c, s.tenantKey(tenant, "roots", nil)).Result()
	if err != nil {
		return nil, store.Unavailable("list roots", err)
	}
	out := make([]store.Root, 0, len(m))
	for k, v := range m {
		pk, _, err := store.ParseCursor(k)
		if err != nil || k == "" {
			return nil, store.Unavailable("list roots", fmt.Errorf("redis: bad root field %q", k))
		}
		var rec rootRecord
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			return nil, store.Unavailable("list roots", err)
		}
		out = append(out, store.Root{PublicKey: pk, Label: rec.Label, AddedBy: rec.AddedBy, AddedAt: time.Unix(0, rec.AddedAt).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].PublicKey[:]) < string(out[j].PublicKey[:]) })
	return out, nil
}

// AllowRate decides one request of key with a GCRA script on the server
// clock, so the limit holds across gateway replicas.
func (s *Store) AllowRate(ctx context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error) {
	if err := store.CheckRate(key, ratePerSec, burst); err != nil {
		return store.RateDecision{}, err
	}
	iv := max(gcra.Interval(ratePerSec)/1000, 1) // µs
	c, cancel := s.op(ctx)
	defer cancel()
	v, err := rateScript.run(c, s.c, []string{s.prefix + ":rl:" + key}, iv, burst).Int64Slice()
	if err != nil {
		return store.RateDecision{}, store.Unavailable("allow rate", err)
	}
	if len(v) != 3 {
		return store.RateDecision{}, store.Unavailable("allow rate", fmt.Errorf("script returned %d values", len(v)))
	}
	if v[0] == 1 {
		return store.RateDecision{Allowed: true, Remaining: int(v[2])}, nil
	}
	return store.RateDecision{RetryAfter: max(time.Duration(v[1])*time.Microsecond, time.Microsecond)}, nil
}

// Ping sends PING within the timeout.
func (s *Store) Ping(ctx context.Context) error {
	c, cancel := s.op(ctx)
	defer cancel()
	if err := s.c.Ping(c).Err(); err != nil {
		return store.Unavailable("ping", err)
	}
	return nil
}
