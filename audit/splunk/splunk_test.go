package splunk

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/internal/sinktest"
)

type hecReceived struct {
	mu     sync.Mutex
	events []map[string]json.RawMessage
	reqs   int
}

// hec is a fake HEC endpoint checking what Splunk requires.
func hec(t *testing.T, tlsSrv bool, rcv *hecReceived, answer func(n int) (int, http.Header, string)) *httptest.Server {
	var calls atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		switch {
		case r.Method != http.MethodPost:
			t.Errorf("method %s", r.Method)
		case r.URL.Path != "/services/collector/event":
			t.Errorf("path %s", r.URL.Path)
		case r.Header.Get("Authorization") != "Splunk t0ken":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"text":"Invalid authorization","code":3}`)
			return
		case r.Header.Get("X-Splunk-Request-Channel") != "0f6a7c39-8d2e-4b1a-9c1e-1a2b3c4d5e6f":
			t.Errorf("channel = %q", r.Header.Get("X-Splunk-Request-Channel"))
		}
		body, _ := io.ReadAll(r.Body)
		dec := json.NewDecoder(bytes.NewReader(body))
		var evs []map[string]json.RawMessage
		for dec.More() {
			var ev map[string]json.RawMessage
			if err := dec.Decode(&ev); err != nil {
				t.Errorf("body is not concatenated JSON objects: %v", err)
				return
			}
			evs = append(evs, ev)
		}
		if len(body) > MaxRequestBytes {
			t.Errorf("request of %d bytes", len(body))
		}
		rcv.mu.Lock()
		rcv.events = append(rcv.events, evs...)
		rcv.reqs++
		rcv.mu.Unlock()
		status, hdr, text := http.StatusOK, http.Header{}, `{"text":"Success","code":0}`
		if answer != nil {
			status, hdr, text = answer(n)
		}
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	})
	var srv *httptest.Server
	if tlsSrv {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func baseConfig(url string) Config {
	return Config{URL: url, Token: "t0ken", Index: "a1_audit", Host: "gw-1",
		Channel: "0f6a7c39-8d2e-4b1a-9c1e-1a2b3c4d5e6f"}
}

func newSink(t *testing.T, cfg Config, opts audit.AsyncOptions) (*audit.Async, *audit.Metrics) {
	t.Helper()
	m := sinktest.Metrics(t)
	opts.Metrics = m
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func emit(t *testing.T, sink audit.Sink, n int) []audit.Event {
	t.Helper()
	em, err := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}, GatewayID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for range n {
		out = append(out, em.Emit(audit.Event{Kind: audit.KindAdmin, Action: "cert.revoke", Decision: audit.DecisionAllow, Actor: "ops"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWireFormatOverTLSWithCA(t *testing.T) {
	rcv := &hecReceived{}
	srv := hec(t, true, rcv, nil)
	cfg := baseConfig(srv.URL)
	cfg.CAFile = caFile(t, srv)
	sink, m := newSink(t, cfg, audit.AsyncOptions{MaxBatch: 40, FlushInterval: time.Hour})
	sent := emit(t, sink, 100)
	if got := testutil.ToFloat64(m.Sent.WithLabelValues("splunk")); got != 100 {
		t.Fatalf("sent = %v", got)
	}
	if rcv.reqs != 3 || len(rcv.events) != 100 {
		t.Fatalf("%d requests, %d events", rcv.reqs, len(rcv.events))
	}
	for i, ev := range rcv.events {
		for k, want := range map[string]string{"host": `"gw-1"`, "source": `"a1"`, "sourcetype": `"_json"`, "index": `"a1_audit"`} {
			if string(ev[k]) != want {
				t.Fatalf("%s = %s, want %s", k, ev[k], want)
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, sent[i].Time)
		if err != nil {
			t.Fatal(err)
		}
		var secs float64
		if err := json.Unmarshal(ev["time"], &secs); err != nil || int64(secs) != ts.Unix() {
			t.Fatalf("time = %s (want epoch %d): %v", ev["time"], ts.Unix(), err)
		}
		// The event is the sealed line, byte for byte.
		computed, claimed, err := audit.LineDigest(ev["event"])
		if err != nil || computed != claimed || !strings.Contains(string(ev["event"]), sent[i].Digest) {
			t.Fatalf("event %d is not the sealed line: %v", i, err)
		}
	}
}

func TestTLSVerification(t *testing.T) {
	rcv := &hecReceived{}
	srv := hec(t, true, rcv, nil)
	batch := []audit.Entry{{Data: []byte(`{"time":1,"event":{}}`)}}

	s, err := newSender(baseConfig(srv.URL)) // system roots only
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), batch)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate accepted: %v", err)
	}
	cfg := baseConfig(srv.URL)
	cfg.InsecureSkipVerify = true
	if s, err = newSender(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatalf("explicit insecure opt-in: %v", err)
	}
	cfg = baseConfig(srv.URL)
	cfg.CAFile = filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(cfg.CAFile, []byte("not pem"), 0o600)
	if _, err := newSender(cfg); err == nil {
		t.Fatal("CA bundle without certificates accepted")
	}
}

func TestHECResponses(t *testing.T) {
	cases := []struct {
		name           string
		answer         func(n int) (int, http.Header, string)
		requests       int
		sent, retried  float64
		dropped        float64
		wantErrContain string
	}{
		{"503 server busy retried with Retry-After", func(n int) (int, http.Header, string) {
			if n == 1 {
				return 503, http.Header{"Retry-After": {"1"}}, `{"text":"Server is busy","code":9}`
			}
			return 200, nil, `{"text":"Success","code":0}`
		}, 2, 2, 2, 0, ""},
		{"500 internal error retried", func(n int) (int, http.Header, string) {
			if n == 1 {
				return 500, nil, `{"text":"Internal server error","code":8}`
			}
			return 200, nil, `{"text":"Success","code":0}`
		}, 2, 2, 2, 0, ""},
		{"400 invalid data format permanent", func(int) (int, http.Header, string) {
			return 400, nil, `{"text":"Invalid data format","code":6,"invalid-event-number":0}`
		}, 1, 0, 0, 2, "HEC code 6"},
		{"403 invalid token permanent", func(int) (int, http.Header, string) {
			return 403, nil, `{"text":"Invalid token","code":4}`
		}, 1, 0, 0, 2, "HEC code 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &hecReceived{}
			srv := hec(t, false, rcv, tc.answer)
			var mu sync.Mutex
			var errs []string
			sink, m := newSink(t, baseConfig(srv.URL), audit.AsyncOptions{FlushInterval: time.Hour,
				BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
				ErrorLog: func(err error) { mu.Lock(); errs = append(errs, err.Error()); mu.Unlock() }})
			emit(t, sink, 2)
			if rcv.reqs != tc.requests {
				t.Errorf("requests = %d, want %d", rcv.reqs, tc.requests)
			}
			sinktest.CheckCounters(t, m, "splunk", tc.sent, tc.retried, tc.dropped)
			mu.Lock()
			defer mu.Unlock()
			if tc.wantErrContain != "" && (len(errs) == 0 || !strings.Contains(errs[0], tc.wantErrContain)) {
				t.Errorf("errors %q lack %q", errs, tc.wantErrContain)
			}
			for _, e := range errs {
				if strings.Contains(e, "t0ken") {
					t.Fatal("token leaked into an error")
				}
			}
		})
	}
}

// TestDeadHECNeverBlocksEmit emits into a sink whose server hangs, and
// into one whose port is closed: no Emit may wait for the network.
func TestDeadHECNeverBlocksEmit(t *testing.T) {
	sinktest.CheckDeadEndpointNeverBlocks(t, "splunk", func(t *testing.T, url string) (audit.Sink, *audit.Metrics) {
		return newSink(t, baseConfig(url), audit.AsyncOptions{QueueSize: 32, MaxBatch: 4, FlushInterval: time.Millisecond})
	})
}

func TestEndpoint(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://s:8088", "https://s:8088/services/collector/event"},
		{"https://s:8088/", "https://s:8088/services/collector/event"},
		{"https://s:8088/services/collector", "https://s:8088/services/collector/event"},
		{"https://s:8088/services/collector/event", "https://s:8088/services/collector/event"},
		{"ftp://s", ""},
		{"https://user:pw@s", ""},
		{"", ""},
	}
	for _, tc := range cases {
		got, err := Config{URL: tc.in}.Endpoint()
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("%q: %q, %v", tc.in, got, err)
		}
	}
}
