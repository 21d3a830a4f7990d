package a1_test

import (
	"context"
	"fmt"
	"time"

	"github.com/a1-go/a1"
)

// An intent tree commits to a scope; an inclusion proof shows that one
// intent is in it without revealing the others.
func ExampleIntentTree_Prove() {
	scope := []a1.IntentHash{mustHash("files.read"), mustHash("files.write"), mustHash("net.fetch")}
	tree, _ := a1.NewIntentTree(scope)
	proof, _ := tree.Prove(mustHash("files.write"))
	fmt.Println(proof.Verify(mustHash("files.write"), tree.Root()))
	fmt.Println(proof.Verify(mustHash("files.delete"), tree.Root()))
	// Output:
	// true
	// false
}

// With a proof of possession the executor signs each request for one
// gateway (the audience): the chain stays reusable, and only the request's
// nonce is consumed.
func ExampleSignPoP() {
	holder, _ := newKey(6)
	agent, agentPK := newKey(7)
	now := uint64(time.Now().Unix())
	pp, _ := a1.IssuePassport(holder, "acme", []string{"files.read"}, now, 86400)
	sub, _ := pp.IssueSub(holder, agentPK, []string{"files.read"}, now, 600)
	chain := pp.Chain(sub)

	v := a1.NewVerifier(a1.NewRootSet(pp.Holder()), a1.WithAudience("gw.example"))
	st := newMemState()
	for range 2 {
		pop, _ := a1.SignPoP(agent, "gw.example", chain.Fingerprint(), mustHash("files.read"), now)
		_, err := v.Authorize(context.Background(), &a1.Request{Chain: chain, Executor: agentPK,
			Intent: mustHash("files.read"), Action: "files.read", PoP: pop}, "", st)
		fmt.Println(err)
	}
	// A PoP for another gateway is refused.
	pop, _ := a1.SignPoP(agent, "other.example", chain.Fingerprint(), mustHash("files.read"), now)
	_, err := v.Verify(&a1.Request{Chain: chain, Executor: agentPK, Intent: mustHash("files.read"), PoP: pop})
	fmt.Println(a1.ErrorCode(err))
	// Output:
	// <nil>
	// <nil>
	// INVALID_PROOF
}

// A VerifiedToken carries a receipt and its MAC, so a downstream service
// holding the MAC key ring can check that the gateway authorized it.
func ExampleNewVerifiedToken() {
	var current, previous [32]byte
	current[0], previous[0] = 1, 2
	r := a1.Receipt{ChainDepth: 2, Intent: mustHash("files.read"), VerifiedAtUnix: 1_700_000_000}

	tok := a1.NewVerifiedToken(r, previous) // minted before a key rotation
	fmt.Println(tok.Verify(current, previous))
	fmt.Println(tok.Verify(current) != nil)
	// Output:
	// <nil>
	// true
}

// A passport is a capability-masked root cert held by an agent operator;
// sub-passports can only narrow it.
func ExampleIssuePassport() {
	holder, _ := newKey(8)
	_, agentPK := newKey(9)
	now := uint64(time.Now().Unix())
	pp, _ := a1.IssuePassport(holder, "acme-bot", []string{"files.read", "files.write"}, now, 86400)
	fmt.Println(pp.Check())

	_, err := pp.IssueSub(holder, agentPK, []string{"files.read", "admin.all"}, now, 600)
	fmt.Println(err != nil)
	// Output:
	// <nil>
	// true
}

// A token bound to the service meant to accept it: that service, naming its
// audience, accepts it; another service does not.
func ExampleNewBoundToken() {
	var macKey [32]byte // the gateway's A1_MAC_KEY_HEX
	intent, _ := a1.HashIntent("trade.equity", map[string]string{"symbol": "AAPL"})
	receipt := a1.Receipt{ChainDepth: 2, Intent: intent, VerifiedAtUnix: 1700000000}
	agent := a1.PublicKey{1} // the executor's public key
	tok, err := a1.NewBoundToken(receipt, a1.TokenBinding{Audience: "trading-api", Executor: agent}, macKey)
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Verify(macKey) == nil, tok.CheckAudience("trading-api") == nil)
	fmt.Println(a1.ErrorCode(tok.CheckAudience("payments-api")))
	// Output:
	// true true
	// TOKEN_AUDIENCE_MISMATCH
}
