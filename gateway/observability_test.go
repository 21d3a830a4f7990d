package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/a1-go/a1/gateway"
)

// maxSpanAttrBytes bounds every string a span may carry (the gateway's
// default span attribute limit, and audit.MaxFieldBytes for a1.*).
const maxSpanAttrBytes = 1024

// TestObservabilityTracingBounded: what a client sends must not choose span
// names (a tracing backend indexes them, so one name per path, fingerprint
// or invented method is unbounded cardinality there), must not make spans
// arbitrarily large (the batch queue holds 2048 spans: a 1 MiB intent name
// or request_id per span is gigabytes of gateway memory) and must not choose
// client.address (an X-Forwarded-For from an untrusted peer is ignored by
// the gateway, and so must be by its spans).
func TestObservabilityTracingBounded(t *testing.T) {
	g, rcv := startTraced(t, map[string]string{"A1_MAX_HEADER_BYTES": "65536"})
	sc := newScenario(t)
	if r := g.admin("POST", "/v1/roots", map[string]any{"public_key_hex": sc.human.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}

	// Tokens the client chose: none may appear in a span name.
	fp1, fp2, root, tok := randHex(32), randHex(32), newKey(t).pk.Hex(), randHex(8)
	chosen := []string{fp1, fp2, root, tok}
	for _, fp := range []string{fp1, fp2} {
		if r := g.do("GET", "/v1/cert/"+fp, nil, nil); r.status != 200 {
			t.Fatalf("cert status: %d %s", r.status, r.raw)
		}
	}
	if r := g.admin("DELETE", "/v1/roots/"+root, nil); r.status != 200 {
		t.Fatalf("remove root: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/no-such-route/"+tok, nil, nil); r.status != 404 {
		t.Fatalf("unknown path: %d", r.status)
	}
	if r := g.do("BREW"+tok, "/v1/authorize", nil, nil); r.status != 405 {
		t.Fatalf("unknown method: %d", r.status)
	}
	if r := g.do("GET", "//v1/cert/"+fp1, nil, nil); r.status != 404 {
		t.Fatalf("non-canonical path: %d", r.status)
	}

	// Oversized client strings: intent name and request_id (recorded on
	// the span before the request is refused), User-Agent; and a spoofed
	// X-Forwarded-For from a peer that is not a trusted proxy.
	body := sc.authReq(sc.chain(t, 0), 0)
	body["intent_name"] = strings.Repeat("i", 256<<10)
	body["request_id"] = strings.Repeat("r", 256<<10)
	hdr := map[string]string{"User-Agent": strings.Repeat("u", 32<<10), "X-Forwarded-For": "203.0.113.77"}
	if r := g.do("POST", "/v1/authorize", body, hdr); r.status != 400 {
		t.Fatalf("oversized authorize: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/authorize", sc.authReq(sc.chain(t, 0), 0), hdr); r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	g.stop() // flushes the span batcher

	spans, _ := rcv.snapshot()
	names := map[string]bool{"HTTP": true}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"} {
		names[m] = true
	}
	for _, rt := range gateway.RouteTable() {
		names[rt.Method+" "+rt.Path] = true
	}
	var certSpans, servers int
	sawLong := false
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			servers++
			if !names[s.Name] {
				t.Errorf("server span named %.80q: not a route pattern or a method", s.Name)
			}
			if s.Name == "GET /v1/cert/{fingerprint}" {
				certSpans++
			}
			if a := spanAttr(s, "client.address"); a != "" && a != "127.0.0.1" {
				t.Errorf("server span %q: client.address %q, want the peer (X-Forwarded-For is not trusted)", s.Name, a)
			}
		} else if !strings.HasPrefix(s.Name, "a1.store.") {
			t.Errorf("unexpected span %.80q", s.Name)
		}
		for _, c := range chosen {
			if strings.Contains(s.Name, c) {
				t.Errorf("span name %.80q carries the client's %q", s.Name, c)
			}
		}
		for _, kv := range s.Attributes {
			v := kv.GetValue().GetStringValue()
			if len(v) > maxSpanAttrBytes {
				t.Errorf("span %q attribute %s is %d bytes (> %d)", s.Name, kv.Key, len(v), maxSpanAttrBytes)
			}
			if kv.Key == "a1.intent" && len(v) >= maxSpanAttrBytes/2 {
				sawLong = true
			}
		}
	}
	if certSpans != 2 {
		t.Errorf("%d spans named GET /v1/cert/{fingerprint}, want 2 (server spans: %d)", certSpans, servers)
	}
	if !sawLong {
		t.Errorf("no span carries the (cut) oversized intent: the oversized request was not traced")
	}
}

