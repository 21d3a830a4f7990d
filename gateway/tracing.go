package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/store"
)

// Tracing (A1_OTEL_TRACES=true) exports OpenTelemetry spans over OTLP/HTTP.
// The exporter, batching and sampler follow the standard variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES). Incoming W3C traceparent headers are honoured,
// so an agent's trace continues through the gateway. Spans carry decisions,
// error codes, fingerprints and public keys, never keys, tokens or bodies.
// With tracing off nothing is installed on the request path.
//
// What a client sends is bounded on a span as in the audit event: span names
// are route patterns or methods (never a path, a fingerprint or a method the
// client invented: a tracing backend indexes names), string attributes are
// cut to spanAttrLimit, and client.address is the client IP the gateway
// resolved (otelhttp would believe any X-Forwarded-For).

// spanAttrLimit bounds every string attribute of a span (in characters, the
// SDK's unit) unless OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT or
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT sets another bound, and the a1.*
// attributes in bytes whatever that bound (as audit.MaxFieldBytes bounds the
// audit event's fields).
const spanAttrLimit = audit.MaxFieldBytes

// tracerName is the instrumentation scope of the gateway's own spans.
const tracerName = "github.com/a1-go/a1/gateway"

// openTracing builds the tracer provider (s.tp stays nil when tracing is off)
// and wraps the backend so that each storage call is a span.
func (s *Server) openTracing(ctx context.Context) error {
	if !s.cfg.Traces {
		return nil
	}
	// Before the exporter reads its environment: it reports a malformed
	// variable through the OpenTelemetry logger.
	otelLogTo(s.log)
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return cfgErr("A1_OTEL_TRACES", fmt.Sprintf("cannot create the OTLP exporter: %v", err),
			"check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	}
	// Later sources win: OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
	// override the defaults.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", "a1-gateway"),
			attribute.String("service.version", A1Version),
			attribute.String("a1.gateway_id", s.gatewayID),
			attribute.String("a1.store", s.cfg.Store),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		return cfgErr("OTEL_RESOURCE_ATTRIBUTES", err.Error(), "use key=value pairs separated by commas")
	}
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithRawSpanLimits(spanLimits()))
	s.st = tracedBackend{Backend: s.st, tracer: s.tp.Tracer(tracerName), system: s.cfg.Store}
	return nil
}

// spanLimits are the SDK's limits from the environment, with string
// attributes bounded by spanAttrLimit unless the environment bounds them.
func spanLimits() sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	if l.AttributeValueLengthLimit < 0 {
		l.AttributeValueLengthLimit = spanAttrLimit
	}
	return l
}

// traceHandler wraps the whole handler in a server span per request (W3C
// trace context in and out). The route pattern names the span.
func (s *Server) traceHandler(h http.Handler) http.Handler {
	if s.tp == nil {
		return h
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// otelhttp took client.address from X-Forwarded-For whoever sent
		// it: replace it with the address the gateway believes.
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			addr := ""
			if ip := clientIP(r, s.cfg.ProxyMode, s.cfg.TrustedProxies); ip.IsValid() {
				addr = ip.String()
			}
			span.SetAttributes(attribute.String("client.address", addr))
		}
		h.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(inner, "a1-gateway",
		otelhttp.WithTracerProvider(s.tp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(spanName))
}

// spanName names a server span. otelhttp calls it when the request arrives
// and again once the mux has matched a route (r.Pattern set): the route
// pattern ("GET /v1/cert/{fingerprint}") then, else the method alone, and
// "HTTP" for a method that is not a standard one (the semantic conventions'
// names when there is no route).
func spanName(_ string, r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return r.Method
	}
	return "HTTP"
}

// nameSpan renames the request's span after its route pattern (the path
// would make one span name per fingerprint or key).
func nameSpan(r *http.Request, pattern string) {
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetName(pattern)
		span.SetAttributes(attribute.String("http.route", pattern))
	}
}

// traceDecision puts the decision of an authorization on its server span:
// the same facts as the audit event (public values only).
func traceDecision(r *http.Request, e *audit.Event) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("a1.decision", e.Decision)}
	for _, kv := range [...]struct{ k, v string }{
		{"a1.error_code", e.ErrorCode}, {"a1.chain_fingerprint", e.ChainFingerprint},
		{"a1.principal", e.Principal}, {"a1.executor", e.Executor}, {"a1.intent", e.Intent},
		{"a1.namespace", e.Namespace}, {"a1.request_id", e.RequestID},
	} {
		if kv.v != "" {
			attrs = append(attrs, attribute.String(kv.k, audit.BoundText(kv.v, spanAttrLimit)))
		}
	}
	if e.Hop != nil {
		attrs = append(attrs, attribute.Int("a1.hop", *e.Hop))
	}
	if e.BatchSize > 0 {
		attrs = append(attrs, attribute.Int("a1.batch_size", e.BatchSize))
	}
	span.SetAttributes(attrs...)
}

