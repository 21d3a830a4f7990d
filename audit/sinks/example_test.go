package sinks_test

import (
	"context"
	"os"
	"time"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/sinks"
)

func ExampleParse() {
	cfg, err := sinks.FromEnv(os.Getenv) // A1_AUDIT_SINKS, A1_DD_*, A1_SPLUNK_*, …
	if err != nil {
		panic(err)
	}
	metrics, _ := audit.NewMetrics(nil) // pass the gateway's prometheus.Registerer
	ss, err := sinks.Parse(cfg.Spec, cfg, sinks.Deps{Metrics: metrics})
	if err != nil {
		panic(err)
	}
	em, err := audit.NewEmitter(audit.Config{Sinks: ss, GatewayID: "gw-1",
		CheckpointEvery: cfg.CheckpointEvery, CheckpointInterval: cfg.CheckpointInterval})
	if err != nil {
		panic(err)
	}
	em.Emit(audit.Event{Kind: audit.KindAdmin, Action: "root.add", Decision: audit.DecisionAllow, Actor: "ops"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = em.Close(ctx) // flushes every sink within the deadline
}
