// Package postgres is the PostgreSQL a1 state backend (pgx/v5 pgxpool).
//
// Every operation is one SQL statement and one round trip; Authorize calls
// the a1_authorize function created by the embedded migrations. The backend
// keeps no session state and, by default, uses pgx's "exec" query mode (no
// server-side prepared statements), so it runs unchanged behind PgBouncer
// in transaction pooling mode. A URL's default_query_exec_mode parameter
// (or Config.QueryExecMode) overrides the mode.
//
// Schema changes are numbered SQL files in migrations/, applied by Migrate
// (the CLI's `a1 migrate`, or Config.Migrate at start) under a
// transaction-scoped advisory lock, so concurrent replicas never race.
// Migrations need the schema's owner; the gateway should run as a role
// holding only Grants (no DDL, revocations and audit rows append-only),
// and ExcessPrivileges tells when its credentials allow more (ADR 0013).
package postgres
