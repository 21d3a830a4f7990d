package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// TestBoundTokensEndToEnd drives a real gateway process through the SDK:
// a token asked for with token_audience is bound to that audience and to
// the executor, verifies only for its own audience, and an unbound token
// never verifies for an audience; a request whose token_audience is
// refused consumes nothing (docs/spec.md §3.3).
func TestBoundTokensEndToEnd(t *testing.T) {
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

	single := func(aud string) *client.AuthorizeRequest {
		return &client.AuthorizeRequest{Chain: sc.chain(t, 0), Intent: tradeIntents[0].name, Params: tradeIntents[0].params,
			Agent: sc.tool.signer(), ReturnToken: true, TokenAudience: aud}
	}
	res, err := c.Authorize(ctx, single("trading-api"))
	if err != nil {
		t.Fatal(err)
	}
	bound := res.Token
	if bound == nil || bound.Binding == nil || bound.Binding.Audience != "trading-api" || bound.Binding.Executor != sc.tool.pk {
		t.Fatalf("token %+v: want bound to trading-api and the tool's key", bound)
	}
	st, err := c.VerifyTokenFor(ctx, bound, "trading-api")
	if err != nil {
		t.Fatalf("bound token for its audience: %v", err)
	}
	if st.Audience != "trading-api" || st.ExecutorPKHex != sc.tool.pk.Hex() {
		t.Fatalf("answer %+v: want the audience and the executor", st)
	}
	res2, err := c.Authorize(ctx, single(""))
	if err != nil {
		t.Fatal(err)
	}
	unbound := res2.Token
	if unbound == nil || unbound.Binding != nil {
		t.Fatalf("token without token_audience: %+v, want the reference's unbound token", unbound)
	}
	if _, err := c.VerifyToken(ctx, unbound); err != nil {
		t.Fatalf("unbound token without audience (the reference behaviour): %v", err)
	}
	for _, tc := range []struct {
		name     string
		tok      *a1.VerifiedToken
		audience string
	}{
		{"bound, another audience", bound, "payments-api"},
		{"bound, no audience named", bound, ""},
		{"unbound, audience named", unbound, "trading-api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.VerifyTokenFor(ctx, tc.tok, tc.audience)
			var ae *client.Error
			if !errors.Is(err, client.ErrTokenAudience) || !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "TOKEN_AUDIENCE_MISMATCH" {
				t.Fatalf("VerifyTokenFor(%q) = %v, want 401 TOKEN_AUDIENCE_MISMATCH", tc.audience, err)
			}
		})
	}

	// A batch binds every authorized result's token.
	batch := &client.BatchRequest{Chain: sc.chain(t, 0, 2), Agent: sc.tool.signer(), ReturnToken: true, TokenAudience: "trading-api",
		Intents: []client.BatchIntent{{Name: tradeIntents[0].name, Params: tradeIntents[0].params}, {Name: tradeIntents[2].name}}}
	br, err := c.AuthorizeBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range br.Results {
		if !r.Authorized || r.Token == nil || r.Token.Binding == nil || r.Token.Binding.Audience != "trading-api" {
			t.Fatalf("batch result %d: %+v, want an authorized result with a bound token", i, r)
		}
		if _, err := c.VerifyTokenFor(ctx, r.Token, "trading-api"); err != nil {
			t.Fatalf("batch result %d's token: %v", i, err)
		}
	}

	// A batch with a denied item: the authorized results carry bound tokens,
	// the denied one none, and the SDK accepts the answer.
	pb, err := c.AuthorizeBatch(ctx, &client.BatchRequest{Chain: sc.chain(t, 0, 1), Agent: sc.tool.signer(), ReturnToken: true,
		TokenAudience: "trading-api", Intents: []client.BatchIntent{
			{Name: tradeIntents[0].name, Params: tradeIntents[0].params},
			{Name: tradeIntents[2].name}, // not in the chain's scope
			{Name: tradeIntents[1].name, Params: tradeIntents[1].params},
		}})
	if err != nil {
		t.Fatalf("a partly denied bound batch: %v", err)
	}
	if pb.AuthorizedCount != 2 || pb.Results[1].Authorized || pb.Results[1].Token != nil {
		t.Fatalf("results %+v: want 0 and 2 authorized, 1 denied without a token", pb.Results)
	}
	for _, i := range []int{0, 2} {
		tok := pb.Results[i].Token
		if tok == nil || tok.Binding == nil || tok.Binding.Audience != "trading-api" || tok.Binding.Executor != sc.tool.pk {
			t.Fatalf("result %d's token %+v: want bound to trading-api and the tool", i, tok)
		}
		if _, err := c.VerifyTokenFor(ctx, tok, "trading-api"); err != nil {
			t.Fatalf("result %d's token: %v", i, err)
		}
	}
	// Without ReturnToken, no token is asked for and none is checked.
	nt, err := c.Authorize(ctx, &client.AuthorizeRequest{Chain: sc.chain(t, 0), Intent: tradeIntents[0].name,
		Params: tradeIntents[0].params, Agent: sc.tool.signer()})
	if err != nil || nt.Token != nil {
		t.Fatalf("authorize without a token: %+v, %v", nt, err)
	}

	// A refused token_audience is a 400 before anything is consumed: the
	// same single-use chain authorizes afterwards.
	chain := sc.chain(t, 0)
	for _, tc := range []struct {
		name  string
		patch map[string]any
	}{
		{"without return_token", map[string]any{"token_audience": "trading-api"}},
		{"empty is unset, but a control character is refused", map[string]any{"return_token": true, "token_audience": "trading\napi"}},
		{"too long", map[string]any{"return_token": true, "token_audience": strings.Repeat("a", a1.MaxAudienceLen+1)}},
		{"not a string", map[string]any{"return_token": true, "token_audience": 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := sc.authReq(chain, 0)
			for k, v := range tc.patch {
				body[k] = v
			}
			if r := g.post("/v1/authorize", body); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
				t.Fatalf("%d %s, want 400 MALFORMED_REQUEST", r.status, r.raw)
			}
			body["intents"] = []map[string]any{{"name": tradeIntents[0].name, "params": tradeIntents[0].params}}
			delete(body, "intent_name")
			delete(body, "intent_params")
			if r := g.post("/v1/authorize/batch", body); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
				t.Fatalf("batch: %d %s, want 400 MALFORMED_REQUEST", r.status, r.raw)
			}
		})
	}
	body := sc.authReq(chain, 0)
	body["return_token"], body["token_audience"] = true, "trading-api"
	if r := g.post("/v1/authorize", body); r.status != 200 {
		t.Fatalf("the chain after the refusals: %d %s, want 200 (nothing consumed)", r.status, r.raw)
	}
}

