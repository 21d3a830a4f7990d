package redis

import (
	"context"
	"strings"

	"github.com/a1-go/a1/store"
)

// aclCommands are the commands a Store sends, directly or from its
// scripts (Redis checks both against the user's ACL), and those go-redis
// sends on each new connection.
var aclCommands = []string{
	// connection setup (go-redis: RESP3 handshake; its CLIENT SETINFO may
	// be refused, go-redis ignores that)
	"hello", "ping",
	// scripts (EVALSHA, then EVAL once when the server lacks the script)
	"evalsha", "eval",
	// inside the scripts
	"time", "exists", "get", "set", "hset", "hexists", "hlen",
	"zadd", "zscore", "zcount", "zremrangebyrank", "zremrangebyscore", "pttl", "pexpireat",
	// sent directly
	"hmget", "hdel", "hgetall", "zrange", "sadd", "srandmember", "srem",
	// the start-up check of the eviction policy (CheckServer)
	"info",
	// Redis Cluster topology (cluster clients only; go-redis reads it with
	// CLUSTER SLOTS)
	"cluster|slots",
}

// ACLRule returns a least-privilege Redis ACL rule for a Store using key
// prefix (DefaultPrefix when empty): the store's keys only, no pub/sub
// channels, and exactly the commands it sends. Use it as
//
//	ACL SETUSER a1-gateway on >PASSWORD <rule>
//
// and put the user and password in the store's URL
// (redis://a1-gateway:PASSWORD@host:6379/0). docs/storage.md prints the
// rule for the default prefix; a test runs the contract suite as such a
// user.
func ACLRule(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var b strings.Builder
	b.WriteString("resetkeys ~" + prefix + ":* resetchannels -@all")
	for _, c := range aclCommands {
		b.WriteString(" +" + c)
	}
	return b.String()
}

// ExcessPrivileges reports when the store connects as Redis's default
// user, which (unless an operator narrowed it) may run every command on
// every key: FLUSHALL, CONFIG, deleting revocations. A user limited by
// ACLRule is refused ACL WHOAMI, which is itself the sign of a narrowed
// user, and gets none. The gateway logs the result once at start.
func (s *Store) ExcessPrivileges(ctx context.Context) ([]string, error) {
	c, cancel := s.op(ctx)
	defer cancel()
	who, err := s.c.Do(c, "ACL", "WHOAMI").Text()
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "NOPERM"):
		return nil, nil
	case err != nil:
		return nil, store.Unavailable("privileges", err)
	case who == "default":
		return []string{"connects as the default user (every command on every key unless narrowed)"}, nil
	}
	return nil, nil
}

// CheckServer reports server settings under which Redis may lose the
// store's state on its own. Today: a maxmemory-policy other than
// noeviction, under which Redis deletes keys when memory runs short:
// allkeys-* policies can evict revocations (un-revoking certificates),
// and volatile-* ones the nonce indexes, which carry a TTL (reopening
// replays). With noeviction a full Redis refuses writes instead, and the
// gateway fails closed (503). The gateway logs the result once at start.
func (s *Store) CheckServer(ctx context.Context) ([]string, error) {
	c, cancel := s.op(ctx)
	defer cancel()
	info, err := s.c.Info(c, "memory").Result()
	if err != nil {
		return nil, store.Unavailable("check server", err)
	}
	policy, maxmem := infoField(info, "maxmemory_policy"), infoField(info, "maxmemory")
	if policy == "" || policy == "noeviction" {
		return nil, nil
	}
	return []string{"maxmemory-policy is " + policy + " (maxmemory " + maxmem + " bytes): when memory runs short Redis deletes keys, which can un-revoke certificates or reopen replays"}, nil
}

// infoField returns the value of one "name:value" line of an INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
