package client_test

// Rejecting tests for checks a mutation review found unguarded: each test
// fails when the check it names is removed or weakened.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// TestNegativeAnswersOfThisRequest guards the "authorized": true, "valid":
// true and batch count checks on their own: each answer below names
// exactly the chain, intent and token sent, so no other check notices it,
// and each must be an error wrapping ErrUnexpectedAnswer (never a success,
// nor a panic).
func TestNegativeAnswersOfThisRequest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fpHex, h, rc := f.stubReceipt()
	tok := a1.NewVerifiedToken(rc, [32]byte{1})
	result := `{"intent_name":"trade.equity","authorized":true,"chain_fingerprint":"` + fpHex + `","intent_hash_hex":"` + h.Hex() + `"}`
	for _, tt := range []struct{ name, path, answer string }{
		{"authorize: authorized false", "/v1/authorize",
			`{"authorized":false,"chain_depth":2,"chain_fingerprint":"` + fpHex + `","verified_at_unix":1700000000,"intent_hash_hex":"` + h.Hex() + `"}`},
		{"token: valid false", "/v1/token/verify",
			`{"valid":false,"chain_depth":2,"chain_fingerprint":"` + fpHex + `","verified_at_unix":1700000000,"intent_hash_hex":"` + h.Hex() + `"}`},
		{"batch: total_count of another batch", "/v1/authorize/batch",
			`{"all_authorized":true,"authorized_count":1,"total_count":2,"results":[` + result + `]}`},
		{"batch: more results than intents", "/v1/authorize/batch",
			`{"all_authorized":true,"authorized_count":2,"total_count":1,"results":[` + result + `,` + result + `]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := client.New(stubGateway(t, map[string]string{tt.path: tt.answer}).URL)
			var res any
			var err error
			switch tt.path {
			case "/v1/token/verify":
				res, err = c.VerifyToken(ctx, &tok)
			case "/v1/authorize":
				res, err = c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Executor: pkOf(f.agent)})
			default:
				res, err = c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: f.chain, Executor: pkOf(f.agent), Intents: []client.BatchIntent{{Name: "trade.equity"}}})
			}
			if !errors.Is(err, client.ErrUnexpectedAnswer) {
				t.Fatalf("answer %s: %+v, %v; want ErrUnexpectedAnswer", tt.answer, res, err)
			}
		})
	}
}

// TestVerifyReceiptBounds guards the bounds checks of the offline receipt
// verifiers: a batch result index beyond the request's intents, and a
// request whose chain holds no cert, are errors (not an index-out-of-range
// panic in the caller's process).
func TestVerifyReceiptBounds(t *testing.T) {
	f := newFixture(t)
	fpHex, h, _ := f.stubReceipt()
	r := client.BatchResult{IntentName: "trade.equity", Authorized: true, ChainFingerprint: fpHex, IntentHashHex: h.Hex(), VerifiedAtUnix: 1_700_000_000}
	req := &client.BatchRequest{Chain: f.chain, Intents: []client.BatchIntent{{Name: "trade.equity"}}}
	res := &client.BatchResponse{TotalCount: 2, Results: []client.BatchResult{r, r}}
	if _, err := client.VerifyBatchReceipt(f.gw.receiptPK(), req, res, 1); err == nil || !strings.Contains(err.Error(), "no batch result 1") {
		t.Fatalf("result 1 of a one-intent request: %v, want an error", err)
	}
	empty := &a1.SignedChain{}
	areq := &client.AuthorizeRequest{Chain: empty, Intent: "trade.equity"}
	ares := &client.AuthorizeResponse{Authorized: true, ChainFingerprint: fpHex, IntentHashHex: h.Hex()}
	if _, err := client.VerifyReceipt(f.gw.receiptPK(), areq, ares); err == nil {
		t.Fatal("a receipt for a chain without certs verified")
	}
}
