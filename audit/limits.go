package audit

import "time"

// Limits. Every bound of the package is here.
const (
	// MaxFieldBytes bounds each string field of an Event; longer values are
	// truncated at a UTF-8 boundary when the event is sealed.
	MaxFieldBytes = 1024
	// MaxLineBytes bounds one NDJSON line accepted by Verify.
	MaxLineBytes = 64 << 10

	// DefaultQueueSize is the per-sink queue length (events).
	DefaultQueueSize = 10000
	// DefaultMaxBatch is the default number of events per delivery.
	DefaultMaxBatch = 500
	// DefaultMaxBatchBytes bounds the encoded size of one delivery.
	DefaultMaxBatchBytes = 1 << 20
	// DefaultMaxEntryBytes bounds one encoded entry; larger ones are dropped.
	DefaultMaxEntryBytes = 256 << 10
	// DefaultFlushInterval is the longest an event waits in a partial batch.
	DefaultFlushInterval = time.Second
	// DefaultMaxAttempts is the number of delivery attempts per batch.
	DefaultMaxAttempts = 8
	// DefaultBackoffBase and DefaultBackoffMax bound the exponential backoff.
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
	// MaxRetryAfter caps a server's Retry-After.
	MaxRetryAfter = 5 * time.Minute
	// DefaultSendTimeout bounds one delivery attempt.
	DefaultSendTimeout = 10 * time.Second

	// verifyWindow is how many recent (seq, digest) pairs Verify keeps per
	// stream to name duplicates and check checkpoint heads.
	verifyWindow = 1 << 16
	// maxStreams bounds the number of streams Verify tracks.
	maxStreams = 1 << 12
	// maxStreamIDBytes bounds a stream id accepted by Verify (the emitter's
	// are 36-byte UUIDs).
	maxStreamIDBytes = 128
	// maxProblems bounds the problems listed in a Report.
	maxProblems = 10000
)
