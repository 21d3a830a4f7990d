package gateway_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/redis"
)

const excessWarning = "the storage credentials allow more than the gateway needs"

// TestExcessPrivilegesWarning: a gateway on over-privileged storage
// credentials (PostgreSQL superuser, Redis default user) says so once at
// start with a hint; on least-privilege credentials (postgres.Grants,
// redis.ACLRule) it says nothing.
func TestExcessPrivilegesWarning(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		owner := pgURL(t)
		env := baseEnv(t)
		env["A1_STORE"], env["A1_PG_URL"], env["A1_MIGRATE"] = "postgres", owner, "true"
		g := startGateway(t, env)
		waitFor(t, 5*time.Second, "the excess-privileges warning", func() bool {
			return strings.Contains(g.stderr.String(), excessWarning)
		})
		if log := g.stderr.String(); !strings.Contains(log, "superuser") || !strings.Contains(log, "a1 migrate --grant") {
			t.Errorf("warning without the privilege or the hint:\n%s", log)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		role := "a1gw_" + randHex(6)
		if _, err := pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			pool.Exec(context.Background(), "DROP OWNED BY "+role)
			pool.Exec(context.Background(), "DROP ROLE "+role)
		})
		for _, q := range postgres.Grants(role) {
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		u, err := url.Parse(owner)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(role)
		env = baseEnv(t)
		env["A1_STORE"], env["A1_PG_URL"] = "postgres", u.String()
		quiet := startGateway(t, env)
		quietAfterReady(t, quiet)
	})
	t.Run("redis", func(t *testing.T) {
		u := redisURL(t)
		env := baseEnv(t)
		env["A1_STORE"], env["A1_REDIS_URL"] = "redis", u
		g := startGateway(t, env)
		waitFor(t, 5*time.Second, "the excess-privileges warning", func() bool {
			return strings.Contains(g.stderr.String(), excessWarning) && strings.Contains(g.stderr.String(), "default user")
		})

		st, err := redis.Open(u, redis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		user, pass := "a1gw-"+randHex(6), randHex(16)
		args := []any{"ACL", "SETUSER", user, "reset", "on", ">" + pass}
		for _, f := range strings.Fields(redis.ACLRule("")) {
			args = append(args, f)
		}
		ctx := context.Background()
		if err := st.Client().Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Client().Do(context.Background(), "ACL", "DELUSER", user) })
		lu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		lu.User = url.UserPassword(user, pass)
		env = baseEnv(t)
		env["A1_STORE"], env["A1_REDIS_URL"] = "redis", lu.String()
		quiet := startGateway(t, env)
		quietAfterReady(t, quiet)
	})
}

// quietAfterReady checks a ready gateway has logged no excess-privileges
// warning, after giving the check that follows readiness time to run.
func quietAfterReady(t *testing.T, g *gw) {
	t.Helper()
	waitFor(t, 5*time.Second, "storage ready logged", func() bool {
		return strings.Contains(g.stderr.String(), "storage ready")
	})
	time.Sleep(300 * time.Millisecond)
	if log := g.stderr.String(); strings.Contains(log, excessWarning) || strings.Contains(log, "may lose revocations") {
		t.Errorf("least-privilege credentials on a safe server reported:\n%s", log)
	}
}

// TestEvictingRedisReported: a gateway on a Redis whose maxmemory-policy
// may evict keys logs an error at start; the shared test server
// (noeviction) gives none (TestExcessPrivilegesWarning's quiet gateway).
func TestEvictingRedisReported(t *testing.T) {
	redisURL(t) // skip or fail like every Redis test when there is none
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("A1_REQUIRE_SERVICES") == "1" {
			t.Fatalf("redis-server: %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	srv := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	env := baseEnv(t)
	env["A1_STORE"], env["A1_REDIS_URL"] = "redis", "redis://127.0.0.1:"+port+"/0"
	g := startGateway(t, env)
	waitFor(t, 5*time.Second, "the eviction-policy error", func() bool {
		log := g.stderr.String()
		return strings.Contains(log, "may lose revocations or consumed nonces") && strings.Contains(log, "allkeys-lru")
	})
}

// TestLaxPostgresReported: a gateway whose PostgreSQL session commits
// asynchronously (synchronous_commit=off) logs an error at start.
func TestLaxPostgresReported(t *testing.T) {
	u, err := url.Parse(pgURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	env := baseEnv(t)
	env["A1_STORE"], env["A1_PG_URL"], env["A1_MIGRATE"] = "postgres", u.String(), "true"
	g := startGateway(t, env)
	waitFor(t, 5*time.Second, "the synchronous_commit error", func() bool {
		log := g.stderr.String()
		return strings.Contains(log, "may lose revocations or consumed nonces") && strings.Contains(log, "synchronous_commit is off")
	})
}
