// Package pgsink is an audit sink writing to the PostgreSQL table a1_audit
// (created by the store/postgres migrations):
//
//	CREATE TABLE a1_audit (stream_id text NOT NULL, seq bigint NOT NULL,
//	  event_id text NOT NULL, ts timestamptz NOT NULL, decision text NOT NULL,
//	  error_code text, tenant text NOT NULL DEFAULT '', event jsonb NOT NULL,
//	  digest bytea NOT NULL, PRIMARY KEY (stream_id, seq));
//
// Each batch is one INSERT … SELECT FROM unnest(…) statement, executed with
// pgx's QueryExecModeExec (no named prepared statements, so it is safe
// behind PgBouncer in transaction pooling mode). ON CONFLICT DO NOTHING on
// the primary key makes a retried batch idempotent. The column "event" is
// jsonb and so does not preserve the exact line; the digest is recomputed
// from the NDJSON file, not from the table.
package pgsink

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/a1-go/a1/audit"
)

// Table is the table the sink writes.
const Table = "a1_audit"

// DDL is the table definition (owned by the store/postgres migrations;
// exported for tests and for deployments that create it by hand).
const DDL = `CREATE TABLE IF NOT EXISTS a1_audit (
  stream_id text NOT NULL, seq bigint NOT NULL, event_id text NOT NULL,
  ts timestamptz NOT NULL, decision text NOT NULL, error_code text,
  tenant text NOT NULL DEFAULT '', event jsonb NOT NULL, digest bytea NOT NULL,
  PRIMARY KEY (stream_id, seq))`

const insertSQL = `INSERT INTO a1_audit (stream_id, seq, event_id, ts, decision, error_code, tenant, event, digest)
SELECT s, q, i, t, d, NULLIF(c, ''), n, e::jsonb, g
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[])
  AS x(s, q, i, t, d, c, n, e, g)
ON CONFLICT (stream_id, seq) DO NOTHING`

// Execer is what the sink needs from a pool or connection
// (*pgxpool.Pool and *pgx.Conn both satisfy it).
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// New returns the asynchronous PostgreSQL sink.
func New(db Execer, opts audit.AsyncOptions) (*audit.Async, error) {
	if db == nil {
		return nil, errors.New("pgsink: no database")
	}
	if opts.Name == "" {
		opts.Name = "postgres"
	}
	return audit.NewAsync(&sender{db: db}, opts), nil
}

type sender struct{ db Execer }

// Encode checks one record on its own, so that an event the table cannot
// hold is dropped alone (reason encode) rather than failing its whole batch,
// and returns the text of its jsonb value (see jsonbText).
func (s *sender) Encode(r audit.Record) ([]byte, error) {
	if _, err := time.Parse(time.RFC3339Nano, r.Event.Time); err != nil {
		return nil, fmt.Errorf("pgsink: event time: %w", err)
	}
	if _, err := hex.DecodeString(r.Event.Digest); err != nil {
		return nil, fmt.Errorf("pgsink: digest: %w", err)
	}
	return jsonbText(r.Line), nil
}

// jsonbText returns line with every \u0000 escape replaced by \ufffd.
// PostgreSQL rejects \u0000 in jsonb (and NUL in text) with SQLSTATE 22P05,
// a permanent error for the whole batch; yet a NUL is valid in a JSON string
// and may come from a client (an intent name). The table is not the
// verification source (jsonb does not keep the bytes), so the substitution
// costs nothing. line is valid JSON from encoding/json: a backslash always
// starts an escape, so \\u0000 (an escaped backslash, then "u0000") is
// left alone.
func jsonbText(line []byte) []byte {
	if !bytes.Contains(line, []byte(`\u0000`)) {
		return line
	}
	out := make([]byte, 0, len(line))
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '\\' || i+1 >= len(line) {
			out = append(out, c)
			continue
		}
		if bytes.HasPrefix(line[i+1:], []byte("u0000")) {
			out = append(out, `\ufffd`...)
			i += 5
			continue
		}
		out = append(out, c, line[i+1])
		i++
	}
	return out
}

// textValue replaces NUL characters, which PostgreSQL text cannot hold.
func textValue(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// Send inserts one batch in a single statement.
func (s *sender) Send(ctx context.Context, batch []audit.Entry) error {
	n := len(batch)
	streams, ids, decisions, codes, tenants, events := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, ts, digests := make([]int64, n), make([]time.Time, n), make([][]byte, n)
	for i, e := range batch {
		ev := e.Record.Event
		t, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			return fmt.Errorf("pgsink: event time: %w: %w", err, audit.ErrPermanent)
		}
		d, err := hex.DecodeString(ev.Digest)
		if err != nil {
			return fmt.Errorf("pgsink: digest: %w: %w", err, audit.ErrPermanent)
		}
		streams[i], seqs[i], ids[i], ts[i] = textValue(ev.Stream), int64(ev.Seq), textValue(ev.ID), t
		decisions[i], codes[i], tenants[i] = textValue(ev.Decision), textValue(ev.ErrorCode), textValue(ev.Tenant)
		data := e.Data
		if data == nil {
			data = e.Record.Line
		}
		events[i], digests[i] = string(jsonbText(data)), d
	}
	_, err := s.db.Exec(ctx, insertSQL, pgx.QueryExecModeExec,
		streams, seqs, ids, ts, decisions, codes, tenants, events, digests)
	if err != nil {
		return classify(err)
	}
	return nil
}

// classify makes data and schema errors permanent; connection loss,
// timeouts and server-side transient errors are retried.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) >= 2 {
		switch pe.Code[:2] {
		// connection, transaction state (25006: a read-only standby during
		// a failover), rollback, resources, object state (55P03: lock not
		// available), operator, system. Retries are bounded anyway.
		case "08", "25", "40", "53", "55", "57", "58":
			return fmt.Errorf("pgsink: insert: %w", err)
		default: // 22 data, 23 constraint, 42 syntax/undefined table/privilege, …
			return fmt.Errorf("pgsink: insert: %w: %w", err, audit.ErrPermanent)
		}
	}
	return fmt.Errorf("pgsink: insert: %w", err)
}
