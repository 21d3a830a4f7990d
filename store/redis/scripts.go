package redis

import goredis "github.com/redis/go-redis/v9"

// authorizeScript: KEYS = nf revocation keys, then the nonce keys; ARGV[1]
// = nf, ARGV[2..] = each nonce's expiry in unix ms. Returns i (1-based)
// for the lowest revoked fingerprint, -i for the lowest consumed or
// repeated nonce, 0 after consuming every nonce.
var authorizeScript = goredis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local nf = tonumber(ARGV[1])
for i = 1, nf do
  if redis.call('EXISTS', KEYS[i]) == 1 then return i end
end
local seen = {}
for i = nf + 1, #KEYS do
  local k = KEYS[i]
  if seen[k] or redis.call('EXISTS', k) == 1 then return -(i - nf) end
  seen[k] = true
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = nf + 1, #KEYS do
  local exp = tonumber(ARGV[i - nf + 1])
  if exp > now then
    redis.call('SET', KEYS[i], '1', 'PXAT', ARGV[i - nf + 1])
  end
end
return 0
`)

// revokeScript: KEYS[1] = the revocation index, KEYS[2..] = revocation
// keys; ARGV = (hex, reason, actor, revokedAt) per key. Returns how many
// were new; existing records are kept.
var revokeScript = goredis.NewScript(`
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
var addRootScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// rateScript: one GCRA step on the server clock. KEYS[1] = bucket;
// ARGV = emission interval (µs), burst. Returns {allowed, retry µs,
// remaining}.
var rateScript = goredis.NewScript(`
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
