package pgsink

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
)

// The server drops the sink's connections (a restart, a failover,
// pg_terminate_backend): the batch is retried on a new connection and
// nothing is lost or duplicated.
func TestPostgresConnectionDropped(t *testing.T) {
	pool := testPool(t)
	m, _ := audit.NewMetrics(prometheus.NewRegistry())
	sink, err := New(pool, audit.AsyncOptions{MaxBatch: 5, FlushInterval: 10 * time.Millisecond,
		BackoffBase: 10 * time.Millisecond, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	em, _ := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}})
	emit := func(n int) {
		for range n {
			em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow})
		}
	}
	sent := func() float64 { return testutil.ToFloat64(m.Sent.WithLabelValues("postgres")) }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	emit(10)
	for sent() < 10 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	// Kill every backend of this pool (they hold the private search_path).
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND datname = current_database() AND query LIKE '%a1_audit%'`); err != nil {
		t.Fatal(err)
	}
	killed := pool.Stat().TotalConns()
	emit(10)
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM a1_audit WHERE stream_id = $1", em.Stream()).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if sent() != 20 || rows != 20 {
		t.Fatalf("sent %v, rows %d, want 20 (connections before the kill: %d, dropped permanent %v)", sent(), rows, killed,
			testutil.ToFloat64(m.Dropped.WithLabelValues("postgres", audit.DropPermanent)))
	}
}

// SQLSTATEs that a failover or contention produce are retried; data and
// schema errors are not.
func TestClassify(t *testing.T) {
	for code, permanent := range map[string]bool{
		"08006": false, // connection failure
		"25006": false, // read-only transaction: connected to a standby during a failover
		"40001": false, // serialization failure
		"53300": false, // too many connections
		"55P03": false, // lock not available
		"57P01": false, // admin shutdown
		"22P05": true,  // untranslatable character
		"23502": true,  // not null violation
		"42P01": true,  // undefined table
		"42501": true,  // insufficient privilege
	} {
		err := classify(&pgconn.PgError{Code: code})
		if errors.Is(err, audit.ErrPermanent) != permanent {
			t.Errorf("%s: permanent = %v, want %v", code, !permanent, permanent)
		}
	}
}