// TestObservabilityOTelLogs: the OpenTelemetry SDK reports problems through
// its own global logger and error handler, which by default print plain
// text to stderr, bypassing A1_LOG_FORMAT: a malformed
// OTEL_EXPORTER_OTLP_HEADERS pair was printed with its value (the collector
// credential), and an export refused by the collector was printed with the
// collector's response body verbatim, so its newlines forged log lines.
// Both now go through the gateway's logger, bounded and without the
// configuration values.
func TestObservabilityOTelLogs(t *testing.T) {
	const secret = "otlp-credential-never-logged-7f3a"
	forged := `{"level":"ERROR","msg":"forged by the collector","component":"gateway"}`
	var hits syncBuf
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Write([]byte{'.'})
		http.Error(w, "refused\n"+forged, http.StatusBadRequest)
	}))
	defer srv.Close()
	env := baseEnv(t)
	env["A1_LOG_FORMAT"] = "json"
	env["A1_OTEL_TRACES"] = "true"
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = srv.URL
	env["OTEL_BSP_SCHEDULE_DELAY"] = "50"
	// "Name: value" instead of "Name=value": a common mistake.
	env["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization: Bearer " + secret + ",x-api-key=%zz" + secret
	g := startGateway(t, env)
	for range 3 {
		g.do("GET", "/healthz", nil, nil)
	}
	waitFor(t, 10*time.Second, "an export attempt", func() bool { return hits.String() != "" })
	g.stop()

	logs := g.stderr.String()
	checkNoSecrets(t, "stderr", logs, secret)
	sawExport, sawHeaders := false, false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON (A1_LOG_FORMAT=json): %.200q", line)
			continue
		}
		if rec["msg"] == "forged by the collector" {
			t.Errorf("the collector's response body forged a log line: %s", line)
		}
		if rec["component"] != "gateway" {
			t.Errorf("log line without component=gateway: %.200s", line)
		}
		m, _ := rec["msg"].(string)
		if strings.Contains(m, "opentelemetry") && strings.Contains(line, "400") {
			sawExport = true
		}
		if strings.HasPrefix(m, "opentelemetry:") && strings.Contains(m, "header") {
			sawHeaders = true
		}
	}
	if !sawExport {
		t.Errorf("the refused export is not logged through the gateway logger: %.2000s", logs)
	}
	if !sawHeaders {
		t.Errorf("the malformed OTEL_EXPORTER_OTLP_HEADERS is not reported through the gateway logger: %.2000s", logs)
	}
}

