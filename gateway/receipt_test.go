package gateway_test

import (
	"context"
	"errors"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// TestReceiptsVerifyWithSDK checks, against a real gateway process, that
// every receipt it signs verifies offline with the SDK under the receipt key
// it publishes: a single authorization and each result of a batch asked
// without tokens (a batch result carries its own verified_at_unix), and that
// a receipt moved to another second does not.
func TestReceiptsVerifyWithSDK(t *testing.T) {
	sc := newScenario(t)
	env := baseEnv(t)
	env["A1_TRUSTED_ROOTS"] = sc.human.pk.Hex()
	g := startGateway(t, env)
	defer g.stop()
	ctx := context.Background()

	plain, err := client.New(g.url)
	if err != nil {
		t.Fatal(err)
	}
	key, err := plain.ReceiptKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(g.url, client.WithReceiptKey(key))
	if err != nil {
		t.Fatal(err)
	}

	single := &client.AuthorizeRequest{Chain: sc.chain(t, 0), Intent: tradeIntents[0].name,
		Params: tradeIntents[0].params, Agent: sc.tool.signer()}
	res, err := c.Authorize(ctx, single) // verified by the pinned key
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifyReceipt(key, single, res); err != nil {
		t.Fatalf("single receipt: %v", err)
	}
	res.VerifiedAtUnix++
	res.Receipt.VerifiedAtUnix++
	if _, err := client.VerifyReceipt(key, single, res); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("receipt moved by a second: %v, want ErrBadReceipt", err)
	}

	chain := sc.chain(t, 0, 2, 3)
	batch := &client.BatchRequest{Chain: chain, Agent: sc.tool.signer()}
	for _, i := range []int{0, 2, 3} {
		batch.Intents = append(batch.Intents, client.BatchIntent{Name: tradeIntents[i].name, Params: tradeIntents[i].params})
	}
	br, err := c.AuthorizeBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if !br.AllAuthorized {
		t.Fatalf("batch: %+v", br)
	}
	for i, r := range br.Results {
		if r.Token != nil || r.VerifiedAtUnix == 0 {
			t.Fatalf("batch result %d: token %v, verified_at_unix %d; want no token and a time", i, r.Token, r.VerifiedAtUnix)
		}
		rc, err := client.VerifyBatchReceipt(key, batch, br, i)
		if err != nil {
			t.Fatalf("batch result %d: %v", i, err)
		}
		// What the SDK rebuilt is what a third party checks with the
		// public key alone.
		if h, _ := a1.HashIntent(batch.Intents[i].Name, batch.Intents[i].Params); rc.Intent != h {
			t.Fatalf("batch result %d: receipt for intent %s, want %s", i, rc.Intent.Hex(), h.Hex())
		}
	}
	br.Results[1].VerifiedAtUnix++
	if _, err := client.VerifyBatchReceipt(key, batch, br, 1); !errors.Is(err, client.ErrBadReceipt) {
		t.Fatalf("batch receipt moved by a second: %v, want ErrBadReceipt", err)
	}
}
