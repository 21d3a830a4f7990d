package datadog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/internal/sinktest"
)

type received struct {
	mu      sync.Mutex
	batches [][]map[string]any
	sizes   []int
}

// intake is a fake Datadog intake that checks what the real one requires.
func intake(t *testing.T, rcv *received, answer func(n int) (int, http.Header)) *httptest.Server {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		switch {
		case r.Method != http.MethodPost:
			t.Errorf("method %s", r.Method)
		case r.URL.Path != "/api/v2/logs":
			t.Errorf("path %s", r.URL.Path)
		case r.Header.Get("DD-API-KEY") != "k3y":
			t.Errorf("DD-API-KEY = %q", r.Header.Get("DD-API-KEY"))
		case r.Header.Get("Content-Type") != "application/json":
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		case r.Header.Get("Content-Encoding") != "gzip":
			t.Errorf("Content-Encoding = %q", r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("body is not gzip: %v", err)
			return
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Errorf("gunzip: %v", err)
			return
		}
		var entries []map[string]any
		if err := json.Unmarshal(raw, &entries); err != nil {
			t.Errorf("body is not a JSON array: %v", err)
			return
		}
		if len(entries) > MaxEntries || len(raw) > MaxPayloadBytes {
			t.Errorf("batch of %d entries, %d bytes exceeds the intake limits", len(entries), len(raw))
		}
		rcv.mu.Lock()
		rcv.batches = append(rcv.batches, entries)
		rcv.sizes = append(rcv.sizes, len(raw))
		rcv.mu.Unlock()
		status, hdr := http.StatusAccepted, http.Header{}
		if answer != nil {
			status, hdr = answer(n)
		}
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newSink(t *testing.T, url string, opts audit.AsyncOptions) (*audit.Async, *audit.Metrics) {
	t.Helper()
	m := sinktest.Metrics(t)
	opts.Metrics = m
	s, err := New(Config{APIKey: "k3y", URL: url + "/api/v2/logs", Service: "a1-gw", Hostname: "h1",
		Tags: []string{"env:test", "team:sec"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func emitN(t *testing.T, sinks []audit.Sink, n int) *audit.Emitter {
	t.Helper()
	em, err := audit.NewEmitter(audit.Config{Sinks: sinks, GatewayID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		d := audit.DecisionAllow
		if i%2 == 1 {
			d = audit.DecisionDeny
		}
		em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: d, Intent: "read"})
	}
	return em
}

func closeCtx(t *testing.T, c interface{ Close(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWireFormatAndBatchLimits(t *testing.T) {
	rcv := &received{}
	srv := intake(t, rcv, nil)
	sink, m := newSink(t, srv.URL, audit.AsyncOptions{MaxBatch: 5000, FlushInterval: time.Hour, QueueSize: 5000})
	const n = 2500
	em := emitN(t, []audit.Sink{sink}, n)
	closeCtx(t, em)

	if got := testutil.ToFloat64(m.Sent.WithLabelValues("datadog")); got != n {
		t.Fatalf("sent = %v, want %d", got, n)
	}
	total, biggest := 0, 0
	var prevSeq float64
	for _, b := range rcv.batches {
		total += len(b)
		biggest = max(biggest, len(b))
		for _, e := range b {
			for k, want := range map[string]string{"ddsource": "a1", "service": "a1-gw", "hostname": "h1", "ddtags": "env:test,team:sec"} {
				if e[k] != want {
					t.Fatalf("%s = %v, want %q", k, e[k], want)
				}
			}
			msg, _ := e["message"].(string)
			computed, claimed, err := audit.LineDigest([]byte(msg))
			if err != nil || computed != claimed {
				t.Fatalf("message is not the sealed line: %v", err)
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(msg), &ev); err != nil {
				t.Fatal(err)
			}
			if seq := ev["seq"].(float64); seq != prevSeq+1 {
				t.Fatalf("seq %v after %v", seq, prevSeq)
			} else {
				prevSeq = seq
			}
			wantStatus := map[string]string{"allow": "info", "deny": "warn"}[ev["decision"].(string)]
			if e["status"] != wantStatus || e["date"] != ev["time"] {
				t.Fatalf("status/date: %v %v", e["status"], e["date"])
			}
		}
	}
	if total != n || biggest != MaxEntries {
		t.Fatalf("total %d, biggest batch %d (want %d)", total, biggest, MaxEntries)
	}
}

func TestRetryAndPermanent(t *testing.T) {
	cases := []struct {
		name          string
		answer        func(n int) (int, http.Header)
		requests      int
		sent, dropped float64
		retried       float64
	}{
		{"429 with Retry-After", func(n int) (int, http.Header) {
			if n == 1 {
				return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}
			}
			return http.StatusAccepted, nil
		}, 2, 3, 0, 3},
		{"500 retried", func(n int) (int, http.Header) {
			if n <= 2 {
				return http.StatusInternalServerError, nil
			}
			return http.StatusAccepted, nil
		}, 3, 3, 0, 6},
		{"400 permanent", func(int) (int, http.Header) { return http.StatusBadRequest, nil }, 1, 0, 3, 0},
		{"403 permanent", func(int) (int, http.Header) { return http.StatusForbidden, nil }, 1, 0, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &received{}
			srv := intake(t, rcv, tc.answer)
			sink, m := newSink(t, srv.URL, audit.AsyncOptions{FlushInterval: time.Hour, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond})
			em := emitN(t, []audit.Sink{sink}, 3)
			closeCtx(t, em)
			if len(rcv.batches) != tc.requests {
				t.Errorf("requests = %d, want %d", len(rcv.batches), tc.requests)
			}
			sinktest.CheckCounters(t, m, "datadog", tc.sent, tc.retried, tc.dropped)
		})
	}
}

// TestDeadIntakeNeverBlocksEmit emits into a sink whose server hangs, and
// into one whose port is closed: no Emit may wait for the network.
func TestDeadIntakeNeverBlocksEmit(t *testing.T) {
	sinktest.CheckDeadEndpointNeverBlocks(t, "datadog", func(t *testing.T, url string) (audit.Sink, *audit.Metrics) {
		return newSink(t, url, audit.AsyncOptions{QueueSize: 64, MaxBatch: 8, FlushInterval: time.Millisecond})
	})
}

func TestEndpoint(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
		err  bool
	}{
		{Config{}, "https://http-intake.logs.datadoghq.com/api/v2/logs", false},
		{Config{Site: "datadoghq.eu"}, "https://http-intake.logs.datadoghq.eu/api/v2/logs", false},
		{Config{Site: "us3.datadoghq.com"}, "https://http-intake.logs.us3.datadoghq.com/api/v2/logs", false},
		{Config{Site: "app.datadoghq.eu"}, "https://http-intake.logs.datadoghq.eu/api/v2/logs", false},
		{Config{Site: "evil.com/x?"}, "", true},
		{Config{URL: "ftp://x"}, "", true},
		{Config{URL: "http://127.0.0.1:1/api/v2/logs"}, "http://127.0.0.1:1/api/v2/logs", false},
	}
	for _, tc := range cases {
		got, err := tc.cfg.Endpoint()
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%+v: got %q, %v", tc.cfg, got, err)
		}
	}
	if _, err := New(Config{}, audit.AsyncOptions{}); err == nil || strings.Contains(err.Error(), "k3y") {
		t.Fatal("missing API key accepted")
	}
}