// TestBoundTokenVerifyForms covers POST /v1/token/verify with bound tokens:
// the body forms, the audience member, and that the MAC is checked before
// the binding (a forged token is MAC_VERIFICATION_FAILED whatever audience
// it names).
func TestBoundTokenVerifyForms(t *testing.T) {
	cur, prev := randHex(32), randHex(32)
	h := tokenServer(t, cur, prev, nil)
	exec := newKey(t).pk
	rc := sampleReceipt("trade.equity")
	mint := func(keyHex, aud string) a1.VerifiedToken {
		tok, err := a1.NewBoundToken(rc, a1.TokenBinding{Audience: aud, Executor: exec}, key32(t, keyHex))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := tokenJSON(t, mint(cur, "trading-api"))
	old := tokenJSON(t, mint(prev, "trading-api"))
	forged := tokenJSON(t, mint(randHex(32), "trading-api"))
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"wrapped, its audience", `{"token":` + good + `,"audience":"trading-api"}`, 200, ""},
		{"wrapped, its audience, previous key", `{"token":` + old + `,"audience":"trading-api"}`, 200, ""},
		{"wrapped, another audience", `{"token":` + good + `,"audience":"payments-api"}`, 401, "TOKEN_AUDIENCE_MISMATCH"},
		{"wrapped, no audience", `{"token":` + good + `}`, 401, "TOKEN_AUDIENCE_MISMATCH"},
		{"bare bound token", good, 401, "TOKEN_AUDIENCE_MISMATCH"},
		{"forged, its audience", `{"token":` + forged + `,"audience":"trading-api"}`, 401, "MAC_VERIFICATION_FAILED"},
		{"forged, another audience", `{"token":` + forged + `,"audience":"payments-api"}`, 401, "MAC_VERIFICATION_FAILED"},
		{"forged, no audience", `{"token":` + forged + `}`, 401, "MAC_VERIFICATION_FAILED"},
		{"audience in another case", `{"token":` + good + `,"Audience":"trading-api"}`, 400, "MALFORMED_REQUEST"},
		{"audience not a string", `{"token":` + good + `,"audience":["trading-api"]}`, 400, "MALFORMED_REQUEST"},
		{"audience empty", `{"token":` + good + `,"audience":""}`, 400, "MALFORMED_REQUEST"},
		{"audience too long", `{"token":` + good + `,"audience":"` + strings.Repeat("a", a1.MaxAudienceLen+1) + `"}`, 400, "MALFORMED_REQUEST"},
		{"binding half removed", `{"token":` + strings.Replace(good, `"audience":"trading-api",`, "", 1) + `,"audience":"trading-api"}`, 400, "MALFORMED_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantTokenAnswer(t, postToken(t, h, tc.body, nil), tc.status, tc.code, exec)
		})
	}
	if r := postToken(t, h, good, nil); !strings.Contains(r.body["hint"].(string), `"audience"`) {
		t.Fatalf("bare bound token: hint %q should say how to name the audience", r.body["hint"])
	}
}

// wantTokenAnswer checks a token verify answer: its status and code, a
// valid answer naming the audience "trading-api" and the executor exec, a
// refusal saying "valid": false.
func wantTokenAnswer(t *testing.T, r tokenReply, status int, code string, exec a1.PublicKey) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("%d %s, want %d %s", r.status, r.raw, status, code)
	}
	if status == 200 && (r.body["audience"] != "trading-api" || r.body["executor_pk_hex"] != exec.Hex()) {
		t.Fatalf("answer %s: want the audience and the executor", r.raw)
	}
	if status == 401 && r.body["valid"] != false {
		t.Fatalf("answer %s: want \"valid\": false", r.raw)
	}
}