// tracedBackend records one client span per storage call.
type tracedBackend struct {
	Backend
	tracer trace.Tracer
	system string
}

func (b tracedBackend) span(ctx context.Context, op, tenant string) (context.Context, trace.Span) {
	return b.tracer.Start(ctx, "a1.store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", b.system), attribute.String("a1.tenant", tenant)))
}

// end closes a storage span. A revoked cert or a replayed nonce is the
// store's answer, not its failure: it is an attribute, and only errors such
// as ErrUnavailable mark the span as failed.
func end(span trace.Span, err error) {
	switch {
	case err == nil:
	case errors.Is(err, store.ErrRevoked):
		span.SetAttributes(attribute.String("a1.store.result", "revoked"))
	case errors.Is(err, store.ErrReplay):
		span.SetAttributes(attribute.String("a1.store.result", "replay"))
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (b tracedBackend) Authorize(ctx context.Context, req store.AuthorizeRequest) error {
	ctx, span := b.span(ctx, "authorize", req.Tenant)
	span.SetAttributes(attribute.Int("a1.fingerprints", len(req.Fingerprints)), attribute.Int("a1.nonces", len(req.Nonces)))
	err := b.Backend.Authorize(ctx, req)
	end(span, err)
	return err
}

func (b tracedBackend) Revoke(ctx context.Context, tenant string, revs []store.Revocation) (int, error) {
	ctx, span := b.span(ctx, "revoke", tenant)
	n, err := b.Backend.Revoke(ctx, tenant, revs)
	end(span, err)
	return n, err
}

func (b tracedBackend) RevocationStatus(ctx context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error) {
	ctx, span := b.span(ctx, "revocation_status", tenant)
	r, ok, err := b.Backend.RevocationStatus(ctx, tenant, fp)
	end(span, err)
	return r, ok, err
}

func (b tracedBackend) AllowRate(ctx context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error) {
	ctx, span := b.span(ctx, "allow_rate", "")
	d, err := b.Backend.AllowRate(ctx, key, ratePerSec, burst)
	end(span, err)
	return d, err
}

func (b tracedBackend) Ping(ctx context.Context) error {
	ctx, span := b.span(ctx, "ping", "")
	err := b.Backend.Ping(ctx)
	end(span, err)
	return err
}

// otelLogTo sends what the OpenTelemetry SDK reports (its global logger and
// error handler, by default plain text on stderr whatever A1_LOG_FORMAT) to
// log, as warnings. Messages and errors only: the SDK's key-value pairs
// carry the raw configuration it could not parse (an
// OTEL_EXPORTER_OTLP_HEADERS pair is a collector credential), so they are
// dropped, as is the URL of a URL parse error; an error's text (an export
// refused by the collector quotes its response body) is bounded. Both are
// process-wide settings.
func otelLogTo(log *slog.Logger) {
	otel.SetLogger(logr.New(otelSink{log: log}))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry: trace export error", "err", otelErrText(err))
	}))
}

// otelErrMax bounds the text of an error the SDK reports.
const otelErrMax = 512

func otelErrText(err error) string {
	if err == nil {
		return ""
	}
	// A URL that does not parse is raw configuration (it may carry a
	// password): only its operation and cause are kept; one that parses is
	// shown without its password.
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		shown := ""
		if u, perr := url.Parse(ue.URL); perr == nil {
			shown = " " + strconv.Quote(u.Redacted())
		}
		err = fmt.Errorf("%s%s: %w", ue.Op, shown, ue.Err)
	}
	return audit.BoundText(err.Error(), otelErrMax)
}

// otelSink is the logr sink of the OpenTelemetry SDK's logger: errors and
// warnings (the SDK logs warnings at V(1), information at V(4) and debug
// at V(8)), without their key-value pairs.
type otelSink struct{ log *slog.Logger }

func (otelSink) Init(logr.RuntimeInfo)  {}
func (otelSink) Enabled(level int) bool { return level <= 1 }
func (k otelSink) Info(_ int, msg string, _ ...any) {
	k.log.Warn("opentelemetry: " + audit.BoundText(msg, otelErrMax))
}
func (k otelSink) Error(err error, msg string, _ ...any) {
	k.log.Warn("opentelemetry: "+audit.BoundText(msg, otelErrMax), "err", otelErrText(err))
}
func (k otelSink) WithValues(...any) logr.LogSink { return k }
func (k otelSink) WithName(string) logr.LogSink   { return k }
