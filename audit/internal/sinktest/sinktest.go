// Package sinktest holds the test helpers the HTTP audit sinks
// (audit/datadog, audit/splunk) share: metrics on a private registry, the
// check of a sink's delivery counters, the check that a dead endpoint
// never blocks Emit, and the check that redirects are not followed.
package sinktest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
)

// Metrics returns audit metrics registered on a private registry.
func Metrics(t *testing.T) *audit.Metrics {
	t.Helper()
	m, err := audit.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// CheckCounters reports an error unless the sent, retried and permanently
// dropped counters of sink hold the given values.
func CheckCounters(t *testing.T, m *audit.Metrics, sink string, sent, retried, dropped float64) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"sent", testutil.ToFloat64(m.Sent.WithLabelValues(sink)), sent},
		{"retried", testutil.ToFloat64(m.Retried.WithLabelValues(sink)), retried},
		{"dropped", testutil.ToFloat64(m.Dropped.WithLabelValues(sink, audit.DropPermanent)), dropped},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// deadEndpoints returns, by name, the URLs of a server that accepts
// requests and never answers, and of a closed port.
func deadEndpoints(t *testing.T) map[string]string {
	hang := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); hung.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	return map[string]string{"hanging": hung.URL, "closed port": closed}
}

// CheckDeadEndpointNeverBlocks points a sink (open returns it with its
// metrics, labelled sink) at a hanging server and at a closed port, and
// emits 2000 events into each: no Emit may wait for the network, the full
// queue must count queue_full drops, Close must give up at its deadline,
// and nothing may count as sent.
func CheckDeadEndpointNeverBlocks(t *testing.T, sink string, open func(t *testing.T, url string) (audit.Sink, *audit.Metrics)) {
	for name, url := range deadEndpoints(t) {
		t.Run(name, func(t *testing.T) {
			s, m := open(t, url)
			em, err := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{s}})
			if err != nil {
				t.Fatal(err)
			}
			const n = 2000
			blocked := 0
			for range n {
				done := make(chan struct{})
				go func() {
					em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow})
					close(done)
				}()
				select {
				case <-done:
				case <-time.After(5 * time.Second): // "blocked", not a performance bound
					blocked++
					<-done
				}
			}
			if blocked != 0 {
				t.Fatalf("%d of %d Emit calls blocked on a dead endpoint", blocked, n)
			}
			if testutil.ToFloat64(m.Dropped.WithLabelValues(sink, audit.DropQueueFull)) == 0 {
				t.Fatal("no queue_full drops counted")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := em.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Close = %v, want deadline exceeded", err)
			}
			if testutil.ToFloat64(m.Sent.WithLabelValues(sink)) != 0 {
				t.Fatal("sent to a dead endpoint")
			}
		})
	}
}

// CheckRedirectsNotFollowed: an intake (or a proxy in front of it) that
// answers with a redirect must not get the batch re-sent elsewhere with the
// credential (307/308 replay the body and every custom header to any host),
// nor count it as delivered when the redirect turns the POST into a GET
// that some page answers 200 (301/302/303). send posts one entry to url
// (the sink's intake) and returns the sender's error; credHeader is the
// header carrying the sink's credential.
func CheckRedirectsNotFollowed(t *testing.T, credHeader string, send func(url string) error) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			var leaked atomic.Int64
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(credHeader) != "" {
					leaked.Add(1)
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer elsewhere.Close()
			redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/collect", code)
			}))
			defer redir.Close()
			err := send(redir.URL)
			if leaked.Load() != 0 {
				t.Errorf("%s sent to the redirect target", credHeader)
			}
			if err == nil {
				t.Fatalf("redirect %d counted as delivered", code)
			}
			if !errors.Is(err, audit.ErrPermanent) {
				t.Errorf("redirect %d: %v, want a permanent error", code, err)
			}
		})
	}
}
