package client_test

import (
	"context"
	"crypto/ed25519"
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
