package client_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// TestTokenReviewReceiptChecked: a gateway's token must be this
// authorization's, bound as asked or not. A token bound to the audience
// and executor asked for, but whose receipt names another intent, chain or
// time than the answer (a misrouted, stale or malicious answer), used to
// pass checkTokenBinding: ErrUnexpectedAnswer.
func TestTokenReviewReceiptChecked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fpHex, h, base := f.stubReceipt()
	other, _ := a1.HashIntent("portfolio.read", nil)
	exec := pkOf(f.agent)
	key := [32]byte{7}
	tokenFor := func(rc a1.Receipt, aud string) string {
		tok := a1.NewVerifiedToken(rc, key)
		if aud != "" {
			var err error
			if tok, err = a1.NewBoundToken(rc, a1.TokenBinding{Audience: aud, Executor: exec}, key); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := tok.MarshalJSON()
		return string(b)
	}
	answer := func(tok string) string {
		return `{"authorized":true,"chain_depth":2,"chain_fingerprint":"` + fpHex + `","verified_at_unix":1700000000,"intent_hash_hex":"` + h.Hex() + `","token":` + tok + `}`
	}
	batchAnswer := func(tok string) string {
		return `{"all_authorized":true,"authorized_count":1,"total_count":1,"results":[{"intent_name":"trade.equity","authorized":true,"chain_fingerprint":"` +
			fpHex + `","intent_hash_hex":"` + h.Hex() + `","verified_at_unix":1700000000,"token":` + tok + `}]}`
	}
	mut := func(m func(*a1.Receipt)) a1.Receipt { rc := base; m(&rc); return rc }
	for _, tc := range []struct {
		name string
		rc   a1.Receipt
		ok   bool
	}{
		{"this authorization", base, true},
		{"another intent", mut(func(r *a1.Receipt) { r.Intent = other }), false},
		{"another chain", mut(func(r *a1.Receipt) { r.ChainFingerprint[0] ^= 1 }), false},
		{"another depth", mut(func(r *a1.Receipt) { r.ChainDepth = 3 }), false},
		{"another time", mut(func(r *a1.Receipt) { r.VerifiedAtUnix++ }), false},
	} {
		for _, aud := range []string{"trading-api", ""} {
			name := tc.name + "/audience " + aud
			t.Run("authorize/"+name, func(t *testing.T) {
				c, _ := client.New(stubGateway(t, map[string]string{"/v1/authorize": answer(tokenFor(tc.rc, aud))}).URL)
				_, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Executor: exec,
					ReturnToken: true, TokenAudience: aud})
				if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, client.ErrUnexpectedAnswer)) {
					t.Fatalf("Authorize: %v, want ok=%v or ErrUnexpectedAnswer", err, tc.ok)
				}
			})
			t.Run("batch/"+name, func(t *testing.T) {
				c, _ := client.New(stubGateway(t, map[string]string{"/v1/authorize/batch": batchAnswer(tokenFor(tc.rc, aud))}).URL)
				_, err := c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: f.chain, Executor: exec, ReturnToken: true,
					TokenAudience: aud, Intents: []client.BatchIntent{{Name: "trade.equity"}}})
				if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, client.ErrUnexpectedAnswer)) {
					t.Fatalf("AuthorizeBatch: %v, want ok=%v or ErrUnexpectedAnswer", err, tc.ok)
				}
			})
		}
	}
}

// TestTokenReviewAudienceCheckedBeforeSending: a TokenAudience the gateway
// cannot bind as given is refused before any request. encoding/json sends
// invalid UTF-8 as U+FFFD: the gateway used to bind the token to that other
// audience and consume the authorization, which the SDK then refused
// (ErrUnexpectedAnswer), and VerifyTokenFor asked for another audience
// than the one named. A nil token is an error, not a panic on a 200.
func TestTokenReviewAudienceCheckedBeforeSending(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"valid":true,"chain_depth":0,"chain_fingerprint":"` + hex.EncodeToString(make([]byte, 32)) + `","verified_at_unix":0}`))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	exec := pkOf(f.agent)
	for _, tc := range []struct {
		name        string
		returnToken bool
		audience    string
	}{
		{"not UTF-8", true, "svc\xff"},
		{"U+FFFD", true, "svc\ufffd"},
		{"control character", true, "svc\n"},
		{"too long", true, string(make([]byte, a1.MaxAudienceLen+1))},
		{"without ReturnToken", false, "svc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			if _, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Executor: exec,
				ReturnToken: tc.returnToken, TokenAudience: tc.audience}); err == nil {
				t.Fatal("Authorize: no error")
			}
			if _, err := c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: f.chain, Executor: exec, ReturnToken: tc.returnToken,
				TokenAudience: tc.audience, Intents: []client.BatchIntent{{Name: "trade.equity"}}}); err == nil {
				t.Fatal("AuthorizeBatch: no error")
			}
			if tc.returnToken {
				tok := a1.NewVerifiedToken(a1.Receipt{}, [32]byte{1})
				if _, err := c.VerifyTokenFor(ctx, &tok, tc.audience); err == nil {
					t.Fatal("VerifyTokenFor: no error")
				}
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("%d requests sent, want none", n)
			}
		})
	}
	// A nil token: an error whatever the gateway answers.
	if _, err := c.VerifyToken(ctx, nil); err == nil {
		t.Fatal("VerifyToken(nil): no error")
	}
}
