package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

// testDB is the database the store tests use: separate from the shared
// "test" database so that our migrations never collide with other
// packages' tables.
const testDB = "a1_store_test"

var (
	setupOnce sync.Once
	setupURL  string
	setupErr  error
)

func baseURL() string {
	if u := os.Getenv("A1_TEST_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// dbURL returns the URL of the store test database, creating and
// migrating it once per process; it skips (or fails under
// A1_REQUIRE_SERVICES=1) when PostgreSQL is unreachable.
func dbURL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		base := baseURL()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			setupErr = err
			return
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE DATABASE "+testDB)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505")) {
			setupErr = err
			return
		}
		u, err := url.Parse(base)
		if err != nil {
			setupErr = err
			return
		}
		u.Path = "/" + testDB
		s, err := postgres.Open(ctx, postgres.Config{URL: u.String(), Migrate: true})
		if err != nil {
			setupErr = err
			return
		}
		s.Close()
		setupURL = u.String()
	})
	if setupErr != nil {
		storetest.SkipOrFail(t, "postgres unavailable: %v", setupErr)
	}
	return setupURL
}

func open(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = dbURL(t)
	}
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cleanup(url string) func(prefix string) {
	return func(prefix string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		like := strings.NewReplacer("_", `\_`, "%", `\%`).Replace(prefix) + "%"
		for _, q := range []string{
			"DELETE FROM a1_revocation WHERE tenant LIKE $1",
			"DELETE FROM a1_nonce WHERE tenant LIKE $1",
			"DELETE FROM a1_root WHERE tenant LIKE $1",
			"DELETE FROM a1_ratelimit WHERE key LIKE $1",
		} {
			_, _ = conn.Exec(ctx, q, like)
		}
	}
}

func contract(t *testing.T, url, cleanupURL string) {
	storetest.Run(t, storetest.Config{
		Open: func(t *testing.T, _ *storetest.FakeClock) storetest.Backend {
			return open(t, postgres.Config{URL: url})
		},
		RealTime: true,
		Shared:   true,
		Reopen: func(t *testing.T, b storetest.Backend, _ *storetest.FakeClock) storetest.Backend {
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, postgres.Config{URL: url})
		},
		Cleanup: cleanup(cleanupURL),
	})
}

func TestContract(t *testing.T) { contract(t, dbURL(t), dbURL(t)) }

// TestContractCacheStatement runs the suite in pgx's default (prepared
// statement) mode too, the fastest mode for direct connections.
func TestContractCacheStatement(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	contract(t, dbURL(t)+"&default_query_exec_mode=cache_statement", dbURL(t))
}

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	s := open(t, postgres.Config{})
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = postgres.Migrate(ctx, s.Pool())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ok, err := postgres.MigrationsApplied(ctx, s.Pool())
	if err != nil || !ok {
		t.Fatalf("MigrationsApplied = %v, %v", ok, err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM a1_schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	ms, _ := postgres.Migrations()
	if n != len(ms) {
		t.Fatalf("%d recorded migrations, want %d", n, len(ms))
	}
	// The audit table exists with its primary key.
	if _, err := s.Pool().Exec(ctx, "SELECT stream_id, seq, event_id, ts, decision, error_code, tenant, event, digest FROM a1_audit LIMIT 0"); err != nil {
		t.Fatalf("a1_audit: %v", err)
	}
}

func TestMigrationsAppliedFalseOnEmptyDB(t *testing.T) {
	// The shared base database may or may not be migrated; use a fresh
	// schema by pointing search_path at an empty one.
	base := dbURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := "empty_" + strings.TrimSuffix(storetest.RandomPrefix(), "-")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	s := open(t, postgres.Config{URL: base + "&search_path=" + schema})
	defer s.Close()
	ok, err := postgres.MigrationsApplied(ctx, s.Pool())
	if err != nil || ok {
		t.Fatalf("MigrationsApplied on an empty schema = %v, %v; want false, nil", ok, err)
	}
}

func TestBackgroundSweeper(t *testing.T) {
	s := open(t, postgres.Config{SweepInterval: 10 * time.Millisecond})
	ctx := context.Background()
	tenant := storetest.RandomPrefix()
	defer cleanup(dbURL(t))(tenant)
	k := storetest.Rand32()
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: k, ExpiresAt: time.Now().Add(200 * time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM a1_nonce WHERE tenant = $1", tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background sweeper did not delete the expired nonce")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownExecMode(t *testing.T) {
	_, err := postgres.Open(context.Background(), postgres.Config{URL: "postgres://x@127.0.0.1:1/db", QueryExecMode: "bogus"})
	if err == nil {
		t.Fatal("bogus exec mode accepted")
	}
}

// queryCounter is a pgx tracer counting statements sent (round trips).
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}
func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestAuthorizeIsOneRoundTrip(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol", "cache_statement"} {
		t.Run(mode, func(t *testing.T) {
			qc := &queryCounter{}
			s := open(t, postgres.Config{QueryExecMode: mode, Tracer: qc})
			defer s.Close()
			tenant := storetest.RandomPrefix()
			defer cleanup(dbURL(t))(tenant)
			// The warm-up call fills the pool (and prepares the statement
			// in cache_statement mode); a statement is a round trip.
			storetest.CheckAuthorizeOneRoundTrip(t, s, tenant, qc.n.Load)
		})
	}
}

func TestOutage(t *testing.T) {
	base := dbURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	storetest.RunOutage(t, storetest.OutageConfig{
		Target:  u.Host,
		Timeout: timeout,
		Open: func(t *testing.T, addr string) storetest.Backend {
			v := *u
			v.Host = addr
			return open(t, postgres.Config{URL: v.String(), Timeout: timeout})
		},
		Cleanup: cleanup(base),
	})
}
