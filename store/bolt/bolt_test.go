package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/bolt"
	"github.com/a1-go/a1/store/storetest"
)

func TestContract(t *testing.T) {
	paths := map[storetest.Backend]string{}
	var mu sync.Mutex
	open := func(t *testing.T, path string, c *storetest.FakeClock) storetest.Backend {
		s, err := bolt.Open(path, bolt.Options{Now: c.Now, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		paths[s] = path
		mu.Unlock()
		return s
	}
	storetest.Run(t, storetest.Config{
		Open: func(t *testing.T, c *storetest.FakeClock) storetest.Backend {
			return open(t, filepath.Join(t.TempDir(), "a1.db"), c)
		},
		Reopen: func(t *testing.T, b storetest.Backend, c *storetest.FakeClock) storetest.Backend {
			mu.Lock()
			path := paths[b]
			mu.Unlock()
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, path, c)
		},
	})
}

func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a1.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = bolt.Open(path, bolt.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("second Open of a locked file: %v, want ErrUnavailable and ErrLocked", err)
	}
}

func TestSweepKeepsReconsumed(t *testing.T) {
	clock := storetest.NewFakeClock(time.Now())
	s, err := bolt.Open(filepath.Join(t.TempDir(), "a1.db"), bolt.Options{Now: clock.Now, SweepInterval: -1, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	k := storetest.Rand32()
	auth := func(ttl time.Duration) error {
		return s.Authorize(ctx, store.AuthorizeRequest{Nonces: []store.Nonce{{Key: k, ExpiresAt: clock.Now().Add(ttl)}}})
	}
	if err := auth(time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	// Expired: consumable again, now with a long expiry.
	if err := auth(time.Hour); err != nil {
		t.Fatal(err)
	}
	// The sweep deletes the stale index entry but keeps the live nonce.
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if err := auth(time.Hour); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("after sweep: %v, want replay", err)
	}
}

func TestCloseStopsSweeper(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "a1.db"), bolt.Options{SweepInterval: time.Millisecond, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func benchAuthorize(b *testing.B, fsync, parallel bool) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "a1.db"), bolt.Options{NoSync: !fsync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	storetest.BenchAuthorize(b, s, "", parallel, nil)
}

// BenchmarkAuthorize measures fsynced authorizations from one caller: one
// transaction (and its fsyncs) each.
func BenchmarkAuthorize(b *testing.B) { benchAuthorize(b, true, false) }

// BenchmarkAuthorizeParallel measures fsynced authorizations from 32
// callers per CPU, which share transactions (group commit).
func BenchmarkAuthorizeParallel(b *testing.B) {
	b.SetParallelism(32)
	benchAuthorize(b, true, true)
}

// BenchmarkAuthorizeNoSync shows the cost without fsync.
func BenchmarkAuthorizeNoSync(b *testing.B) { benchAuthorize(b, false, false) }
