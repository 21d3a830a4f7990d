package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/a1-go/a1/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockID is the advisory lock key serialising migrations
// (the bytes "a1migrat" as a big-endian int64).
const migrationLockID = 0x61316d6967726174

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("postgres: bad migration file name %q", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("postgres: migration %d missing", i+1)
		}
	}
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS a1_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())`

// Migrate applies every embedded migration not yet recorded in
// a1_schema_migrations, all in one transaction that holds a
// transaction-scoped advisory lock (so it is safe from several replicas at
// once, and through PgBouncer in transaction mode). Each file is sent as
// one simple-protocol message. On an up-to-date schema it changes nothing
// and sends no DDL, so a role without CREATE rights (Grants) may call it.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	if ok, err := MigrationsApplied(ctx, pool); err == nil && ok {
		return nil
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::bigint)", int64(migrationLockID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return err
		}
		applied := map[int]bool{}
		rows, err := tx.Query(ctx, "SELECT version FROM a1_schema_migrations")
		if err != nil {
			return err
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		for _, v := range vs {
			applied[int(v)] = true
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO a1_schema_migrations (version, name) VALUES ($1::integer, $2::text)", m.Version, m.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Unavailable("migrate", err)
	}
	return nil
}

// MigrationsApplied reports whether every embedded migration is recorded
// (a readiness check: the gateway must not serve on an old schema).
func MigrationsApplied(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	ms, err := Migrations()
	if err != nil {
		return false, err
	}
	var n int64
	err = pool.QueryRow(ctx, "SELECT count(*) FROM a1_schema_migrations WHERE version <= $1::integer", len(ms)).Scan(&n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never migrated
		return false, nil
	}
	if err != nil {
		return false, store.Unavailable("migrations applied", err)
	}
	return n == int64(len(ms)), nil
}
