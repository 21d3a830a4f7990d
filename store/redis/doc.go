// Package redis is the Redis a1 state backend (github.com/redis/go-redis/v9).
//
// One redis.UniversalClient serves a standalone server, a Sentinel-managed
// primary and a Redis Cluster. Authorize is one Lua script (EVALSHA,
// falling back to EVAL once per server): revocation check, replay check and
// consumption happen atomically in one round trip. A consumed nonce is a
// member of its tenant's nonce index scored with its own ExpiresAt (unix
// ms), never kept for a fixed period: a member whose score has passed is
// free again. A background sweeper (Options.SweepInterval; the gateway
// runs it every second) removes expired members a few hundred at a time,
// so Redis never spends milliseconds expiring nonces in one go (ADR 0012).
// Requires Redis 6.2 or newer.
//
// # Key layout
//
// Every key of one tenant carries the hash tag {t:<tenant>}, so in a
// cluster one tenant's state lives in one slot and a multi-key script
// never crosses slots; capacity scales by tenant, not within one:
//
//	a1:{t:<tenant>}:rev:<hex fp>   hash   r=reason a=actor t=revokedAt(unix ns)   no TTL
//	a1:{t:<tenant>}:revidx          zset   member <hex fp>, score 0 (lexicographic listing)
//	a1:{t:<tenant>}:nz              zset   member <32 raw nonce bytes>, score ExpiresAt (unix ms);
//	                                       the key expires NonceIndexGrace after its latest member
//	a1:{t:<tenant>}:n:<hex nonce>  string "1" expiring at ExpiresAt: written before ADR 0012, still
//	                                       read (a nonce consumed before an upgrade stays consumed)
//	a1:{t:<tenant>}:roots           hash   <hex pk> → JSON {label, added_by, added_at}
//	a1:nztenants                    set    tenants with a nonce index, for every replica's sweeper
//	a1:rl:<key>                     string GCRA theoretical arrival time (µs, server clock)
//
// # Durability
//
// Redis acknowledges writes before they reach disk unless configured
// otherwise. A server restart without persistence forgets revocations and
// consumed nonces: revoked certificates become valid again and consumed
// nonces can be replayed until they expire. Run with appendonly yes and
// appendfsync everysec (at most ~1 s of writes lost) or always, plus
// replicas; see docs/storage.md.
//
// # Credentials
//
// ACLRule is the least-privilege ACL rule for a Store (its key prefix, no
// channels, exactly the commands it sends); ExcessPrivileges reports a
// Store connected as the default user instead (ADR 0013).
package redis
