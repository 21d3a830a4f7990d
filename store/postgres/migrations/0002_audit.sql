-- 0002: the audit table the PostgreSQL audit sink writes to (one row per
-- event; digest chains the events of one stream).
CREATE TABLE a1_audit (stream_id text NOT NULL, seq bigint NOT NULL, event_id text NOT NULL, ts timestamptz NOT NULL, decision text NOT NULL, error_code text, tenant text NOT NULL DEFAULT '', event jsonb NOT NULL, digest bytea NOT NULL, PRIMARY KEY (stream_id, seq));
CREATE INDEX a1_audit_ts ON a1_audit (ts);
