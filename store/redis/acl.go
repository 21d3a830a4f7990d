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
