package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// script is a Lua script run with EVALSHA, falling back to EVAL once the
// server answers NOSCRIPT (after a restart, a failover or SCRIPT FLUSH).
type script struct {
	src  string
	hash string
}

func newScript(src string) *script {
	return &script{src: src, hash: goredis.NewScript(src).Hash()}
}

// noRetryCmd marks a command that the client must never send twice. The
// cluster client retries a command whose connection failed (EOF, reset)
// whatever MaxRetries says (up to MaxRedirects times); a script that had
// run before the reply was lost would then run again, and a retried
// Authorize answers "replay" to the request that consumed the nonce.
// MOVED and ASK redirections, which mean the script did not run, are still
// followed.
type noRetryCmd struct{ *goredis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

// run runs sc once: EVALSHA, then EVAL if the server does not know the
// script (a NOSCRIPT answer means it did not run).
func (sc *script) run(ctx context.Context, c goredis.UniversalClient, keys []string, args ...any) *goredis.Cmd {
	cmd := sc.send(ctx, c, "evalsha", sc.hash, keys, args)
	if err := cmd.Err(); err != nil && (err == goredis.ErrNoScript || goredis.HasErrorPrefix(err, "NOSCRIPT")) {
		cmd = sc.send(ctx, c, "eval", sc.src, keys, args)
	}
	return cmd
}

func (sc *script) send(ctx context.Context, c goredis.UniversalClient, name, payload string, keys []string, args []any) *goredis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, name, payload, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	a = append(a, args...)
	cmd := goredis.NewCmd(ctx, a...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3)
	}
	_ = c.Process(ctx, noRetryCmd{cmd})
	return cmd
}

// authorizeScript: KEYS = nf revocation keys, then the tenant's nonce
// index (a sorted set: member = raw nonce, score = expiry in unix ms),
// then one legacy nonce key per nonce (the layout before ADR 0012: a
// string key expiring at the nonce's expiry). ARGV[1] = nf, ARGV[2] =
// the index's grace (ms), then per nonce its member and its expiry in
// unix ms. Returns i (1-based) for the
// lowest revoked fingerprint, -i for the lowest consumed or repeated
// nonce, 0 after consuming every nonce.
//
// A member whose score is <= now is expired: it is free again whether or
// not the sweeper has removed it yet. The index itself expires a grace
// period after its latest member, so a tenant no process sweeps leaves
// nothing behind, while running sweepers normally empty it first.
var authorizeScript = newScript(`
if redis.replicate_commands then redis.replicate_commands() end
local nf = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
for i = 1, nf do
  if redis.call('EXISTS', KEYS[i]) == 1 then return i end
end
local idx = KEYS[nf + 1]
local nn = #KEYS - nf - 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen = {}
for i = 1, nn do
  local m = ARGV[2 * i + 1]
  if seen[m] then return -i end
  seen[m] = true
  local s = redis.call('ZSCORE', idx, m)
  if s and tonumber(s) > now then return -i end
  if redis.call('EXISTS', KEYS[nf + 1 + i]) == 1 then return -i end
end
local last = 0
for i = 1, nn do
  local exp = tonumber(ARGV[2 * i + 2])
  if exp > now then
    redis.call('ZADD', idx, exp, ARGV[2 * i + 1])
    if exp > last then last = exp end
  end
end
if last > 0 then
  last = last + grace
  local ttl = redis.call('PTTL', idx)
  if ttl < 0 or now + ttl < last then redis.call('PEXPIREAT', idx, last) end
end
return 0
`)

// sweepScript: KEYS[1] = a nonce index; ARGV[1] = batch size. Removes at
// most one batch of expired members (score <= now, server clock) and
// returns how many it removed, or -1 when the index does not exist. Members are ordered by score, so when more
// than a batch has expired the lowest-ranked batch is exactly a batch of
// expired members. A nonce consumed again after it expired carries its
// new expiry and is never removed early.
var sweepScript = newScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local batch = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = redis.call('ZCOUNT', KEYS[1], '-inf', now)
if n == 0 then return 0 end
if n > batch then
  return redis.call('ZREMRANGEBYRANK', KEYS[1], 0, batch - 1)
end
return redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
`)

// revokeScript: KEYS[1] = the revocation index, KEYS[2..] = revocation
// keys; ARGV = (hex, reason, actor, revokedAt) per key. Returns how many
// were new; existing records are kept.
var revokeScript = newScript(`
local added = 0
for i = 2, #KEYS do
  local j = (i - 2) * 4
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'r', ARGV[j + 2], 'a', ARGV[j + 3], 't', ARGV[j + 4])
    redis.call('ZADD', KEYS[1], 0, ARGV[j + 1])
    added = added + 1
  end
end
return added
`)

// addRootScript: KEYS[1] = the roots hash; ARGV = hex pk, record, limit.
// Returns 1, or 0 when the tenant is at the limit.
var addRootScript = newScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// rateScript: one GCRA step on the server clock. KEYS[1] = bucket;
// ARGV = emission interval (µs), burst. Returns {allowed, retry µs,
// remaining}.
var rateScript = newScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local iv = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nxt = tat + iv
local allow_at = nxt - burst * iv
if now < allow_at then
  return {0, allow_at - now, 0}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, 0, math.floor((now - allow_at) / iv)}
`)
