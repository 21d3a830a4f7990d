package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/a1-go/a1/store"
)

// Grants returns the statements giving role what a gateway needs on a
// migrated schema, and nothing more: no DDL (migrations run as the
// schema's owner, `a1 migrate`), revocations and the audit table
// append-only (a compromised gateway can add revocations and audit rows
// but cannot delete or rewrite them), nonces, roots and rate buckets
// read-write. Run them as the owner after migrating; docs/storage.md
// prints them for the role a1_gateway and a test runs the store contract
// suite and the audit sink as such a role.
func Grants(role string) []string {
	r := pgx.Identifier{role}.Sanitize()
	return []string{
		"GRANT SELECT ON a1_schema_migrations TO " + r,
		"GRANT SELECT, INSERT ON a1_revocation TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON a1_nonce TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON a1_root TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON a1_ratelimit TO " + r,
		"GRANT INSERT, SELECT (stream_id, seq) ON a1_audit TO " + r, // ON CONFLICT (stream_id, seq) reads the key
		"GRANT EXECUTE ON FUNCTION a1_authorize(text, bytea[], bytea[], timestamptz[]) TO " + r,
	}
}

// excessSQL reads the privileges beyond Grants that matter most: each
// lets a compromised gateway undo what an auditor relies on.
const excessSQL = `SELECT
  coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
  has_schema_privilege(current_schema(), 'CREATE'),
  has_table_privilege('a1_revocation', 'UPDATE') OR has_table_privilege('a1_revocation', 'DELETE'),
  has_table_privilege('a1_audit', 'UPDATE') OR has_table_privilege('a1_audit', 'DELETE')
    OR has_column_privilege('a1_audit', 'event', 'SELECT')`

// ExcessPrivileges lists what the store's own credentials may do beyond
// Grants on a migrated schema: superuser, creating objects (DDL),
// rewriting or deleting revocations, rewriting, deleting or reading audit
// rows. The gateway logs them once at start; a role set up with Grants
// has none.
func (s *Store) ExcessPrivileges(ctx context.Context) ([]string, error) {
	c, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var super, ddl, revs, audit bool
	if err := s.pool.QueryRow(c, excessSQL).Scan(&super, &ddl, &revs, &audit); err != nil {
		return nil, store.Unavailable("privileges", err)
	}
	var out []string
	for _, x := range []struct {
		has  bool
		what string
	}{
		{super, "superuser"},
		{ddl, "may create objects in the schema (DDL)"},
		{revs, "may update or delete revocations"},
		{audit, "may update, delete or read audit rows"},
	} {
		if x.has {
			out = append(out, x.what)
		}
	}
	return out, nil
}

// CheckServer reports server settings under which PostgreSQL may lose
// revocations or consumed nonces that it acknowledged: fsync off (a crash
// can lose or corrupt them) and synchronous_commit off for this session
// (a crash loses the last few hundred milliseconds of commits: their
// nonces become replayable, their revocations undone). The gateway logs
// the result once at start.
func (s *Store) CheckServer(ctx context.Context) ([]string, error) {
	c, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var fsync, syncCommit string
	if err := s.pool.QueryRow(c, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit); err != nil {
		return nil, store.Unavailable("check server", err)
	}
	var out []string
	if fsync == "off" {
		out = append(out, "fsync is off: a crash can lose or corrupt revocations and consumed nonces")
	}
	if syncCommit == "off" {
		out = append(out, "synchronous_commit is off: a crash loses the last commits (their nonces become replayable, their revocations undone)")
	}
	return out, nil
}
