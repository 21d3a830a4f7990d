package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
	"github.com/a1-go/a1/internal/cputime"
)

// benchServer is an in-process gateway on the memory store (audit to a
// discarded stdout) and n PoP authorization bodies with distinct nonces.
func benchServer(b *testing.B, n int) (*gateway.Server, [][]byte) {
	sc := newScenario(b)
	env := map[string]string{"A1_STORE": "memory", "A1_TRUSTED_ROOTS": sc.human.pk.Hex(), "A1_GATEWAY_ID": "bench", "A1_RATE_LIMIT_RPS": "0"}
	cfg, err := gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	s, err := gateway.NewServer(context.Background(), cfg, gateway.Deps{Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	chain := sc.chain(b, 0)
	base := sc.authReq(chain, 0)
	bodies := make([][]byte, n)
	for i := range bodies {
		p, _ := a1.SignPoP(sc.tool.signer(), "bench", chain.Fingerprint(), sc.intents[0], now())
		base["proof"] = p.JSON()
		bodies[i], _ = json.Marshal(base)
	}
	return s, bodies
}

// BenchmarkHandler measures one PoP authorization through the full handler
// (decode, verify, memory store, receipt, audit) without the network.
func BenchmarkHandler(b *testing.B) {
	s, bodies := benchServer(b, b.N)
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("POST", "/v1/authorize", bytes.NewReader(bodies[i]))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
	}
	b.StopTimer()
	cputime.Report(b, cpu) // includes the audit goroutine and the GC
}

// BenchmarkHandlerHTTP is BenchmarkHandler over loopback HTTP/1.1 with
// keep-alive, the client in the same process: cpu-ns/op counts the handler,
// both sides of net/http and the GC. Run with -cpu to vary the clients.
func BenchmarkHandlerHTTP(b *testing.B) {
	s, bodies := benchServer(b, b.N)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := srv.URL + "/v1/authorize"
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			resp, err := c.Post(url, "application/json", bytes.NewReader(bodies[i]))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	cputime.Report(b, cpu)
}
