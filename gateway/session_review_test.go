package gateway_test

import (
	"context"
	"testing"

	"github.com/a1-go/a1/client"
)

// TestReviewBoundBatchPartlyDenied: a batch asked with TokenAudience where
// one intent is outside the chain's scope is a valid answer for the SDK:
// the authorized results carry tokens bound to the audience and the
// executor (verifiable for it), the denied one carries none.
func TestReviewBoundBatchPartlyDenied(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)
	defer g.stop()
	ctx := context.Background()
	c, err := client.New(g.url)
	if err != nil {
		t.Fatal(err)
	}
	br, err := c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: sc.chain(t, 0, 1), Agent: sc.tool.signer(), ReturnToken: true,
		TokenAudience: "trading-api", Intents: []client.BatchIntent{
			{Name: tradeIntents[0].name, Params: tradeIntents[0].params},
			{Name: tradeIntents[2].name}, // not in the chain's scope
			{Name: tradeIntents[1].name, Params: tradeIntents[1].params},
		}})
	if err != nil {
		t.Fatalf("a partly denied bound batch: %v", err)
	}
	if br.AuthorizedCount != 2 || br.Results[1].Authorized || br.Results[1].Token != nil {
		t.Fatalf("results %+v: want 0 and 2 authorized, 1 denied without a token", br.Results)
	}
	for _, i := range []int{0, 2} {
		tok := br.Results[i].Token
		if tok == nil || tok.Binding == nil || tok.Binding.Audience != "trading-api" || tok.Binding.Executor != sc.tool.pk {
			t.Fatalf("result %d's token %+v: want bound to trading-api and the tool", i, tok)
		}
		if _, err := c.VerifyTokenFor(ctx, tok, "trading-api"); err != nil {
			t.Fatalf("result %d's token: %v", i, err)
		}
	}
	// Without ReturnToken, no token is asked for and none is checked.
	res, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: sc.chain(t, 0), Intent: tradeIntents[0].name,
		Params: tradeIntents[0].params, Agent: sc.tool.signer()})
	if err != nil || res.Token != nil {
		t.Fatalf("authorize without a token: %+v, %v", res, err)
	}
}
