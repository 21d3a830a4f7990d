package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/bolt"
	"github.com/a1-go/a1/store/memory"
	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/redis"
)

// The gateway's storage needs, declared by use. Every backend in store/
// implements all of them; the authorize path uses only a1.Consumer (one
// atomic round trip).

// Revoker records and reads revocations.
type Revoker interface {
	Revoke(ctx context.Context, tenant string, revs []store.Revocation) (int, error)
	RevocationStatus(ctx context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error)
	ListRevocations(ctx context.Context, tenant string, p store.Page) ([]store.Revocation, string, error)
}

// RootStore holds trust anchors registered at runtime.
type RootStore interface {
	AddRoot(ctx context.Context, tenant string, r store.Root) error
	RemoveRoot(ctx context.Context, tenant string, pk [32]byte) (bool, error)
	ListRoots(ctx context.Context, tenant string) ([]store.Root, error)
}

// RateLimiter is a shared token bucket.
type RateLimiter interface {
	AllowRate(ctx context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error)
}

// Pinger reports backend liveness.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Sweeper deletes expired nonces. Expired nonces are already free: a
// sweep only returns their space. The gateway runs it in the background
// (sweepEvery) and counts what it removes and how often it fails.
type Sweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// Backend is everything the gateway needs from one storage backend.
type Backend interface {
	a1.Consumer
	Revoker
	RootStore
	RateLimiter
	Pinger
	Sweeper
	Close() error
}

// readiness reports whether a backend is ready to serve (schema migrated).
type readiness func(ctx context.Context) (bool, error)

// boltFile is the embedded store's file name inside A1_DATA_DIR.
const boltFile = "a1.db"

// sweepEvery is how often the gateway sweeps expired nonces on each
// backend: every second on Redis, whose sweeps are small batches keeping
// the server's own expiry work away (ADR 0012), every minute elsewhere.
func sweepEvery(backend string) time.Duration {
	switch backend {
	case StoreRedis:
		return redis.DefaultSweepInterval
	case StorePostgres:
		return postgres.DefaultSweepInterval
	case StoreBolt:
		return bolt.DefaultSweepInterval
	}
	return memory.DefaultSweepInterval
}

// openBackend opens the configured backend. It does not wait for a server
// to be reachable: an unreachable server surfaces as 503 and through
// /healthz, and migrations are retried by the server.
func openBackend(ctx context.Context, c *Config) (Backend, readiness, func(context.Context) error, error) {
	always := func(context.Context) (bool, error) { return true, nil }
	switch c.Store {
	case StoreMemory:
		return memory.New(memory.Options{SweepInterval: -1}), always, nil, nil // swept by the gateway
	case StoreBolt:
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, nil, nil, cfgErr("A1_DATA_DIR", fmt.Sprintf("cannot create %s: %v", c.DataDir, errors.Unwrap(err)), "point A1_DATA_DIR at a writable directory")
		}
		st, err := bolt.Open(filepath.Join(c.DataDir, boltFile), bolt.Options{SweepInterval: -1}) // swept by the gateway
		if err != nil {
			hint := "point A1_DATA_DIR at a writable directory"
			switch {
			case errors.Is(err, bolt.ErrLocked):
				hint = "another gateway process uses this directory: stop it, or give each gateway its own A1_DATA_DIR (bbolt is single-process)"
			case errors.Is(err, bolt.ErrCorrupt):
				hint = "restore a1.db from a backup; removing it starts an empty store that forgets every revocation and consumed nonce"
			}
			return nil, nil, nil, cfgErr("A1_DATA_DIR", fmt.Sprintf("cannot open the embedded store: %v", err), hint)
		}
		return st, always, nil, nil
	case StorePostgres:
		st, err := postgres.Open(ctx, postgres.Config{URL: c.PGURL, Timeout: c.StorageTimeout})
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				return nil, nil, nil, err
			}
			return nil, nil, nil, cfgErr("A1_PG_URL", "cannot be parsed", "use postgres://user:password@host:5432/db?sslmode=verify-full")
		}
		ready := func(ctx context.Context) (bool, error) { return postgres.MigrationsApplied(ctx, st.Pool()) }
		var migrate func(context.Context) error
		if c.Migrate {
			migrate = func(ctx context.Context) error { return postgres.Migrate(ctx, st.Pool()) }
		}
		return st, ready, migrate, nil
	case StoreRedis:
		return openRedis(ctx, c)
	}
	return nil, nil, nil, cfgErr("A1_STORE", "unknown backend", "use memory, bolt, postgres or redis")
}
