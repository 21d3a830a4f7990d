// Package bolt is the embedded a1 state backend: one bbolt file
// (go.etcd.io/bbolt), the gateway's default when neither Redis nor
// PostgreSQL is configured (the file lives in A1_DATA_DIR). Revocations,
// roots and consumed nonces survive a restart; every write is fsynced
// before Authorize returns. Concurrent authorizations share write
// transactions (group commit): one that finds no transaction running
// commits at once, those arriving meanwhile commit together next, so one
// fsync serves many requests without delaying a lone one.
//
// The file is locked by one process at a time: run one gateway per file
// (a second Open fails with ErrLocked). A new file is built aside and
// linked into place complete; an existing file that is empty, truncated or
// not a bbolt file is refused with ErrCorrupt, never reinitialized (which
// would forget every revocation and consumed nonce). Rate limiting is
// in-process (one node).
//
// Layout (bucket → key → value):
//
//	rev    / "t:"+tenant / fingerprint          → revokedAt(8) | len(reason)(2) | reason | actor
//	nonce  / "t:"+tenant / nonce key            → expiresAt unix ns (8)
//	expiry / expiresAt(8) | len(tenant)(1) | tenant | nonce key → ""   (sweep index)
//	root   / "t:"+tenant / public key           → addedAt(8) | len(label)(2) | label | addedBy
package bolt
