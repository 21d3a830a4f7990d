package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/internal/gcra"
	"github.com/a1-go/a1/store/internal/sweep"
)

// Defaults.
const (
	// DefaultTimeout bounds every operation, including waiting for a
	// pooled connection.
	DefaultTimeout = 2 * time.Second
	// DefaultSweepInterval is the period of the optional background
	// sweeper.
	DefaultSweepInterval = time.Minute
	// sweepBatch bounds the rows one sweep statement deletes.
	sweepBatch = 5000
)

// Config configures a Store.
type Config struct {
	// URL is a libpq-style connection string, e.g.
	// postgres://a1@db:5432/a1?sslmode=verify-full. Append
	// default_query_exec_mode=cache_statement for the fastest mode on a
	// direct connection (NOT through PgBouncer transaction pooling).
	URL string
	// QueryExecMode overrides the URL: "exec" (the default when the URL
	// names none), "simple_protocol", "cache_describe",
	// "describe_exec" or "cache_statement".
	QueryExecMode string
	// Timeout bounds every operation (default DefaultTimeout).
	Timeout time.Duration
	// Now stamps RevokedAt/AddedAt when the caller leaves them zero
	// (default time.Now). Nonce expiry and rate refill use the server
	// clock, so every replica agrees.
	Now func() time.Time
	// Migrate applies the embedded migrations at Open.
	Migrate bool
	// SweepInterval, when positive, starts a background sweeper of
	// expired nonces and idle rate buckets (one per replica is harmless:
	// the deletes are idempotent and batched).
	SweepInterval time.Duration
	// MaxConns bounds the pool (0: pgxpool's default or the URL's
	// pool_max_conns).
	MaxConns int32
	// Tracer, when set, observes every query (tests count round trips).
	Tracer pgx.QueryTracer
}

// Store is the PostgreSQL backend. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	now     func() time.Time

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// PoolConfig parses cfg into a pgxpool configuration with a1's defaults:
// exec query mode unless the URL or cfg names another, connect timeout =
// cfg.Timeout.
func PoolConfig(cfg Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse URL: %w", err)
	}
	mode := cfg.QueryExecMode
	if mode == "" && !urlNamesExecMode(cfg.URL) {
		mode = "exec"
	}
	if mode != "" {
		m, ok := execModes[mode]
		if !ok {
			return nil, fmt.Errorf("postgres: unknown query exec mode %q", mode)
		}
		pc.ConnConfig.DefaultQueryExecMode = m
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > timeout {
		pc.ConnConfig.ConnectTimeout = timeout
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = cfg.Tracer
	}
	return pc, nil
}

func urlNamesExecMode(s string) bool {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		return u.Query().Has("default_query_exec_mode")
	}
	// key=value form
	return containsWord(s, "default_query_exec_mode=")
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i == 0 || s[i-1] == ' ') {
			return true
		}
	}
	return false
}

// Open connects a pool (lazily: an unreachable server surfaces as
// ErrUnavailable from the first operation, not here), applies migrations
// when cfg.Migrate is set, and starts the sweeper when asked.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := PoolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, store.Unavailable("open", err)
	}
	s := New(pool, cfg)
	if cfg.Migrate {
		mctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
		defer cancel()
		if err := Migrate(mctx, pool); err != nil {
			s.Close()
			return nil, err
		}
	}
	if cfg.SweepInterval > 0 {
		s.done = make(chan struct{})
		sweep.Start(cfg.SweepInterval, s.stop, s.done, s.Sweep)
	}
	return s, nil
}

// New wraps an existing pool (configure it for PgBouncer yourself). Close
// closes the pool. No sweeper is started.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	s := &Store{pool: pool, timeout: cfg.Timeout, now: cfg.Now, stop: make(chan struct{}), done: make(chan struct{})}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	close(s.done) // no sweeper until Open starts one
	return s
}

// Pool returns the underlying pool (for Migrate and MigrationsApplied).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the sweeper and closes the pool. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done // the sweeper's statements are bounded by the timeout
		s.pool.Close()
	})
	return nil
}

var errClosed = errors.New("postgres: store closed")

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc, error) {
	select {
	case <-s.stop:
		return nil, nil, errClosed
	default:
	}
	c, cancel := context.WithTimeout(ctx, s.timeout)
	return c, cancel, nil
}

