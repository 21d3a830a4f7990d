package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"strings"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/ndjson"
)

func ExampleEmitter() {
	var log bytes.Buffer
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	em, err := audit.NewEmitter(audit.Config{
		Sinks:     []audit.Sink{ndjson.NewWriter(&log, audit.AsyncOptions{})},
		GatewayID: "gw-1",
		Signer:    key, // signs checkpoints, and a final one on Close
		KeyID:     "audit-2026",
	})
	if err != nil {
		panic(err)
	}
	hop := 1
	ev := em.Emit(audit.Event{
		Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionDeny,
		ErrorCode: "CERT_REVOKED", Hop: &hop, Intent: "payments.send",
	})
	fmt.Println(ev.Seq, ev.Prev == audit.ZeroDigest, len(ev.Digest))
	if err := em.Close(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(log.String(), "\n"), "lines")
	// Output:
	// 1 true 64
	// 2 lines
}

func ExampleVerify() {
	var log bytes.Buffer
	em, _ := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{ndjson.NewWriter(&log, audit.AsyncOptions{})}})
	for range 3 {
		em.Emit(audit.Event{Kind: audit.KindAdmin, Action: "cert.revoke", Decision: audit.DecisionAllow, Actor: "ops"})
	}
	_ = em.Close(context.Background())

	// Delete the second line.
	lines := strings.SplitAfter(log.String(), "\n")
	tampered := lines[0] + lines[2]

	rep, err := audit.Verify(strings.NewReader(tampered), audit.VerifyOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(rep.OK)
	fmt.Print(rep.Problems[0].String()[:29])
	fmt.Println()
	// Output:
	// false
	// line 2: gap: seq 2 missing (s
}

func ExampleVerifyFiles() {
	rep, err := audit.VerifyFiles([]string{"audit.ndjson.1", "audit.ndjson"}, audit.VerifyOptions{RequireFinal: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Print(rep) // one "FILE: line N: reason" per problem, then a summary
}
