package postgres

import "github.com/jackc/pgx/v5"

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
