package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scripted answers each Send with the next error of its script (nil when
// the script is exhausted) and records the batches.
type scripted struct {
	mu      sync.Mutex
	script  []error
	batches [][]Entry
	block   chan struct{} // when set, Send waits for it or ctx
}

func (s *scripted) Send(ctx context.Context, b []Entry) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]Entry(nil), b...))
	if len(s.script) == 0 {
		return nil
	}
	err := s.script[0]
	s.script = s.script[1:]
	return err
}

func (s *scripted) sends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

func newTestAsync(t *testing.T, s Sender, o AsyncOptions) (*Async, *Metrics, *[]time.Duration) {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	o.Metrics, o.Name = m, "test"
	a := NewAsync(s, o)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	a.wait = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return a, m, waits
}

func rec(i int) Record {
	return Record{Event: &Event{Seq: uint64(i)}, Line: []byte(fmt.Sprintf(`{"n":%d}`, i))}
}

func count(c *prometheus.CounterVec, labels ...string) float64 {
	return testutil.ToFloat64(c.WithLabelValues(labels...))
}

func TestAsyncRetryClasses(t *testing.T) {
	transient := errors.New("HTTP 500")
	cases := []struct {
		name                   string
		script                 []error
		sends                  int
		sent, retried, dropped float64
		reason                 string
		minWait                time.Duration
	}{
		{"ok", nil, 1, 3, 0, 0, "", 0},
		{"5xx retried", []error{transient, transient}, 3, 3, 6, 0, "", 0},
		{"retry-after honoured", []error{&RetryAfterError{After: 7 * time.Second, Err: transient}}, 2, 3, 3, 0, "", 7 * time.Second},
		{"permanent dropped", []error{fmt.Errorf("HTTP 400: %w", ErrPermanent)}, 1, 0, 0, 3, DropPermanent, 0},
		{"attempts exhausted", []error{transient, transient, transient}, 3, 0, 6, 3, DropRetriesExhausted, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{script: tc.script}
			a, m, waits := newTestAsync(t, s, AsyncOptions{MaxAttempts: 3, FlushInterval: time.Hour})
			for i := range 3 {
				if !a.Submit(rec(i)) {
					t.Fatal("submit refused")
				}
			}
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s.sends() != tc.sends {
				t.Errorf("sends = %d, want %d", s.sends(), tc.sends)
			}
			if got := count(m.Sent, "test"); got != tc.sent {
				t.Errorf("sent = %v, want %v", got, tc.sent)
			}
			if got := count(m.Retried, "test"); got != tc.retried {
				t.Errorf("retried = %v, want %v", got, tc.retried)
			}
			if tc.reason != "" {
				if got := count(m.Dropped, "test", tc.reason); got != tc.dropped {
					t.Errorf("dropped[%s] = %v, want %v", tc.reason, got, tc.dropped)
				}
			}
			if count(m.Queued, "test") != 3 {
				t.Error("queued != 3")
			}
			if tc.minWait > 0 && (len(*waits) != 1 || (*waits)[0] < tc.minWait) {
				t.Errorf("waits = %v, want one ≥ %v", *waits, tc.minWait)
			}
		})
	}
}

func TestAsyncBatchLimits(t *testing.T) {
	s := &scripted{}
	// Each line is 8 bytes + 1 separator = 9: 4 fit in 40 bytes.
	a, m, _ := newTestAsync(t, s, AsyncOptions{MaxBatch: 10, MaxBatchBytes: 40, MaxEntryBytes: 20, FlushInterval: time.Hour})
	for i := range 10 {
		a.Submit(Record{Event: &Event{}, Line: []byte(fmt.Sprintf(`{"n":%02d}`, i))})
	}
	a.Submit(Record{Event: &Event{}, Line: make([]byte, 30)}) // too large for one entry
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, b := range s.batches {
		size := 0
		for _, e := range b {
			size += len(e.Data) + 1
		}
		if size > 40 || len(b) > 10 {
			t.Fatalf("batch of %d entries, %d bytes exceeds limits", len(b), size)
		}
		total += len(b)
	}
	if total != 10 || len(s.batches) != 3 {
		t.Fatalf("total %d in %d batches", total, len(s.batches))
	}
	if count(m.Dropped, "test", DropTooLarge) != 1 {
		t.Fatal("oversized entry not counted")
	}
}

func TestAsyncQueueFullAndClosed(t *testing.T) {
	s := &scripted{block: make(chan struct{})}
	a, m, _ := newTestAsync(t, s, AsyncOptions{QueueSize: 4, MaxBatch: 1, FlushInterval: time.Hour})
	accepted := 0
	for i := range 100 {
		if a.Submit(rec(i)) {
			accepted++
		}
	}
	// One may be in flight in the blocked sender, 4 queued.
	if accepted < 4 || accepted > 5 {
		t.Fatalf("accepted %d, want 4 or 5", accepted)
	}
	if got := count(m.Dropped, "test", DropQueueFull); got != float64(100-accepted) {
		t.Fatalf("queue_full = %v", got)
	}
	// Close with an already expired context abandons the blocked delivery.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v", err)
	}
	if got := count(m.Dropped, "test", DropShutdown); got != float64(accepted) {
		t.Fatalf("shutdown drops = %v, want %d", got, accepted)
	}
	if a.Submit(rec(0)) || count(m.Dropped, "test", DropClosed) != 1 {
		t.Fatal("submit after close accepted")
	}
	if err := a.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

func TestBackoffBounds(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		d := backoff(attempt, 100*time.Millisecond, 5*time.Second)
		ceil := min(100*time.Millisecond<<min(attempt-1, 20), 5*time.Second)
		if d < ceil/2 || d > ceil {
			t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, ceil/2, ceil)
		}
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg)
	if err != nil || m1.Sent != m2.Sent {
		t.Fatalf("second registration: %v", err)
	}
}
