package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// BenchmarkHandler measures one PoP authorization through the full handler
// (decode, verify, memory store, receipt, audit) without the network.
func BenchmarkHandler(b *testing.B) {
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
	defer s.Close()
	chain := sc.chain(b, 0)
	base := sc.authReq(chain, 0)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		p, _ := a1.SignPoP(sc.tool.signer(), "bench", chain.Fingerprint(), sc.intents[0], now())
		base["proof"] = p.JSON()
		bodies[i], _ = json.Marshal(base)
	}
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
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
	reportCPU(b, cpu) // includes the audit goroutine and the GC
}
