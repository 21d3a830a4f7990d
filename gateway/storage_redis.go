package gateway

import (
	"context"

	"github.com/a1-go/a1/store/redis"
)

func openRedis(_ context.Context, c *Config) (Backend, readiness, func(context.Context) error, error) {
	st, err := redis.Open(c.RedisURL, redis.Options{Timeout: c.StorageTimeout})
	if err != nil {
		return nil, nil, nil, cfgErr("A1_REDIS_URL", "cannot be parsed", "use redis://[user:pass@]host:6379/0 (rediss:// for TLS)")
	}
	always := func(context.Context) (bool, error) { return true, nil }
	return st, always, nil, nil
}
