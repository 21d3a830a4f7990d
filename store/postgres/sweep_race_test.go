package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

// TestSweepKeepsNonceConsumedAgainConcurrently races Sweep against a
// replica consuming an expired nonce again: the sweep's snapshot still sees
// the expired row, the other replica's a1_authorize has already given it a
// new expiry and is about to commit. The sweep must not delete the live
// row (that would make the nonce replayable until its new expiry).
func TestSweepKeepsNonceConsumedAgainConcurrently(t *testing.T) {
	url := dbURL(t)
	s := open(t, postgres.Config{})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tenant := storetest.RandomPrefix()
	defer cleanup(url)(tenant)

	k := storetest.Rand32()
	if _, err := s.Pool().Exec(ctx, `INSERT INTO a1_nonce (tenant, nonce, expires_at) VALUES ($1, $2, now() - interval '1 minute')`, tenant, k[:]); err != nil {
		t.Fatal(err)
	}

	// The other replica: its Authorize statement has run, its commit has
	// not (the WAL flush of a real commit takes this long, briefly).
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	exp := time.Now().Add(time.Hour)
	var r int32
	if err := tx.QueryRow(ctx, `SELECT a1_authorize($1::text, '{}'::bytea[], ARRAY[$2::bytea], ARRAY[$3::timestamptz])`, tenant, k[:], exp).Scan(&r); err != nil || r != 0 {
		t.Fatalf("a1_authorize = %d, %v; want 0", r, err)
	}

	swept := make(chan error, 1)
	go func() {
		_, err := s.Sweep(ctx)
		swept <- err
	}()
	// Wait until the sweep's DELETE waits for the row lock.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM a1_nonce%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep never waited for the row lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-swept; err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	err = s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: k, ExpiresAt: exp}}})
	var re *store.ReplayError
	if !errors.As(err, &re) {
		t.Fatalf("nonce consumed again concurrently with a sweep: Authorize = %v, want a replay", err)
	}
}
