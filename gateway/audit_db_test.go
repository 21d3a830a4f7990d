package gateway_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestAuditDatabaseReadiness: with the Redis store and the PostgreSQL audit
// sink, the audit database is part of readiness. Unmigrated, its events
// were dropped as permanent failures (no a1_audit table) while the replica
// reported ready and authorized; now the replica waits, not ready, and
// A1_MIGRATE migrates that database too, after which decisions land in it.
func TestAuditDatabaseReadiness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner, err := pgxpool.New(ctx, pgURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	schema := "a1_auditdb_" + randHex(4)
	if _, err := owner.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(pgURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_STORE"] = "redis"
	env["A1_REDIS_URL"] = redisURL(t)
	env["A1_PG_URL"] = u.String()
	env["A1_AUDIT_SINKS"] = "stdout,postgres"
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()

	g := tryStart(t, env)
	waitFor(t, 20*time.Second, "/livez", g.answers("/livez", 200))
	waitFor(t, 20*time.Second, "the not-migrated warning", func() bool {
		return strings.Contains(g.stderr.String(), "database schema is not migrated")
	})
	if r := g.do("GET", "/readyz", nil, nil); r.status != 503 {
		t.Fatalf("readyz with an unmigrated audit database: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/healthz", nil, nil); r.status != 503 || r.body["storage"] != "not migrated" {
		t.Fatalf("healthz with an unmigrated audit database: %d %s", r.status, r.raw)
	}
	g.stop()

	env["A1_MIGRATE"] = "true"
	g = startGateway(t, env) // ready: the audit database was migrated
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	g.stop() // flushes the audit sinks
	var n int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM "+schema+".a1_audit WHERE event->>'kind' = 'authorize' AND decision = 'allow'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("authorize allow events in the audit database: %d, %v; want 1", n, err)
	}
}
