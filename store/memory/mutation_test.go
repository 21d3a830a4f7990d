package memory_test

// Rejecting tests for checks a mutation review found unguarded: each test
// fails when the check it names is removed or weakened.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
	"github.com/a1-go/a1/store/storetest"
)

// TestReconsumedNonceCountedOnce guards the nonce count behind MaxNonces: a
// nonce consumed again after it expired replaces its own entry and is
// counted once. Counting it again (s.nNonces++ without the presence check)
// makes the count drift upward until the store fails closed for good.
func TestReconsumedNonceCountedOnce(t *testing.T) {
	clock := storetest.NewFakeClock(time.Now())
	s := memory.New(memory.Options{Now: clock.Now, MaxNonces: 2, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	n := store.Nonce{Key: storetest.Rand32(), ExpiresAt: clock.Now().Add(time.Minute)}
	if err := s.Authorize(ctx, store.AuthorizeRequest{Nonces: []store.Nonce{n}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	n.ExpiresAt = clock.Now().Add(time.Hour)
	if err := s.Authorize(ctx, store.AuthorizeRequest{Nonces: []store.Nonce{n}}); err != nil {
		t.Fatalf("re-consuming an expired nonce: %v", err)
	}
	// One nonce is held: a second one fits in MaxNonces = 2.
	other := store.Nonce{Key: storetest.Rand32(), ExpiresAt: clock.Now().Add(time.Hour)}
	if err := s.Authorize(ctx, store.AuthorizeRequest{Nonces: []store.Nonce{other}}); err != nil {
		t.Fatalf("second nonce with one held and MaxNonces 2: %v", err)
	}
	// And now the table is full.
	third := store.Nonce{Key: storetest.Rand32(), ExpiresAt: clock.Now().Add(time.Hour)}
	if err := s.Authorize(ctx, store.AuthorizeRequest{Nonces: []store.Nonce{third}}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("third nonce with MaxNonces 2: %v, want ErrUnavailable", err)
	}
}
