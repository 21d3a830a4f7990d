package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// TestTokenBindingAnswersChecked: with TokenAudience the SDK accepts only a
// token bound to that audience and to the executor, and VerifyTokenFor
// only an answer naming the audience and the token's executor; a gateway
// that ignored the audience (one older than the field) answers with an
// unbound token or without the audience, which would let any service
// accept the token: ErrUnexpectedAnswer.
func TestTokenBindingAnswersChecked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fpHex, h, rc := f.stubReceipt()
	key := [32]byte{7}
	exec := pkOf(f.agent)
	boundTo := func(aud string, ex a1.PublicKey) string {
		tok, err := a1.NewBoundToken(rc, a1.TokenBinding{Audience: aud, Executor: ex}, key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := tok.MarshalJSON()
		return string(b)
	}
	unbound := a1.NewVerifiedToken(rc, key)
	ub, _ := unbound.MarshalJSON()
	good := boundTo("trading-api", exec)
	answer := func(tok string) string {
		a := `{"authorized":true,"chain_depth":2,"chain_fingerprint":"` + fpHex + `","verified_at_unix":1700000000,"intent_hash_hex":"` + h.Hex() + `"`
		if tok != "" {
			a += `,"token":` + tok
		}
		return a + "}"
	}
	batchAnswer := func(tok string) string {
		return `{"all_authorized":true,"authorized_count":1,"total_count":1,"results":[{"intent_name":"trade.equity","authorized":true,"chain_fingerprint":"` +
			fpHex + `","intent_hash_hex":"` + h.Hex() + `","verified_at_unix":1700000000,"token":` + tok + `}]}`
	}
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"bound as asked", good, true},
		{"unbound token", string(ub), false},
		{"no token", "", false},
		{"another audience", boundTo("payments-api", exec), false},
		{"another executor", boundTo("trading-api", pkOf(f.other)), false},
	} {
		t.Run("authorize/"+tc.name, func(t *testing.T) {
			c, _ := client.New(stubGateway(t, map[string]string{"/v1/authorize": answer(tc.token)}).URL)
			_, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Executor: exec,
				ReturnToken: true, TokenAudience: "trading-api"})
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, client.ErrUnexpectedAnswer)) {
				t.Fatalf("Authorize: %v, want ok=%v or ErrUnexpectedAnswer", err, tc.ok)
			}
		})
		if tc.token == "" {
			continue
		}
		t.Run("batch/"+tc.name, func(t *testing.T) {
			c, _ := client.New(stubGateway(t, map[string]string{"/v1/authorize/batch": batchAnswer(tc.token)}).URL)
			_, err := c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: f.chain, Executor: exec, ReturnToken: true,
				TokenAudience: "trading-api", Intents: []client.BatchIntent{{Name: "trade.equity"}}})
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, client.ErrUnexpectedAnswer)) {
				t.Fatalf("AuthorizeBatch: %v, want ok=%v or ErrUnexpectedAnswer", err, tc.ok)
			}
		})
	}

	var tok a1.VerifiedToken
	if err := tok.UnmarshalJSON([]byte(good)); err != nil {
		t.Fatal(err)
	}
	status := `{"valid":true,"chain_depth":2,"chain_fingerprint":"` + fpHex + `","verified_at_unix":1700000000,"intent_hash_hex":"` + h.Hex() + `"`
	for _, tc := range []struct {
		name, answer string
		ok           bool
	}{
		{"audience and executor", status + `,"audience":"trading-api","executor_pk_hex":"` + exec.Hex() + `"}`, true},
		{"no audience (the audience was ignored)", status + `}`, false},
		{"another audience", status + `,"audience":"payments-api","executor_pk_hex":"` + exec.Hex() + `"}`, false},
		{"another executor", status + `,"audience":"trading-api","executor_pk_hex":"` + pkOf(f.other).Hex() + `"}`, false},
	} {
		t.Run("verify/"+tc.name, func(t *testing.T) {
			c, _ := client.New(stubGateway(t, map[string]string{"/v1/token/verify": tc.answer}).URL)
			_, err := c.VerifyTokenFor(ctx, &tok, "trading-api")
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, client.ErrUnexpectedAnswer)) {
				t.Fatalf("VerifyTokenFor: %v, want ok=%v or ErrUnexpectedAnswer", err, tc.ok)
			}
		})
	}
}
