package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/a1-go/a1/store"
)

// holdFirstCommit makes g's first transaction wait until queued more
// callers wait behind it, so that the next transaction's group is known;
// it returns the sizes of the groups committed so far.
func holdFirstCommit(t *testing.T, g *group, queued int) func() []int {
	t.Helper()
	var mu sync.Mutex
	var sizes []int
	g.commitHook = func(n int) {
		mu.Lock()
		first := len(sizes) == 0
		sizes = append(sizes, n)
		mu.Unlock()
		if !first {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			g.mu.Lock()
			l := len(g.queue)
			g.mu.Unlock()
			if l == queued {
				return
			}
			if time.Now().After(deadline) {
				panic(fmt.Sprintf("only %d of %d callers queued", l, queued))
			}
			time.Sleep(time.Millisecond)
		}
	}
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a1.db")
	s, err := Open(path, Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestGroupCommitSharesTransaction: authorizations arriving while one
// commits are committed together in the next transaction, each with its
// own decision (a nonce two of them carry is consumed by exactly one), and
// all of them are durable once acknowledged.
func TestGroupCommitSharesTransaction(t *testing.T) {
	s, path := openTest(t)
	const n = 64 // 1 alone, then 63 in one group
	sizes := holdFirstCommit(t, s.writes, n-1)
	exp := time.Now().Add(time.Hour)
	key := func(i int) (k [32]byte) {
		// callers 1 and 2 share a nonce; every other caller has its own
		if i == 2 {
			i = 1
		}
		k[0], k[1] = byte(i), 0xa1
		return k
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				<-start
			}
			errs[i] = s.Authorize(context.Background(), store.AuthorizeRequest{Nonces: []store.Nonce{{Key: key(i), ExpiresAt: exp}}})
		}()
		if i == 0 {
			// the first caller commits alone and holds the others back
			for len(sizes()) == 0 {
				time.Sleep(time.Millisecond)
			}
			close(start)
		}
	}
	wg.Wait()
	if got := sizes(); !slices.Equal(got, []int{1, n - 1}) {
		t.Fatalf("group sizes %v, want [1 %d]", got, n-1)
	}
	replays := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, store.ErrReplay) && (i == 1 || i == 2):
			replays++
		case err != nil:
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if replays != 1 {
		t.Fatalf("callers sharing a nonce: %d replays, want exactly 1 (%v, %v)", replays, errs[1], errs[2])
	}
	// Every nonce is consumed, and stays so across a reopen.
	s.writes.commitHook = nil
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i := range n {
		err := s2.Authorize(context.Background(), store.AuthorizeRequest{Nonces: []store.Nonce{{Key: key(i), ExpiresAt: exp}}})
		if !errors.Is(err, store.ErrReplay) {
			t.Fatalf("nonce of caller %d after reopen: %v, want a replay", i, err)
		}
	}
}

// TestGroupFailureAnswersEach: when one member of a group fails (an error,
// or a panic from damage found while running), the group is rolled back and
// each member runs alone: the others are committed, the failing one gets
// its own error, and nothing of it is written.
func TestGroupFailureAnswersEach(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fail func() error
		want error
	}{
		{"error", func() error { return boom }, boom},
		{"panic", func() error { panic("page 7: unexpected flags") }, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t)
			const n = 9 // 1 alone, then 8 in one group
			sizes := holdFirstCommit(t, s.writes, n-1)
			bucket := []byte("test")
			const bad = 5
			runs := make([]int, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			first := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i > 0 {
						<-first
					}
					errs[i] = s.writes.run(func(tx *bbolt.Tx) error {
						runs[i]++
						b, err := tx.CreateBucketIfNotExists(bucket)
						if err != nil {
							return err
						}
						if err := b.Put([]byte{byte(i)}, []byte("x")); err != nil {
							return err
						}
						if i == bad {
							return tc.fail()
						}
						return nil
					})
				}()
				if i == 0 {
					for len(sizes()) == 0 {
						time.Sleep(time.Millisecond)
					}
					close(first)
				}
			}
			wg.Wait()
			if got := sizes(); !slices.Equal(got, []int{1, n - 1}) {
				t.Fatalf("group sizes %v, want [1 %d]", got, n-1)
			}
			for i, err := range errs {
				if i == bad {
					if !errors.Is(err, tc.want) {
						t.Errorf("failing member: %v, want %v", err, tc.want)
					}
				} else if err != nil {
					t.Errorf("member %d: %v, want committed", i, err)
				}
			}
			// The failing member ran in the group, then alone; those queued
			// before it ran in the group too, those after it only alone.
			if runs[0] != 1 || runs[bad] != 2 {
				t.Errorf("runs %v: want the first caller once and the failing one twice", runs)
			}
			for i, r := range runs {
				if r < 1 || r > 2 {
					t.Errorf("member %d ran %d times", i, r)
				}
			}
			if err := s.db.View(func(tx *bbolt.Tx) error {
				b := tx.Bucket(bucket)
				for i := range n {
					if got := b.Get([]byte{byte(i)}) != nil; got != (i != bad) {
						t.Errorf("member %d written: %v", i, got)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGroupSizeBounded: a queue longer than maxGroup commits in several
// transactions of at most maxGroup, in arrival order.
func TestGroupSizeBounded(t *testing.T) {
	s, _ := openTest(t)
	const queued = maxGroup + 72
	sizes := holdFirstCommit(t, s.writes, queued)
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, queued+1)
	first := make(chan struct{})
	for i := range queued + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				<-first
			}
			var k [32]byte
			k[0], k[1] = byte(i), byte(i>>8)
			errs[i] = s.Authorize(context.Background(), store.AuthorizeRequest{Nonces: []store.Nonce{{Key: k, ExpiresAt: exp}}})
		}()
		if i == 0 {
			for len(sizes()) == 0 {
				time.Sleep(time.Millisecond)
			}
			close(first)
		}
	}
	wg.Wait()
	if got := sizes(); !slices.Equal(got, []int{1, maxGroup, queued - maxGroup}) {
		t.Fatalf("group sizes %v, want [1 %d %d]", got, maxGroup, queued-maxGroup)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
}
