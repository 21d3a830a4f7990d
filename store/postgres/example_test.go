package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/postgres"
)

// Behind PgBouncer in transaction pooling mode the default (exec) query
// mode is already safe; Migrate runs the embedded migrations.
func Example() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{
		URL:     "postgres://a1@pgbouncer:6432/a1?sslmode=verify-full",
		Migrate: true,
		Timeout: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	err = s.Authorize(ctx, store.AuthorizeRequest{
		Tenant:       "acme",
		Fingerprints: [][32]byte{{1}, {2}},
		Nonces:       []store.Nonce{{Key: [32]byte{3}, ExpiresAt: time.Now().Add(time.Hour)}},
	})
	switch {
	case errors.Is(err, store.ErrUnavailable):
		// fail closed: HTTP 503
	case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrReplay):
		// a decision: HTTP 403
	}
}

// The owner migrates; the gateway connects as a role of its own that
// holds only these privileges.
func ExampleGrants() {
	for _, q := range postgres.Grants("a1_gateway")[:2] {
		fmt.Println(q + ";")
	}
	// Output:
	// GRANT SELECT ON a1_schema_migrations TO "a1_gateway";
	// GRANT SELECT, INSERT ON a1_revocation TO "a1_gateway";
}