const authorizeSQL = `SELECT a1_authorize($1::text, $2::bytea[], $3::bytea[], $4::timestamptz[])`

// Authorize implements the atomic authorization step (see
// store.AuthorizeRequest) in one statement and one round trip.
func (s *Store) Authorize(ctx context.Context, req store.AuthorizeRequest) error {
	if err := req.Check(); err != nil {
		return err
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return store.Unavailable("authorize", err)
	}
	defer cancel()
	fps := make([][]byte, len(req.Fingerprints))
	for i := range req.Fingerprints {
		fps[i] = req.Fingerprints[i][:]
	}
	keys := make([][]byte, len(req.Nonces))
	exps := make([]time.Time, len(req.Nonces))
	for i := range req.Nonces {
		keys[i] = req.Nonces[i].Key[:]
		exps[i] = store.ClampExpiry(req.Nonces[i].ExpiresAt)
	}
	var r int32
	if err := s.pool.QueryRow(c, authorizeSQL, req.Tenant, fps, keys, exps).Scan(&r); err != nil {
		return store.Unavailable("authorize", err)
	}
	// Compared without negating: -r overflows for math.MinInt32 (in
	// int32, and in int on 32-bit platforms), where it stays negative.
	switch n := int(r); {
	case n == 0:
		return nil
	case n > 0 && n <= len(req.Fingerprints):
		return &store.RevokedError{Index: n - 1, Fingerprint: req.Fingerprints[n-1]}
	case n < 0 && n >= -len(req.Nonces):
		return &store.ReplayError{Index: -n - 1}
	}
	return store.Unavailable("authorize", fmt.Errorf("a1_authorize returned %d", r))
}

const revokeSQL = `INSERT INTO a1_revocation (tenant, fingerprint, reason, actor, revoked_at)
SELECT $1::text, x.fp, x.reason, x.actor, x.at
  FROM unnest($2::bytea[], $3::text[], $4::text[], $5::timestamptz[]) AS x(fp, reason, actor, at)
ON CONFLICT (tenant, fingerprint) DO NOTHING`

// Revoke records revocations in one statement; an already revoked
// fingerprint keeps its first record. It reports how many were new.
func (s *Store) Revoke(ctx context.Context, tenant string, revs []store.Revocation) (int, error) {
	if err := store.CheckRevocations(tenant, revs); err != nil {
		return 0, err
	}
	if len(revs) == 0 {
		return 0, nil
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return 0, store.Unavailable("revoke", err)
	}
	defer cancel()
	now := s.now()
	fps := make([][]byte, len(revs))
	reasons := make([]string, len(revs))
	actors := make([]string, len(revs))
	ats := make([]time.Time, len(revs))
	for i := range revs {
		fps[i] = revs[i].Fingerprint[:]
		reasons[i], actors[i], ats[i] = revs[i].Reason, revs[i].Actor, revs[i].RevokedAt
		if ats[i].IsZero() {
			ats[i] = now
		}
	}
	tag, err := s.pool.Exec(c, revokeSQL, tenant, fps, reasons, actors, ats)
	if err != nil {
		return 0, store.Unavailable("revoke", err)
	}
	return int(tag.RowsAffected()), nil
}

func scanRevocation(row pgx.CollectableRow) (store.Revocation, error) {
	var r store.Revocation
	var fp []byte
	if err := row.Scan(&fp, &r.Reason, &r.Actor, &r.RevokedAt); err != nil {
		return r, err
	}
	if len(fp) != 32 {
		return r, fmt.Errorf("postgres: fingerprint of %d bytes", len(fp))
	}
	copy(r.Fingerprint[:], fp)
	r.RevokedAt = r.RevokedAt.UTC()
	return r, nil
}

// RevocationStatus returns the revocation of fp, if any.
func (s *Store) RevocationStatus(ctx context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return store.Revocation{}, false, err
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return store.Revocation{}, false, store.Unavailable("revocation status", err)
	}
	defer cancel()
	rows, err := s.pool.Query(c, `SELECT fingerprint, reason, actor, revoked_at FROM a1_revocation
		WHERE tenant = $1::text AND fingerprint = $2::bytea`, tenant, fp[:])
	if err != nil {
		return store.Revocation{}, false, store.Unavailable("revocation status", err)
	}
	rs, err := pgx.CollectRows(rows, scanRevocation)
	if err != nil {
		return store.Revocation{}, false, store.Unavailable("revocation status", err)
	}
	if len(rs) == 0 {
		return store.Revocation{}, false, nil
	}
	return rs[0], true, nil
}

