package gateway_test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace endpoint (POST /v1/traces, protobuf)
// that keeps every span it receives.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs []string // resource attributes, "key=value"
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, _ := io.ReadAll(io.LimitReader(body, 8<<20))
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			o.attrs = append(o.attrs, kv.Key+"="+kv.GetValue().GetStringValue())
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(out)
}

func (o *otlpReceiver) snapshot() ([]*tracepb.Span, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*tracepb.Span(nil), o.spans...), append([]string(nil), o.attrs...)
}

// spanAttr is the value of the span attribute key as text ("" if absent).
func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key != key {
			continue
		}
		if v, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_IntValue); ok {
			return strconv.FormatInt(v.IntValue, 10)
		}
		return kv.GetValue().GetStringValue()
	}
	return ""
}

// TestTracingOTLP runs a gateway with A1_OTEL_TRACES=true against an
// in-test OTLP/HTTP receiver: the caller's W3C trace continues through the
// gateway (server span named by route, child span for the storage call),
// the resource names the service, and nothing secret is exported.
func TestTracingOTLP(t *testing.T) {
	g, rcv := startTraced(t, map[string]string{"OTEL_SERVICE_NAME": "a1-gateway-test"})
	sc := newScenario(t)
	if r := g.admin("POST", "/v1/roots", map[string]any{"public_key_hex": sc.human.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}

	traceID, parentID := randHex(16), randHex(8)
	chain := sc.chain(t, 0)
	tp := map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01"}
	if r := g.do("POST", "/v1/authorize", sc.authReq(chain, 0), tp); r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	replayTP := map[string]string{"traceparent": "00-" + randHex(16) + "-" + randHex(8) + "-01"}
	if r := g.do("POST", "/v1/authorize", sc.authReq(chain, 0), replayTP); r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	g.stop() // flushes the span batcher

	spans, res := rcv.snapshot()
	fp := chain.Fingerprint()
	var server, storeSpan, replay *tracepb.Span
	for _, s := range spans {
		if s.Name == "a1.store.authorize" && hex.EncodeToString(s.TraceId) == replayTP["traceparent"][3:35] {
			replay = s
		}
		if hex.EncodeToString(s.TraceId) != traceID {
			continue
		}
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case s.Name == "a1.store.authorize":
			storeSpan = s
		}
	}
	if server == nil || storeSpan == nil {
		t.Fatalf("spans of trace %s: server %v, store %v (received %d spans)", traceID, server != nil, storeSpan != nil, len(spans))
	}
	if server.Name != "POST /v1/authorize" || spanAttr(server, "http.route") != "POST /v1/authorize" {
		t.Errorf("server span name %q route %q", server.Name, spanAttr(server, "http.route"))
	}
	if spanAttr(server, "a1.decision") != "allow" || spanAttr(server, "a1.chain_fingerprint") != hex.EncodeToString(fp[:]) {
		t.Errorf("server span decision attributes: %v", server.Attributes)
	}
	if hex.EncodeToString(server.ParentSpanId) != parentID {
		t.Errorf("server span parent %x, want the caller's %s", server.ParentSpanId, parentID)
	}
	if !bytes.Equal(storeSpan.ParentSpanId, server.SpanId) {
		t.Errorf("store span is not a child of the server span")
	}
	if spanAttr(storeSpan, "db.system.name") != "memory" || spanAttr(storeSpan, "a1.nonces") != "1" {
		t.Errorf("store span attributes: %v", storeSpan.Attributes)
	}
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER && hex.EncodeToString(s.TraceId) == replayTP["traceparent"][3:35] {
			if spanAttr(s, "a1.decision") != "deny" || spanAttr(s, "a1.error_code") != "NONCE_REPLAY" {
				t.Errorf("replay server span attributes: %v", s.Attributes)
			}
		}
	}
	if replay == nil || spanAttr(replay, "a1.store.result") != "replay" || replay.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the replay's store span should carry a1.store.result=replay and no error status: %v", replay)
	}
	if !strings.Contains(strings.Join(res, ","), "service.name=a1-gateway-test") {
		t.Errorf("resource attributes %v: OTEL_SERVICE_NAME not applied", res)
	}
	// The admin call was traced too, but its bearer never leaves the process.
	for _, s := range spans {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.GetValue().GetStringValue(), adminToken) {
				t.Fatalf("span %q attribute %s carries the admin token", s.Name, kv.Key)
			}
		}
	}
}

// startTraced starts a gateway exporting its spans (every 50 ms) to an
// in-test OTLP/HTTP receiver, with extra settings.
func startTraced(t *testing.T, extra map[string]string) (*gw, *otlpReceiver) {
	t.Helper()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	env := baseEnv(t)
	env["A1_OTEL_TRACES"] = "true"
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = srv.URL
	env["OTEL_BSP_SCHEDULE_DELAY"] = "50"
	for k, v := range extra {
		env[k] = v
	}
	return startGateway(t, env), rcv
}
