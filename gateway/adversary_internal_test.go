package gateway

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockedPinger is a Backend whose Ping counts its calls and blocks until
// released (only Ping is called by the health handler).
type blockedPinger struct {
	Backend
	calls   atomic.Int32
	release chan struct{}
}

func (p *blockedPinger) Ping(ctx context.Context) error {
	p.calls.Add(1)
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestAdversaryHealthPingShared: /healthz is unauthenticated and exempt
// from rate limiting, and each probe cost a storage ping of its own, so a
// flood of probes took the backend's connection pool (4 connections by
// default on PostgreSQL) from the authorizations. Probes that arrive while
// a ping is in flight now share it: one ping per replica at a time.
func TestAdversaryHealthPingShared(t *testing.T) {
	st := &blockedPinger{release: make(chan struct{})}
	s := &Server{cfg: &Config{Store: StoreMemory, StorageTimeout: 2 * time.Second}, st: st}
	s.migrated.Store(true)
	const probes = 32
	codes := make(chan int, probes)
	var wg sync.WaitGroup
	for range probes {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			s.handleHealth(rec, httptest.NewRequest("GET", "/healthz", nil))
			codes <- rec.Code
		})
	}
	// While the first ping is blocked, no probe may start another.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := st.calls.Load(); n > 1 {
			close(st.release)
			wg.Wait()
			t.Fatalf("%d concurrent probes made %d storage pings, want 1", probes, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(st.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("probe answered %d, want 200", c)
		}
	}
	// A later probe pings again (the result is not cached).
	before := st.calls.Load()
	rec := httptest.NewRecorder()
	s.handleHealth(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || st.calls.Load() != before+1 {
		t.Errorf("later probe: %d, pings %d → %d", rec.Code, before, st.calls.Load())
	}
}