// ListRevocations lists a tenant's revocations in ascending fingerprint
// order (primary-key order, one index range scan per page).
func (s *Store) ListRevocations(ctx context.Context, tenant string, p store.Page) ([]store.Revocation, string, error) {
	limit, after, _, err := store.CheckPage(tenant, p)
	if err != nil {
		return nil, "", err
	}
	var afterB []byte // empty bytea sorts before every fingerprint
	if p.Cursor != "" {
		afterB = after[:]
	} else {
		afterB = []byte{}
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return nil, "", store.Unavailable("list revocations", err)
	}
	defer cancel()
	rows, err := s.pool.Query(c, `SELECT fingerprint, reason, actor, revoked_at FROM a1_revocation
		WHERE tenant = $1::text AND fingerprint > $2::bytea ORDER BY fingerprint LIMIT $3::integer`,
		tenant, afterB, limit+1)
	if err != nil {
		return nil, "", store.Unavailable("list revocations", err)
	}
	rs, err := pgx.CollectRows(rows, scanRevocation)
	if err != nil {
		return nil, "", store.Unavailable("list revocations", err)
	}
	if len(rs) > limit {
		return rs[:limit], store.Cursor(rs[limit-1].Fingerprint), nil
	}
	return rs, "", nil
}

const addRootSQL = `INSERT INTO a1_root AS r (tenant, public_key, label, added_by, added_at)
SELECT $1::text, $2::bytea, $3::text, $4::text, $5::timestamptz
 WHERE (SELECT count(*) FROM a1_root WHERE tenant = $1::text) < $6::integer
    OR EXISTS (SELECT 1 FROM a1_root WHERE tenant = $1::text AND public_key = $2::bytea)
ON CONFLICT (tenant, public_key) DO UPDATE
   SET label = EXCLUDED.label, added_by = EXCLUDED.added_by, added_at = EXCLUDED.added_at`

// AddRoot adds a trusted root or replaces the record of a present one.
func (s *Store) AddRoot(ctx context.Context, tenant string, r store.Root) error {
	if err := store.CheckRoot(tenant, r); err != nil {
		return err
	}
	if r.AddedAt.IsZero() {
		r.AddedAt = s.now()
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return store.Unavailable("add root", err)
	}
	defer cancel()
	// The count in addRootSQL sees only roots committed before the
	// statement began, so two additions racing for the last place could
	// both pass it. A transaction-scoped advisory lock per tenant
	// serializes additions (safe behind a transaction pooler; it is
	// released at commit).
	err = pgx.BeginFunc(c, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(c, `SELECT pg_advisory_xact_lock(hashtextextended('a1_root:' || $1::text, 0))`, tenant); err != nil {
			return err
		}
		tag, err := tx.Exec(c, addRootSQL, tenant, r.PublicKey[:], r.Label, r.AddedBy, r.AddedAt, store.MaxRootsPerTenant)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrTooManyRoots
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrTooManyRoots):
		return err
	case err != nil:
		return store.Unavailable("add root", err)
	}
	return nil
}

// RemoveRoot removes a root and reports whether it was present.
func (s *Store) RemoveRoot(ctx context.Context, tenant string, pk [32]byte) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return false, store.Unavailable("remove root", err)
	}
	defer cancel()
	tag, err := s.pool.Exec(c, `DELETE FROM a1_root WHERE tenant = $1::text AND public_key = $2::bytea`, tenant, pk[:])
	if err != nil {
		return false, store.Unavailable("remove root", err)
	}
	return tag.RowsAffected() > 0, nil
}

