package audit

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for dropped events (label "reason" of a1_audit_events_dropped_total).
const (
	DropQueueFull        = "queue_full"
	DropPermanent        = "permanent"
	DropRetriesExhausted = "retries_exhausted"
	DropTooLarge         = "too_large"
	DropEncode           = "encode"
	DropClosed           = "closed"
	DropShutdown         = "shutdown"
)

// Metrics are the per-sink delivery counters. One Metrics is shared by every
// sink of a process; each sink adds its own "sink" label value.
type Metrics struct {
	Queued  *prometheus.CounterVec // a1_audit_events_queued_total{sink}
	Sent    *prometheus.CounterVec // a1_audit_events_sent_total{sink}
	Retried *prometheus.CounterVec // a1_audit_events_retried_total{sink}
	Dropped *prometheus.CounterVec // a1_audit_events_dropped_total{sink,reason}
}

// NewMetrics creates the counters and registers them with reg (nil: not
// registered). Registering twice with the same registry reuses the
// collectors already registered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_audit_events_queued_total",
			Help: "Audit events accepted into a sink's queue.",
		}, []string{"sink"}),
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_audit_events_sent_total",
			Help: "Audit events delivered by a sink.",
		}, []string{"sink"}),
		Retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_audit_events_retried_total",
			Help: "Audit events whose delivery attempt failed and was retried.",
		}, []string{"sink"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "a1_audit_events_dropped_total",
			Help: "Audit events a sink dropped, by reason.",
		}, []string{"sink", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, p := range []**prometheus.CounterVec{&m.Queued, &m.Sent, &m.Retried, &m.Dropped} {
		if err := reg.Register(*p); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, err
			}
			*p = existing
		}
	}
	return m, nil
}

// sinkCounters are one sink's pre-resolved counters.
type sinkCounters struct {
	queued, sent, retried prometheus.Counter
	dropped               map[string]prometheus.Counter
}

func (m *Metrics) forSink(name string) *sinkCounters {
	c := &sinkCounters{
		queued:  m.Queued.WithLabelValues(name),
		sent:    m.Sent.WithLabelValues(name),
		retried: m.Retried.WithLabelValues(name),
		dropped: map[string]prometheus.Counter{},
	}
	for _, r := range []string{DropQueueFull, DropPermanent, DropRetriesExhausted,
		DropTooLarge, DropEncode, DropClosed, DropShutdown} {
		c.dropped[r] = m.Dropped.WithLabelValues(name, r)
	}
	return c
}
