package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
)

func Example() {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := context.Background()

	req := store.AuthorizeRequest{
		Tenant:       "acme",
		Fingerprints: [][32]byte{{1}, {2}},
		Nonces:       []store.Nonce{{Key: [32]byte{9}, ExpiresAt: time.Now().Add(time.Hour)}},
	}
	fmt.Println(s.Authorize(ctx, req))
	fmt.Println(errors.Is(s.Authorize(ctx, req), store.ErrReplay))

	_, _ = s.Revoke(ctx, "acme", []store.Revocation{{Fingerprint: [32]byte{2}, Reason: "compromised"}})
	var rev *store.RevokedError
	fmt.Println(errors.As(s.Authorize(ctx, req), &rev), rev.Index)
	// Output:
	// <nil>
	// true
	// true 1
}
