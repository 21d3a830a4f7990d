package memory_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
	"github.com/a1-go/a1/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Config{
		Open: func(t *testing.T, c *storetest.FakeClock) storetest.Backend {
			return memory.New(memory.Options{Now: c.Now})
		},
	})
}

func TestFullFailsClosed(t *testing.T) {
	s := memory.New(memory.Options{MaxNonces: 2})
	defer s.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	req := store.AuthorizeRequest{Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: exp}, {Key: storetest.Rand32(), ExpiresAt: exp}}}
	if err := s.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.Nonces = req.Nonces[:1]
	req.Nonces[0].Key = storetest.Rand32()
	if err := s.Authorize(ctx, req); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("full table: %v, want ErrUnavailable", err)
	}
}

func TestSweep(t *testing.T) {
	clock := storetest.NewFakeClock(time.Now())
	s := memory.New(memory.Options{Now: clock.Now, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	req := store.AuthorizeRequest{Nonces: []store.Nonce{
		{Key: storetest.Rand32(), ExpiresAt: clock.Now().Add(time.Minute)},
		{Key: storetest.Rand32(), ExpiresAt: clock.Now().Add(time.Hour)},
	}}
	if err := s.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
}

// BenchmarkAuthorizeGrowing consumes b.N×2 distinct nonces that never
// expire: the nonce map grows (and rehashes) throughout.
func BenchmarkAuthorizeGrowing(b *testing.B) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	fps := [][32]byte{storetest.Rand32(), storetest.Rand32()}
	keys := make([][32]byte, 2*b.N)
	for i := range keys {
		keys[i] = storetest.Rand32()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.Authorize(ctx, store.AuthorizeRequest{
			Fingerprints: fps,
			Nonces:       []store.Nonce{{Key: keys[2*i], ExpiresAt: exp}, {Key: keys[2*i+1], ExpiresAt: exp}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorize measures the 2-fingerprint, 2-nonce authorization with
// the live nonce set bounded (nonces expire and the sweep runs inside the
// loop), as in a long-running gateway.
func BenchmarkAuthorize(b *testing.B) {
	for _, live := range []int{1 << 10, 1 << 16} { // nonces alive at any time
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) { benchSteady(b, live) })
	}
}

func benchSteady(b *testing.B, live int) {
	clock := storetest.NewFakeClock(time.Now())
	s := memory.New(memory.Options{Now: clock.Now, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	fps := [][32]byte{storetest.Rand32(), storetest.Rand32()}
	seed := storetest.Rand32()
	var k1, k2 [32]byte
	copy(k1[8:], seed[:24])
	copy(k2[8:], seed[:24])
	k2[31] ^= 1
	step := time.Millisecond
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.LittleEndian.PutUint64(k1[:], uint64(i))
		binary.LittleEndian.PutUint64(k2[:], uint64(i))
		exp := clock.Now().Add(time.Duration(live/2) * step)
		err := s.Authorize(ctx, store.AuthorizeRequest{
			Fingerprints: fps,
			Nonces:       []store.Nonce{{Key: k1, ExpiresAt: exp}, {Key: k2, ExpiresAt: exp}},
		})
		if err != nil {
			b.Fatal(err)
		}
		clock.Advance(step)
		if i%1024 == 0 {
			_, _ = s.Sweep(ctx)
		}
	}
}
