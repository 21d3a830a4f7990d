package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/a1-go/a1/store"
)

// TestReviewGroupStressCommittedOnReturn: many concurrent callers, some
// failing (error or panic); every caller that gets nil finds its write
// committed (visible to a new read transaction) the moment run returns,
// every failing one finds nothing of its own written, and the group is
// idle (busy false, queue empty) at the end.
func TestReviewGroupStressCommittedOnReturn(t *testing.T) {
	s, _ := openTest(t)
	s.db.NoSync = true // interleavings, not the disk, are under test
	bucket := []byte("review")
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket(bucket)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	const workers, each = 16, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				k := binary.BigEndian.AppendUint32(nil, uint32(w*each+j))
				fail := (w*each+j)%7 == 3
				panics := (w*each+j)%11 == 5
				err := s.writes.run(func(tx *bbolt.Tx) error {
					if err := tx.Bucket(bucket).Put(k, []byte("x")); err != nil {
						return err
					}
					switch {
					case fail:
						return boom
					case panics:
						panic("damage")
					}
					return nil
				})
				var seen bool
				if verr := s.db.View(func(tx *bbolt.Tx) error {
					seen = tx.Bucket(bucket).Get(k) != nil
					return nil
				}); verr != nil {
					t.Error(verr)
					return
				}
				switch {
				case fail && !errors.Is(err, boom), panics && !fail && !errors.Is(err, ErrCorrupt):
					t.Errorf("caller %d: %v, want its own error", w*each+j, err)
				case !fail && !panics && err != nil:
					t.Errorf("caller %d: %v", w*each+j, err)
				case seen != (err == nil):
					t.Errorf("caller %d: err %v but written %v on return", w*each+j, err, seen)
				}
			}
		}()
	}
	wg.Wait()
	s.writes.mu.Lock()
	defer s.writes.mu.Unlock()
	if s.writes.busy || len(s.writes.queue) != 0 {
		t.Fatalf("group not idle: busy %v, queue %d", s.writes.busy, len(s.writes.queue))
	}
}

// TestReviewCloseDuringGroup: Close while a transaction commits and others
// queue behind it: every caller returns (no deadlock, no lost wake-up),
// the one whose transaction was open with nil (Close waits for it), the
// queued ones with nil or, once the file is closed, an error, and
// Authorize after Close fails closed.
func TestReviewCloseDuringGroup(t *testing.T) {
	s, _ := openTest(t)
	release, inTx := make(chan struct{}), make(chan struct{})
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		if i == 1 {
			<-inTx
		}
		go func() {
			errs <- s.writes.run(func(tx *bbolt.Tx) error {
				if i == 0 {
					close(inTx) // the first transaction is open: hold it
					<-release
				}
				b, err := tx.CreateBucketIfNotExists([]byte("c"))
				if err != nil {
					return err
				}
				return b.Put([]byte{byte(i)}, nil)
			})
		}()
	}
	// Wait until one leads (held in the hook) and the others queue.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.writes.mu.Lock()
		l := len(s.writes.queue)
		s.writes.mu.Unlock()
		if l == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d queued", l)
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	ok, failed := 0, 0
	for range n {
		select {
		case err := <-errs:
			if err == nil {
				ok++
			} else {
				failed++
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a caller never returned after Close")
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Close usually wins the file lock before the next leader; either
	// order is correct, as long as everyone is answered.
	if ok < 1 || ok+failed != n {
		t.Fatalf("%d committed, %d failed", ok, failed)
	}
	err := s.Authorize(context.Background(), store.AuthorizeRequest{Nonces: []store.Nonce{{Key: [32]byte{1}, ExpiresAt: time.Now().Add(time.Hour)}}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Authorize after Close: %v, want unavailable", err)
	}
}

// TestReviewRevokedInGroup: in one shared transaction, a member whose
// chain is revoked is refused and consumes nothing, so a member after it
// carrying the same nonce is authorized, and one after that is a replay
// (each decision as if the members had run one after the other).
func TestReviewRevokedInGroup(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	revoked := [32]byte{0xee}
	if _, err := s.Revoke(ctx, "", []store.Revocation{{Fingerprint: revoked, RevokedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	const n = 4 // 1 alone, then 3 in one group, in order
	sizes := holdFirstCommit(t, s.writes, n-1)
	exp := time.Now().Add(time.Hour)
	shared := store.Nonce{Key: [32]byte{0x5a}, ExpiresAt: exp}
	reqs := []store.AuthorizeRequest{
		{Nonces: []store.Nonce{{Key: [32]byte{1}, ExpiresAt: exp}}},
		{Fingerprints: [][32]byte{revoked}, Nonces: []store.Nonce{shared}},
		{Fingerprints: [][32]byte{{0x01}}, Nonces: []store.Nonce{shared}},
		{Nonces: []store.Nonce{shared}},
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Authorize(ctx, reqs[i])
		}()
		if i == 0 {
			for len(sizes()) == 0 {
				time.Sleep(time.Millisecond)
			}
		} else if i < n-1 {
			// queue in order behind the held first commit (the last
			// one releases it, so the queue empties at once)
			for {
				s.writes.mu.Lock()
				l := len(s.writes.queue)
				s.writes.mu.Unlock()
				if l == i {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	wg.Wait()
	if got := sizes(); len(got) != 2 || got[1] != n-1 {
		t.Fatalf("group sizes %v, want [1 %d]", got, n-1)
	}
	if errs[0] != nil || !errors.Is(errs[1], store.ErrRevoked) || errs[2] != nil || !errors.Is(errs[3], store.ErrReplay) {
		t.Fatalf("decisions %v: want ok, revoked, ok, replay", errs)
	}
}