// ListRoots lists a tenant's roots in ascending key order.
func (s *Store) ListRoots(ctx context.Context, tenant string) ([]store.Root, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return nil, err
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return nil, store.Unavailable("list roots", err)
	}
	defer cancel()
	rows, err := s.pool.Query(c, `SELECT public_key, label, added_by, added_at FROM a1_root
		WHERE tenant = $1::text ORDER BY public_key LIMIT $2::integer`, tenant, store.MaxRootsPerTenant)
	if err != nil {
		return nil, store.Unavailable("list roots", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Root, error) {
		var r store.Root
		var pk []byte
		if err := row.Scan(&pk, &r.Label, &r.AddedBy, &r.AddedAt); err != nil {
			return r, err
		}
		if len(pk) != 32 {
			return r, fmt.Errorf("postgres: public key of %d bytes", len(pk))
		}
		copy(r.PublicKey[:], pk)
		r.AddedAt = r.AddedAt.UTC()
		return r, nil
	})
	if err != nil {
		return nil, store.Unavailable("list roots", err)
	}
	return out, nil
}

// rateSQL is one GCRA step in one statement, on the server clock
// (microseconds). $2 is the emission interval, $3 the burst. It returns
// the new tat (NULL when denied), the tat before (NULL for a new key) and
// the server's now.
const rateSQL = `WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now),
up AS (
    INSERT INTO a1_ratelimit AS r (key, tat)
    SELECT $1::text, c.now + $2::bigint FROM c
    ON CONFLICT (key) DO UPDATE
       SET tat = greatest(r.tat, (SELECT now FROM c)) + $2::bigint
     WHERE greatest(r.tat, (SELECT now FROM c)) + $2::bigint - $3::bigint * $2::bigint <= (SELECT now FROM c)
    RETURNING r.tat)
SELECT (SELECT tat FROM up), (SELECT tat FROM a1_ratelimit WHERE key = $1::text), (SELECT now FROM c)`

// AllowRate decides one request of key with GCRA state in the database,
// so the limit holds across replicas. It is one statement.
func (s *Store) AllowRate(ctx context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error) {
	if err := store.CheckRate(key, ratePerSec, burst); err != nil {
		return store.RateDecision{}, err
	}
	c, cancel, err := s.op(ctx)
	if err != nil {
		return store.RateDecision{}, store.Unavailable("allow rate", err)
	}
	defer cancel()
	t := max(gcra.Interval(ratePerSec)/1000, 1) // microseconds
	var newTat, oldTat *int64
	var now int64
	if err := s.pool.QueryRow(c, rateSQL, key, t, int64(burst)).Scan(&newTat, &oldTat, &now); err != nil {
		return store.RateDecision{}, store.Unavailable("allow rate", err)
	}
	b := int64(burst)
	if newTat != nil {
		allowAt := *newTat - b*t
		return store.RateDecision{Allowed: true, Remaining: int(max(now-allowAt, 0) / t)}, nil
	}
	tat := now
	if oldTat != nil {
		tat = max(*oldTat, now)
	}
	retry := tat + t - b*t - now
	if retry <= 0 {
		retry = t
	}
	return store.RateDecision{RetryAfter: time.Duration(retry) * time.Microsecond}, nil
}

// Sweep deletes expired nonces and idle rate buckets in batches of
// sweepBatch rows (each batch one statement, through the expires_at and
// tat indexes). It reports how many nonces it deleted.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		c, cancel, err := s.op(ctx)
		if err != nil {
			return total, store.Unavailable("sweep", err)
		}
		tag, err := s.pool.Exec(c, `DELETE FROM a1_nonce WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM a1_nonce WHERE expires_at <= now() LIMIT $1::integer))`, sweepBatch)
		cancel()
		if err != nil {
			return total, store.Unavailable("sweep", err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < sweepBatch {
			break
		}
	}
	for {
		c, cancel, err := s.op(ctx)
		if err != nil {
			return total, store.Unavailable("sweep", err)
		}
		tag, err := s.pool.Exec(c, `DELETE FROM a1_ratelimit WHERE key = ANY (ARRAY(
			SELECT key FROM a1_ratelimit WHERE tat < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
			LIMIT $1::integer))`, sweepBatch)
		cancel()
		if err != nil {
			return total, store.Unavailable("sweep", err)
		}
		if tag.RowsAffected() < sweepBatch {
			return total, nil
		}
	}
}

// Ping runs a query on a pooled connection within the timeout.
func (s *Store) Ping(ctx context.Context) error {
	c, cancel, err := s.op(ctx)
	if err != nil {
		return store.Unavailable("ping", err)
	}
	defer cancel()
	var one int32
	if err := s.pool.QueryRow(c, "SELECT 1").Scan(&one); err != nil {
		return store.Unavailable("ping", err)
	}
	return nil
}
