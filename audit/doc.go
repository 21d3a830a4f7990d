// Package audit is a1's tamper-evident audit trail.
//
// Every authorization decision and every admin action becomes one [Event]:
// a versioned, flat JSON object written as one NDJSON line. An [Emitter]
// seals each event into a per-process hash chain (stream, seq, prev, digest)
// and hands it to one or more [Sink]s. Optionally it inserts signed
// checkpoint events so that a third party holding only the gateway's audit
// public key can check a file without trusting the log pipeline.
//
// # Hot path
//
// [Emitter.Emit] never blocks on I/O. Sealing costs one JSON encoding and one
// BLAKE3 hash, of which only the hash and a few appends run under a mutex.
// Every sink is asynchronous ([Async]): a bounded queue, batching by count,
// bytes and time, retry with exponential backoff and jitter, Retry-After
// honoured. When a queue is full the event is dropped for that sink and
// counted (a1_audit_events_dropped_total): delivery is at most once under
// overload, and a slow or dead SIEM never slows authorization.
//
// # Verification
//
// [Verify] and [VerifyFiles] check NDJSON files end to end: digests, prev
// links, gaps, reordering, duplicates, truncation and checkpoint signatures,
// reporting each problem with its line number.
//
// The digest and checkpoint constructions are specified in docs/audit.md.
// Sinks live in subpackages: audit/ndjson (stdout and rotated files),
// audit/pgsink (PostgreSQL), audit/datadog, audit/splunk; audit/sinks builds
// them from an A1_AUDIT_SINKS specification.
package audit
