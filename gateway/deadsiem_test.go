package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeadSIEMNeverBlocksAuthorization runs a gateway whose Splunk HEC sink
// points at an intake that accepts connections and never answers, with a
// tiny queue. Every authorization must still be answered (none blocked:
// "blocked" is a request that waits on the sink, detected with a bound far
// above any authorization's cost, not a performance assertion), and the
// events that could not be queued are dropped and counted.
func TestDeadSIEMNeverBlocksAuthorization(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	hec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select { // a dead SIEM: hold the request until the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hec.Close()
	defer close(release)

	env := baseEnv(t)
	env["A1_AUDIT_SINKS"] = "stdout,splunk"
	env["A1_SPLUNK_HEC_URL"] = hec.URL
	env["A1_SPLUNK_HEC_TOKEN"] = "hec-token-never-logged"
	env["A1_AUDIT_QUEUE_SIZE"] = "8"
	env["A1_AUDIT_BATCH_SIZE"] = "2"
	env["A1_AUDIT_FLUSH_INTERVAL"] = "10ms"
	env["A1_SHUTDOWN_TIMEOUT"] = "1s" // bounds the final flush into the dead intake
	g := startGateway(t, env)
	sc := newScenario(t)
	if r := g.admin("POST", "/v1/roots", map[string]any{"public_key_hex": sc.human.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}
	aud, _ := g.discovery()["gateway_id"].(string)
	chain := sc.chain(t, 0)
	base := sc.authReq(chain, 0)

	const n = 200
	const blockedAfter = 5 * time.Second
	blocked := 0
	for i := range n {
		start := time.Now()
		r := g.post("/v1/authorize", sc.withPoP(t, base, chain, 0, aud))
		if time.Since(start) > blockedAfter {
			blocked++
		}
		if r.status != 200 {
			t.Fatalf("authorize %d with a dead SIEM: %d %s", i, r.status, r.raw)
		}
	}
	if blocked != 0 {
		t.Fatalf("%d of %d authorizations blocked on the dead SIEM", blocked, n)
	}
	waitFor(t, 5*time.Second, "the sink to reach the dead intake", func() bool { return hits.Load() > 0 })

	dropped := metricSum(t, g, "a1_audit_events_dropped_total", map[string]string{"sink": "splunk"})
	if dropped < n-20 {
		t.Fatalf("dropped splunk events = %v, want most of the %d decisions (queue 8)", dropped, n)
	}
	if got := metricSum(t, g, "a1_audit_events_queued_total", map[string]string{"sink": "stdout"}); got < n {
		t.Fatalf("stdout sink queued %v events, want at least %d", got, n)
	}
	if got := metricSum(t, g, "a1_audit_events_dropped_total", map[string]string{"sink": "stdout"}); got != 0 {
		t.Fatalf("the healthy stdout sink dropped %v events", got)
	}
	g.stop() // flushes the stdout sink (asynchronous like every sink)
	if c := strings.Count(g.audit.String(), `"kind":"authorize"`); c < n {
		t.Fatalf("stdout sink has %d authorize events, want %d", c, n)
	}
	if strings.Contains(g.stderr.String(), "hec-token-never-logged") {
		t.Fatal("the HEC token reached the log")
	}
}

// metricSum adds the values of the /metrics counter or gauge samples of
// the family name whose labels include every label of want.
func metricSum(t *testing.T, g *gw, name string, want map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range scrape(t, g)[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