// scrape returns the gateway's metric families.
func scrape(t *testing.T, g *gw) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := g.client.Get(g.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// series lists the a1_* series of fams as "name{k=v,...}", sorted.
func series(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for name, f := range fams {
		if !strings.HasPrefix(name, "a1_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out = append(out, name+"{"+strings.Join(ls, ",")+"}")
		}
	}
	sort.Strings(out)
	return out
}

// value is the counter, gauge or histogram count of the series of name
// whose labels are exactly want (nil: no labels), or -1 if absent.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	for _, m := range fams[name].GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				match = false
			}
		}
		if match {
			return m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestObservabilityMetrics drives a gateway through every kind of outcome
// and scrapes /metrics: each counter moves by exactly what happened, the
// latency histogram counts every decision, each decision and admin action
// is one audit event, and a flood of requests whose paths, methods, headers,
// intents and ids are all random adds no series (no label takes a value
// from the request).
func TestObservabilityMetrics(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)

	const az = "/v1/authorize"
	chain := sc.chain(t, 0)
	if r := g.post(az, sc.authReq(chain, 0)); r.status != 200 {
		t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	if r := g.post(az, sc.authReq(chain, 0)); r.code() != "NONCE_REPLAY" {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	if r := g.post(az, "{"); r.code() != "MALFORMED_REQUEST" {
		t.Fatalf("bad JSON: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", az, "{}", map[string]string{"Content-Type": "text/plain"}); r.code() != "UNSUPPORTED_MEDIA_TYPE" {
		t.Fatalf("415: %d %s", r.status, r.raw)
	}
	stranger := newScenario(t) // a principal the gateway does not trust
	untrusted := g.post(az, stranger.authReq(stranger.chain(t, 0), 0))
	if untrusted.status/100 != 4 || untrusted.code() == "" {
		t.Fatalf("untrusted root: %d %s", untrusted.status, untrusted.raw)
	}
	if r := g.post("/v1/authorize/batch", sc.batchBody(sc.chain(t, 0, 1), 0, 1)); r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	if r := g.admin("GET", "/v1/roots", nil); r.status != 200 {
		t.Fatalf("roots: %d", r.status)
	}
	if r := g.do("GET", "/v1/roots", nil, map[string]string{"Authorization": "Bearer wrong-token-" + randHex(8)}); r.status != 401 {
		t.Fatalf("wrong bearer: %d", r.status)
	}
	issued := g.admin("POST", "/v1/cert/issue", map[string]any{"delegate_pk_hex": sc.tool.pk.Hex(),
		"intents": []map[string]any{{"name": "trade.fx"}}})
	if issued.status != 201 {
		t.Fatalf("issue: %d %s", issued.status, issued.raw)
	}
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": issued.body["fingerprint_hex"]}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}

	m := scrape(t, g)
	dec := func(route, result, code string) float64 {
		return value(m, "a1_authorizations_total", map[string]string{"route": route, "result": result, "error_code": code})
	}
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"allow", dec(az, "allow", ""), 1},
		{"replay", dec(az, "deny", "NONCE_REPLAY"), 1},
		{"malformed", dec(az, "deny", "MALFORMED_REQUEST"), 1},
		{"415", dec(az, "deny", "UNSUPPORTED_MEDIA_TYPE"), 1},
		{"untrusted", dec(az, "deny", untrusted.code()), 1},
		{"batch allow", dec("/v1/authorize/batch", "allow", ""), 1},
		{"latency count", value(m, "a1_authorization_latency_seconds", map[string]string{"route": az}), 5},
		{"batch latency count", value(m, "a1_authorization_latency_seconds", map[string]string{"route": "/v1/authorize/batch"}), 1},
		{"nonce replays", value(m, "a1_nonce_replays_total", nil), 1},
		{"admin roots.list ok", value(m, "a1_admin_actions_total", map[string]string{"action": "roots.list", "result": "ok"}), 1},
		{"admin unauthorized", value(m, "a1_admin_actions_total", map[string]string{"action": "/v1/roots", "result": "unauthorized"}), 1},
		{"admin cert.issue ok", value(m, "a1_admin_actions_total", map[string]string{"action": "cert.issue", "result": "ok"}), 1},
		{"admin cert.revoke ok", value(m, "a1_admin_actions_total", map[string]string{"action": "cert.revoke", "result": "ok"}), 1},
		{"certs issued", value(m, "a1_certs_issued_total", nil), 1},
		{"revocations", value(m, "a1_revocations_total", nil), 1},
		{"rate limited (limiter off)", value(m, "a1_rate_limited_total", nil), 0},
		{"storage errors", float64(len(m["a1_storage_errors_total"].GetMetric())), 0},
		{"build info", value(m, "a1_gateway_build_info", map[string]string{"version": "(devel)", "a1_version": gateway.A1Version,
			"storage_backend": "memory", "gateway_id": g.discovery()["gateway_id"].(string)}), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}

	// One audit event per decision and per admin action (the 3 key.rotate
	// events at start included), all delivered and counted.
	decisions, admins := 0.0, 0.0
	for _, x := range m["a1_authorizations_total"].GetMetric() {
		decisions += x.GetCounter().GetValue()
	}
	for _, x := range m["a1_admin_actions_total"].GetMetric() {
		admins += x.GetCounter().GetValue()
	}
	want := int(decisions + admins + 3)
	waitFor(t, 10*time.Second, "the audit events", func() bool {
		return metricSum(t, g, "a1_audit_events_sent_total", map[string]string{"sink": "stdout"}) >= float64(want)
	})
	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(g.audit.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line: %v: %.200s", err, line)
		}
		kinds[ev["kind"].(string)]++
	}
	if got := kinds["authorize"] + kinds["authorize_batch"]; float64(got) != decisions {
		t.Errorf("%d authorization events for %v decisions", got, decisions)
	}
	if float64(kinds["admin"]) != admins+3 {
		t.Errorf("%d admin events for %v admin actions + 3 key events", kinds["admin"], admins)
	}
	m = scrape(t, g)
	if q, s := value(m, "a1_audit_events_queued_total", map[string]string{"sink": "stdout"}),
		value(m, "a1_audit_events_sent_total", map[string]string{"sink": "stdout"}); q != float64(want) || s != float64(want) {
		t.Errorf("audit stdout queued %v sent %v, want %d", q, s, want)
	}
	if d := metricSum(t, g, "a1_audit_events_dropped_total", nil); d != 0 {
		t.Errorf("audit events dropped: %v", d)
	}

	// Cardinality: after one flood has created whatever series its
	// outcomes need, a second flood of other random values adds none.
	flood := func() []string {
		tok := randHex(6)
		hdr := map[string]string{"X-Request-Id": "id-" + tok, "User-Agent": "ua-" + tok,
			"X-Forwarded-For": "198.51.100.7", "X-A1-Tenant": tok, "Authorization": "Bearer " + tok}
		g.do("GET", "/p-"+tok, nil, hdr)
		g.do("M"+tok, az, nil, hdr)
		g.do("GET", "/v1/cert/"+randHex(32), nil, hdr)
		g.do("DELETE", "/v1/roots/"+randHex(32), nil, hdr)
		g.do("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": tok}, hdr)
		b := sc.authReq(sc.chain(t, 0), 0)
		b["intent_name"], b["request_id"] = "i-"+tok, "r-"+tok
		g.do("POST", az, b, hdr)
		b["intent_name"] = "bad name " + tok
		g.do("POST", "/v1/passport/authorize", b, hdr)
		g.do("POST", "/v1/authorize/batch", map[string]any{"intents": []any{}, "request_id": tok}, hdr)
		return series(scrape(t, g))
	}
	flood()
	first := flood()
	second := flood()
	if strings.Join(first, "\n") != strings.Join(second, "\n") {
		t.Errorf("a flood of new random request values added series:\nbefore %v\nafter  %v", first, second)
	}
	for _, s := range second {
		if strings.Contains(s, "id-") || strings.Contains(s, "ua-") || strings.Contains(s, "/p-") || strings.Contains(s, "198.51.100.7") {
			t.Errorf("series %s carries a request value", s)
		}
	}
}

