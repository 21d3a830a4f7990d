package pgsink

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
)

// A NUL character in a caller-supplied field (an unauthenticated client's
// intent name, say) is valid UTF-8 and JSON (\u0000), but PostgreSQL rejects
// it in text and jsonb values. It must not make the batch fail: one hostile
// request would otherwise wipe up to a batch of other events from the table.
func TestPostgresNULDoesNotPoisonBatch(t *testing.T) {
	pool := testPool(t)
	m, _ := audit.NewMetrics(prometheus.NewRegistry())
	sink, err := New(pool, audit.AsyncOptions{MaxBatch: 10, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	em, _ := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}})
	em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow})
	em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionDeny,
		Intent: "a\x00b", Tenant: "t\x00", ErrorCode: "X\x00", Subject: `back\slash \u0000 "q"` + "\x00"})
	em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Sent.WithLabelValues("postgres")); got != 3 {
		t.Errorf("sent = %v, want 3 (dropped permanent: %v)", got,
			testutil.ToFloat64(m.Dropped.WithLabelValues("postgres", audit.DropPermanent)))
	}
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM a1_audit WHERE stream_id = $1`, em.Stream()).Scan(&count); err != nil || count != 3 {
		t.Fatalf("rows = %d (err %v), want 3", count, err)
	}
	var intent, subject, tenant, code string
	if err := pool.QueryRow(ctx, `SELECT event->>'intent', event->>'subject', tenant, error_code FROM a1_audit WHERE stream_id = $1 AND seq = 2`,
		em.Stream()).Scan(&intent, &subject, &tenant, &code); err != nil {
		t.Fatal(err)
	}
	if intent != "a\uFFFDb" || subject != `back\slash \u0000 "q"`+"\uFFFD" || tenant != "t\uFFFD" || code != "X\uFFFD" {
		t.Fatalf("intent %q subject %q tenant %q code %q", intent, subject, tenant, code)
	}
}
