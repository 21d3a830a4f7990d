package a1_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/a1-go/a1"
)

// A human delegates a scope to an orchestrator, which narrows it for a
// tool; the tool's chain is verified against the human's key.
func ExampleVerifier_Verify() {
	human := ed25519.NewKeyFromSeed(make([]byte, 32))
	orch, _ := newKey(2)
	_, toolPK := newKey(3)
	humanPK, _ := a1.PublicKeyOf(human)
	orchPK, _ := a1.PublicKeyOf(orch)

	scope := []a1.IntentHash{mustHash("trade.equity"), mustHash("portfolio.read")}
	tree, _ := a1.NewIntentTree(scope)
	now := uint64(time.Now().Unix())

	c0, _ := a1.NewCert(orchPK, scope, now, 3600)
	_ = c0.Sign(human)
	c1, _ := a1.NewSubCert(toolPK, tree, []a1.IntentHash{mustHash("trade.equity")}, now, 600)
	_ = c1.Sign(orch)
	chain := a1.NewChain(humanPK, tree.Root(), c0, c1)

	v := a1.NewVerifier(a1.NewRootSet(humanPK))
	res, err := v.Verify(&a1.Request{Chain: chain, Executor: toolPK, Intent: mustHash("trade.equity")})
	fmt.Println(err, res.Depth)

	_, err = v.Verify(&a1.Request{Chain: chain, Executor: toolPK, Intent: mustHash("portfolio.read")})
	fmt.Println(a1.ErrorCode(err))
	// Output:
	// <nil> 2
	// SCOPE_VIOLATION
}

// Authorize adds the storage step: revocation and single-use nonces.
func ExampleVerifier_Authorize() {
	holder, _ := newKey(4)
	_, agentPK := newKey(5)
	now := uint64(time.Now().Unix())
	pp, _ := a1.IssuePassport(holder, "acme", []string{"trade.equity", "portfolio.read"}, now, 86400)
	sub, _ := pp.IssueSub(holder, agentPK, []string{"trade.equity"}, now, 600)

	v := a1.NewVerifier(a1.NewRootSet(pp.Holder()))
	req := &a1.Request{Chain: pp.Chain(sub), Executor: agentPK, Intent: mustHash("trade.equity"), Action: "trade.equity"}
	st := newMemState()
	_, err := v.Authorize(context.Background(), req, "", st)
	fmt.Println(err)
	_, err = v.Authorize(context.Background(), req, "", st)
	fmt.Println(a1.ErrorCode(err))
	// Output:
	// <nil>
	// NONCE_REPLAY
}

func ExampleHashIntent() {
	h, _ := a1.HashIntent("trade.equity", nil)
	fmt.Println(h.Hex())
	// Output: 780f7f1771ee960db764b5fe73fdd7ba0f28feefa6ba03fda769e06764ea9f87
}

func mustHash(action string) a1.IntentHash {
	h, err := a1.HashIntent(action, nil)
	if err != nil {
		panic(err)
	}
	return h
}