// TestObservabilityRateLimitedMetric: a 429 moves a1_rate_limited_total and
// is no authorization decision.
func TestObservabilityRateLimitedMetric(t *testing.T) {
	env := baseEnv(t)
	env["A1_RATE_LIMIT_RPS"] = "0.001"
	env["A1_RATE_LIMIT_BURST"] = "1"
	g := startGateway(t, env)
	g.post("/v1/authorize", "{")
	if r := g.post("/v1/authorize", "{"); r.status != 429 {
		t.Fatalf("second request: %d %s, want 429", r.status, r.raw)
	}
	m := scrape(t, g)
	if v := value(m, "a1_rate_limited_total", nil); v != 1 {
		t.Errorf("a1_rate_limited_total %v, want 1", v)
	}
	if v := value(m, "a1_authorizations_total", map[string]string{"route": "/v1/authorize", "result": "deny", "error_code": "MALFORMED_REQUEST"}); v != 1 {
		t.Errorf("decisions: %v, want the one request that passed the limiter", v)
	}
	if v := value(m, "a1_rate_limit_local_total", nil); v != 0 {
		t.Errorf("a1_rate_limit_local_total %v with a working shared limiter", v)
	}
}

// TestObservabilityStorageErrorMetrics: with the PostgreSQL link cut, an
// authorization, a revocation status and an admin revocation each answer
// 503, are counted in a1_storage_errors_total under their op, and the
// authorization is a decision with result error.
func TestObservabilityStorageErrorMetrics(t *testing.T) {
	u := pgURL(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p := newLinkProxy(t, pu.Host)
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_STORE"] = "postgres"
	env["A1_PG_URL"] = withHost(t, u, p.Addr())
	env["A1_MIGRATE"] = "true"
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 200 {
		t.Fatalf("authorize before the cut: %d %s", r.status, r.raw)
	}
	p.Cut()
	if r := g.post("/v1/authorize", sc.authReq(sc.chain(t, 0), 0)); r.status != 503 {
		t.Fatalf("authorize during the outage: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/cert/"+randHex(32), nil, nil); r.status != 503 {
		t.Fatalf("cert status during the outage: %d %s", r.status, r.raw)
	}
	if r := g.admin("POST", "/v1/cert/revoke", map[string]any{"fingerprint_hex": randHex(32)}); r.status != 503 {
		t.Fatalf("revoke during the outage: %d %s", r.status, r.raw)
	}
	m := scrape(t, g)
	for _, op := range []string{"authorize", "revocation_status", "cert.revoke"} {
		if v := value(m, "a1_storage_errors_total", map[string]string{"op": op}); v != 1 {
			t.Errorf("a1_storage_errors_total{op=%q} %v, want 1", op, v)
		}
	}
	if v := value(m, "a1_authorizations_total", map[string]string{"route": "/v1/authorize", "result": "error", "error_code": "STORAGE_UNAVAILABLE"}); v != 1 {
		t.Errorf("error decisions %v, want 1", v)
	}
	if v := value(m, "a1_admin_actions_total", map[string]string{"action": "cert.revoke", "result": "STORAGE_UNAVAILABLE"}); v != 1 {
		t.Errorf("admin cert.revoke STORAGE_UNAVAILABLE %v, want 1", v)
	}
}

// TestObservabilityListRevocationsBadQueryAudited: a refused GET
// /v1/revocations (bad limit, malformed cursor) is an admin action like any
// other: one revocations.list event with its error code, and the admin
// counter moves. Both were written as plain errors, unaudited.
func TestObservabilityListRevocationsBadQueryAudited(t *testing.T) {
	g := startGateway(t, baseEnv(t))
	defer g.stop()
	for _, q := range []string{"?limit=0", "?cursor=%21%21"} {
		if r := g.admin("GET", "/v1/revocations"+q, nil); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
			t.Fatalf("%s: %d %s, want 400 MALFORMED_REQUEST", q, r.status, r.raw)
		}
	}
	waitFor(t, 5*time.Second, "two revocations.list audit events", func() bool {
		return strings.Count(g.audit.String(), `"action":"revocations.list"`) >= 2
	})
	for _, line := range strings.Split(g.audit.String(), "\n") {
		if !strings.Contains(line, `"action":"revocations.list"`) {
			continue
		}
		var ev struct {
			Decision  string `json:"decision"`
			ErrorCode string `json:"error_code"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ErrorCode != "MALFORMED_REQUEST" || ev.Decision == "allow" {
			t.Errorf("revocations.list event %s", line)
		}
	}
	if n := metricSum(t, g, "a1_admin_actions_total", map[string]string{"action": "revocations.list", "result": "MALFORMED_REQUEST"}); n != 2 {
		t.Errorf("a1_admin_actions_total for the refused lists: %v, want 2", n)
	}
}
