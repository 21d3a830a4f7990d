package client_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// exampleSetup returns a chain (human passport → agent), the agent key and
// a test gateway trusting the human.
func exampleSetup() (*a1.SignedChain, ed25519.PrivateKey, *fakeGateway) {
	human := ed25519.NewKeyFromSeed(make([]byte, 32))
	agentSeed := make([]byte, 32)
	agentSeed[0] = 1
	agent := ed25519.NewKeyFromSeed(agentSeed)
	now := uint64(time.Now().Unix())
	p, _ := a1.IssuePassport(human, "trading", []string{"trade.equity", "portfolio.read"}, now, 3600)
	sub, _ := p.IssueSub(human, a1.PublicKey(agent.Public().(ed25519.PublicKey)), []string{"trade.equity"}, now, 600)
	return a1.NewChain(p.Holder(), p.Cert.ScopeRoot, p.Cert, sub), agent, newFakeGateway(p.Holder())
}

func ExampleClient_Authorize() {
	chain, agentKey, gw := exampleSetup()
	defer gw.Close()

	c, err := client.New(gw.URL, client.WithTimeout(5*time.Second))
	if err != nil {
		panic(err)
	}
	// With Agent set, the request carries a proof of possession for the
	// gateway id, so a copied chain is useless without the agent's key.
	res, err := c.Authorize(context.Background(), &client.AuthorizeRequest{
		Chain:  chain,
		Intent: "trade.equity",
		Agent:  agentKey,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("authorized:", res.Authorized, "depth:", res.ChainDepth)

	_, err = c.Authorize(context.Background(), &client.AuthorizeRequest{
		Chain:  chain,
		Intent: "portfolio.read", // not delegated to this agent
		Agent:  agentKey,
	})
	var ce *client.Error
	if errors.As(err, &ce) {
		fmt.Println("denied:", ce.Status, ce.Code)
	}
	fmt.Println("scope violation:", errors.Is(err, a1.ErrScopeViolation))
	// Output:
	// authorized: true depth: 2
	// denied: 403 SCOPE_VIOLATION
	// scope violation: true
}

func ExampleClient_RevokeSigned() {
	chain, _, gw := exampleSetup()
	defer gw.Close()
	human := ed25519.NewKeyFromSeed(make([]byte, 32))

	c, _ := client.New(gw.URL)
	// The chain's principal revokes the agent's cert: no admin token needed.
	if _, err := c.RevokeSigned(context.Background(), chain, 1, "agent decommissioned", human); err != nil {
		panic(err)
	}
	st, _ := c.CertStatus(context.Background(), chain.Certs[1].Fingerprint())
	fmt.Println("revoked:", st.Revoked)
	// Output: revoked: true
}

func ExampleClient_Revoke() {
	chain, _, gw := exampleSetup()
	defer gw.Close()

	c, _ := client.New(gw.URL, client.WithAdminToken(fakeAdminToken))
	r, err := c.Revoke(context.Background(), chain.Certs[1].Fingerprint(), "incident 4711")
	if err != nil {
		panic(err)
	}
	fmt.Println("newly revoked:", r.NewlyRevoked)
	// Output: newly revoked: true
}

// With the gateway's receipt key pinned (taken from a trusted copy of
// /.well-known/a1-configuration), Authorize also checks the receipt
// signature: a nil error means a receipt the gateway signed for exactly
// this chain and intent.
func ExampleWithReceiptKey() {
	chain, agentKey, gw := exampleSetup()
	defer gw.Close()
	receiptKey := gw.receiptPK() // in production: a configured, trusted value

	c, _ := client.New(gw.URL, client.WithReceiptKey(receiptKey))
	res, err := c.Authorize(context.Background(), &client.AuthorizeRequest{Chain: chain, Intent: "trade.equity", Agent: agentKey})
	if err != nil {
		panic(err)
	}
	fmt.Println("authorized:", res.Authorized)

	c, _ = client.New(gw.URL, client.WithReceiptKey(a1.PublicKey(agentKey.Public().(ed25519.PublicKey))))
	_, err = c.Authorize(context.Background(), &client.AuthorizeRequest{Chain: chain, Intent: "trade.equity", Agent: agentKey})
	fmt.Println("under another key:", errors.Is(err, client.ErrBadReceipt))
	// Output:
	// authorized: true
	// under another key: true
}

// VerifyReceipt rebuilds the signed receipt of an answer; the receipt and
// receipt_signature_hex let anyone holding the gateway's public receipt key
// check the authorization later.
func ExampleVerifyReceipt() {
	chain, agentKey, gw := exampleSetup()
	defer gw.Close()
	ctx := context.Background()

	c, _ := client.New(gw.URL)
	req := &client.AuthorizeRequest{Chain: chain, Intent: "trade.equity", Agent: agentKey}
	res, err := c.Authorize(ctx, req)
	if err != nil {
		panic(err)
	}
	key, err := c.ReceiptKey(ctx) // discovered; pin it with WithReceiptKey where that matters
	if err != nil {
		panic(err)
	}
	rc, err := client.VerifyReceipt(key, req, res)
	if err != nil {
		panic(err)
	}
	sig, _ := hex.DecodeString(res.ReceiptSignatureHex)
	fmt.Println("depth:", rc.ChainDepth, "third-party check:", a1.VerifyReceiptSignature(key, rc, sig))
	// Output: depth: 2 third-party check: true
}

// A VerifiedToken is checked by the gateway that holds the MAC key. A valid
// token is not an authorization: compare what it names with what you are
// asked to do, and bound its age.
func ExampleClient_VerifyToken() {
	chain, agentKey, gw := exampleSetup()
	defer gw.Close()
	ctx := context.Background()

	c, _ := client.New(gw.URL)
	res, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: chain, Intent: "trade.equity", Agent: agentKey, ReturnToken: true})
	if err != nil {
		panic(err)
	}
	st, err := c.VerifyToken(ctx, res.Token)
	if err != nil {
		panic(err)
	}
	want, _ := a1.HashIntent("trade.equity", nil)
	fresh := time.Since(time.Unix(int64(st.VerifiedAtUnix), 0)) < time.Minute
	fmt.Println("valid:", st.Valid, "intent matches:", st.IntentHashHex == want.Hex(), "fresh:", fresh)

	forged := *res.Token
	forged.Receipt.Intent, _ = a1.HashIntent("portfolio.read", nil)
	_, err = c.VerifyToken(ctx, &forged)
	fmt.Println("forged:", errors.Is(err, a1.ErrMACVerification))
	// Output:
	// valid: true intent matches: true fresh: true
	// forged: true
}

func ExampleClient_AuthorizeBatch() {
	chain, agentKey, gw := exampleSetup()
	defer gw.Close()

	c, _ := client.New(gw.URL)
	// One proof of possession covers every intent of the batch, in order.
	res, err := c.AuthorizeBatch(context.Background(), &client.BatchRequest{Chain: chain, Agent: agentKey,
		Intents: []client.BatchIntent{{Name: "trade.equity"}, {Name: "portfolio.read"}}})
	if err != nil {
		panic(err)
	}
	for _, r := range res.Results {
		if r.Authorized {
			fmt.Println(r.IntentName, "authorized")
		} else {
			fmt.Println(r.IntentName, "denied:", r.ErrorCode)
		}
	}
	// Output:
	// trade.equity authorized
	// portfolio.read denied: SCOPE_VIOLATION
}
