package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/bolt"
)

func Example() {
	dir, _ := os.MkdirTemp("", "a1-example-")
	defer os.RemoveAll(dir)
	s, err := bolt.Open(filepath.Join(dir, "a1.db"), bolt.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ctx := context.Background()
	req := store.AuthorizeRequest{
		Fingerprints: [][32]byte{{1}},
		Nonces:       []store.Nonce{{Key: [32]byte{7}, ExpiresAt: time.Now().Add(time.Hour)}},
	}
	fmt.Println(s.Authorize(ctx, req))
	fmt.Println(errors.Is(s.Authorize(ctx, req), store.ErrReplay))
	// Output:
	// <nil>
	// true
}
