package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/pgsink"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

// TestLeastPrivilegeRole runs the contract suite, a sweep and the audit
// sink as a login role holding only Grants' privileges, and checks what
// the grants withhold: DDL, deleting or rewriting revocations, and
// touching the audit trail beyond appending.
func TestLeastPrivilegeRole(t *testing.T) {
	owner := dbURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	role := "a1test_" + strings.TrimSuffix(storetest.RandomPrefix(), "-")
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), owner)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP OWNED BY "+role)
		c.Exec(context.Background(), "DROP ROLE "+role)
	})
	// Every table the migrations create is covered: a migration adding a
	// table must extend Grants.
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'a1\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 6 {
		t.Fatalf("migrated tables: %v %v", tables, err)
	}
	granted := strings.Join(postgres.Grants(role), "\n")
	for _, tb := range tables {
		if !strings.Contains(granted, " ON "+tb+" TO ") {
			t.Errorf("table %s is not in Grants", tb)
		}
	}
	for _, q := range postgres.Grants(role) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	u, err := url.Parse(owner)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	limited := u.String()

	contract(t, limited, owner)

	s := open(t, postgres.Config{URL: limited})
	defer s.Close()
	if ok, err := postgres.MigrationsApplied(ctx, s.Pool()); err != nil || !ok {
		t.Fatalf("MigrationsApplied as the role: %v, %v", ok, err)
	}
	// A1_MIGRATE on such a role: an up-to-date schema needs no DDL (the
	// replica stayed unready forever on "permission denied for schema").
	if err := postgres.Migrate(ctx, s.Pool()); err != nil {
		t.Fatalf("Migrate as the role on an up-to-date schema: %v", err)
	}
	tenant := storetest.RandomPrefix()
	t.Cleanup(func() { cleanup(owner)(tenant) })
	if _, err := s.Revoke(ctx, tenant, []store.Revocation{{Fingerprint: storetest.Rand32()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep as the role: %v", err)
	}

	if w, err := s.CheckServer(ctx); err != nil || len(w) != 0 {
		t.Errorf("CheckServer as the role: %v, %v", w, err)
	}
	// The role has nothing beyond the grants; the owner (the test's
	// superuser) has.
	if ex, err := s.ExcessPrivileges(ctx); err != nil || len(ex) != 0 {
		t.Errorf("ExcessPrivileges as the role: %v, %v; want none", ex, err)
	}
	own := open(t, postgres.Config{URL: owner})
	defer own.Close()
	ex, err := own.ExcessPrivileges(ctx)
	if err != nil || !strings.Contains(strings.Join(ex, "|"), "superuser") || !strings.Contains(strings.Join(ex, "|"), "revocations") {
		t.Errorf("ExcessPrivileges as the owner: %v, %v", ex, err)
	}

	// The audit sink appends as the role.
	m, _ := audit.NewMetrics(prometheus.NewRegistry())
	sink, err := pgsink.New(s.Pool(), audit.AsyncOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	em, err := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}, GatewayID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow, Tenant: tenant})
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Sent.WithLabelValues("postgres")); got != 1 {
		t.Fatalf("audit rows sent as the role: %v, want 1", got)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DELETE FROM a1_audit WHERE stream_id = $1", em.Stream()) })

	// What the grants withhold.
	for _, q := range []string{
		"CREATE TABLE a1_evil (x int)",
		"ALTER TABLE a1_nonce ADD COLUMN x int",
		"DELETE FROM a1_revocation",
		"UPDATE a1_revocation SET reason = 'x'",
		"DELETE FROM a1_audit",
		"UPDATE a1_audit SET decision = 'allow'",
		"SELECT event, digest FROM a1_audit", // the key columns only, for ON CONFLICT
		"DELETE FROM a1_schema_migrations",
		"TRUNCATE a1_nonce",
	} {
		_, err := s.Pool().Exec(ctx, q)
		if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("%s as the role: %v, want insufficient_privilege (42501)", q, err)
		}
	}
}

// TestGrantsDocumented: docs/storage.md prints Grants("a1_gateway").
func TestGrantsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/storage.md")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(postgres.Grants("a1_gateway"), ";\n") + ";\n"
	if !strings.Contains(string(doc), want) {
		t.Fatalf("docs/storage.md does not give the current grants:\n%s", want)
	}
}

// TestCheckServer: synchronous_commit off (set for a role, as an operator
// trading durability for latency would) is reported; the defaults are not.
func TestCheckServer(t *testing.T) {
	owner := dbURL(t)
	ctx := context.Background()
	s := open(t, postgres.Config{URL: owner})
	defer s.Close()
	if got, err := s.CheckServer(ctx); err != nil || len(got) != 0 {
		t.Fatalf("defaults: %q, %v; want nothing", got, err)
	}
	u, err := url.Parse(owner)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off") // a run-time parameter of the session
	u.RawQuery = q.Encode()
	lax := open(t, postgres.Config{URL: u.String()})
	defer lax.Close()
	got, err := lax.CheckServer(ctx)
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "synchronous_commit is off") {
		t.Fatalf("synchronous_commit=off: %q, %v", got, err)
	}
}
