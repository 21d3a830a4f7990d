package gateway

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/a1-go/a1/audit"
)

// metrics are the gateway's Prometheus collectors, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	decisions   *prometheus.CounterVec   // a1_authorizations_total{route,result,error_code}
	latency     *prometheus.HistogramVec // a1_authorization_latency_seconds{route}
	replays     prometheus.Counter       // a1_nonce_replays_total
	storageErrs *prometheus.CounterVec   // a1_storage_errors_total{op}
	swept       prometheus.Counter       // a1_nonces_swept_total
	rateLimited prometheus.Counter       // a1_rate_limited_total
	rateLocal   prometheus.Counter       // a1_rate_limit_local_total
	admin       *prometheus.CounterVec   // a1_admin_actions_total{action,result}
	revocations prometheus.Counter       // a1_revocations_total
	issued      prometheus.Counter       // a1_certs_issued_total
	conns       prometheus.Gauge         // a1_http_open_connections
	connLimit   prometheus.Gauge         // a1_http_max_connections
	audit       *audit.Metrics
	// hot holds the series every successful authorization updates, per
	// authorize route, resolved once (no label lookup per request).
	hot map[string]hotSeries
}

// hotSeries are the pre-resolved children of one authorize route.
type hotSeries struct {
	allow   prometheus.Counter
	latency prometheus.Observer
}

// authorizeRoutes are the routes whose decisions are counted.
var authorizeRoutes = []string{"/v1/authorize", "/v1/passport/authorize", "/v1/authorize/batch"}

// decision counts one decision and its latency.
func (m *metrics) decision(route, result, code string, seconds float64) {
	if h, ok := m.hot[route]; ok {
		if result == audit.DecisionAllow {
			h.allow.Inc()
		} else {
			m.decisions.WithLabelValues(route, result, code).Inc()
		}
		h.latency.Observe(seconds)
		return
	}
	m.decisions.WithLabelValues(route, result, code).Inc()
	m.latency.WithLabelValues(route).Observe(seconds)
}

func newMetrics(backend, gatewayID string) (*metrics, error) {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_authorizations_total", Help: "Authorization decisions by route, result (allow, deny, error) and error_code.",
		}, []string{"route", "result", "error_code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "a1_authorization_latency_seconds", Help: "Authorization handler latency, decode to response.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "a1_nonce_replays_total", Help: "Authorizations denied because a nonce was already consumed.",
		}),
		storageErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_storage_errors_total", Help: "Storage calls that failed, by op: a request's call was answered 503, except rate_limit (the limiter fails open); ping (probes) and sweep (background nonce sweeps) answer no request.",
		}, []string{"op"}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "a1_nonces_swept_total", Help: "Expired nonces deleted by this gateway's background sweeps.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "a1_rate_limited_total", Help: "Requests rejected with 429.",
		}),
		rateLocal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "a1_rate_limit_local_total",
			Help: "Requests rate-limited by this replica alone because the shared limiter (the storage backend) failed.",
		}),
		admin: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_admin_actions_total", Help: "Admin and revocation actions by action and result.",
		}, []string{"action", "result"}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "a1_revocations_total", Help: "Fingerprints newly revoked through this gateway.",
		}),
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "a1_certs_issued_total", Help: "Certs and passports signed by the gateway key.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "a1_http_open_connections", Help: "Open client connections (A1_MAX_CONNS caps them).",
		}),
		connLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "a1_http_max_connections", Help: "A1_MAX_CONNS: at this many open connections the gateway stops accepting until one closes.",
		}),
	}
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "a1_gateway_build_info", Help: "Build and configuration of this gateway (value 1).",
	}, []string{"version", "a1_version", "storage_backend", "gateway_id"})
	build.WithLabelValues(version, A1Version, backend, gatewayID).Set(1)
	for _, c := range []prometheus.Collector{m.decisions, m.latency, m.replays, m.storageErrs, m.swept, m.rateLimited, m.rateLocal,
		m.admin, m.revocations, m.issued, m.conns, m.connLimit, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector()} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	am, err := audit.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	m.audit = am
	m.hot = make(map[string]hotSeries, len(authorizeRoutes))
	for _, r := range authorizeRoutes {
		m.hot[r] = hotSeries{allow: m.decisions.WithLabelValues(r, audit.DecisionAllow, ""), latency: m.latency.WithLabelValues(r)}
	}
	return m, nil
}
