package gateway_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
	"github.com/a1-go/a1/gateway"
)

// atSameSecond runs f with the current Unix second and returns its reply,
// running it again (a few times at most) when the clock ticked during the
// exchange: a token placed exactly on a bound must meet the gateway's clock
// at the second it was placed against, not a later one. Nothing here
// depends on how long an exchange takes.
func atSameSecond(t *testing.T, f func(now uint64) tokenReply) tokenReply {
	t.Helper()
	for range 20 {
		before := now()
		r := f(before)
		if now() == before {
			return r
		}
	}
	t.Fatal("the clock ticked during every attempt")
	return tokenReply{}
}

// TestTokenMaxAge: without A1_TOKEN_MAX_AGE a MAC-valid token is valid
// whatever its verified_at_unix (the reference); with it, a token is valid
// when now − max_age − drift ≤ verified_at_unix ≤ now + drift, both bounds
// included, and refused outside as 401 {"valid": false} TOKEN_EXPIRED or
// TOKEN_NOT_YET_VALID. The MAC comes first: a forged token is answered
// MAC_VERIFICATION_FAILED, byte for byte the same whatever its time.
func TestTokenMaxAge(t *testing.T) {
	cur, prev := randHex(32), randHex(32)
	servers := map[string]http.Handler{
		"unset":    tokenServer(t, cur, prev, nil),
		"5m":       tokenServer(t, cur, prev, map[string]string{"A1_TOKEN_MAX_AGE": "5m"}),
		"5m drift": tokenServer(t, cur, prev, map[string]string{"A1_TOKEN_MAX_AGE": "5m", "A1_DRIFT_SECS": "0"}),
	}
	const maxAge, drift = 300, a1.DefaultDriftSecs
	// at places verified_at_unix relative to the current second.
	type at func(now uint64) uint64
	ago := func(s uint64) at { return func(n uint64) uint64 { return n - s } }
	ahead := func(s uint64) at { return func(n uint64) uint64 { return n + s } }
	fixed := func(v uint64) at { return func(uint64) uint64 { return v } }

	for _, tc := range []struct {
		name   string
		server string
		when   at
		key    string // "" signs with the current key; "forged" with a key outside the ring
		code   string // "" valid
	}{
		{name: "unset: ten years old stays valid", server: "unset", when: ago(10 * 365 * 24 * 3600)},
		{name: "unset: epoch stays valid", server: "unset", when: fixed(0)},
		{name: "unset: a day ahead stays valid", server: "unset", when: ahead(24 * 3600)},
		{name: "fresh", server: "5m", when: ago(0)},
		{name: "a minute old", server: "5m", when: ago(60)},
		{name: "max age old", server: "5m", when: ago(maxAge)},
		{name: "max age plus drift old: the bound", server: "5m", when: ago(maxAge + drift)},
		{name: "one second past the bound", server: "5m", when: ago(maxAge + drift + 1), code: "TOKEN_EXPIRED"},
		{name: "a day old", server: "5m", when: ago(24 * 3600), code: "TOKEN_EXPIRED"},
		{name: "epoch", server: "5m", when: fixed(0), code: "TOKEN_EXPIRED"},
		{name: "old under a previous key", server: "5m", when: ago(maxAge + drift + 1), key: prev, code: "TOKEN_EXPIRED"},
		{name: "fresh under a previous key", server: "5m", when: ago(0), key: prev},
		{name: "drift ahead: the bound", server: "5m", when: ahead(drift)},
		{name: "one second beyond the drift ahead", server: "5m", when: ahead(drift + 1), code: "TOKEN_NOT_YET_VALID"},
		{name: "far future", server: "5m", when: fixed(math.MaxUint64), code: "TOKEN_NOT_YET_VALID"},
		{name: "drift 0: max age old", server: "5m drift", when: ago(maxAge)},
		{name: "drift 0: one second older", server: "5m drift", when: ago(maxAge + 1), code: "TOKEN_EXPIRED"},
		{name: "drift 0: now", server: "5m drift", when: ago(0)},
		{name: "drift 0: one second ahead", server: "5m drift", when: ahead(1), code: "TOKEN_NOT_YET_VALID"},
		{name: "forged fresh", server: "5m", when: ago(0), key: "forged", code: "MAC_VERIFICATION_FAILED"},
		{name: "forged old", server: "5m", when: ago(24 * 3600), key: "forged", code: "MAC_VERIFICATION_FAILED"},
		{name: "forged past the bound", server: "5m", when: ago(maxAge + drift + 1), key: "forged", code: "MAC_VERIFICATION_FAILED"},
		{name: "forged future", server: "5m", when: ahead(drift + 1), key: "forged", code: "MAC_VERIFICATION_FAILED"},
		{name: "forged epoch", server: "5m", when: fixed(0), key: "forged", code: "MAC_VERIFICATION_FAILED"},
		{name: "unset: forged", server: "unset", when: ago(0), key: "forged", code: "MAC_VERIFICATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := cur
			switch tc.key {
			case "forged":
				key = randHex(32)
			case "":
			default:
				key = tc.key
			}
			rc := sampleReceipt("files.read")
			r := atSameSecond(t, func(n uint64) tokenReply {
				rc.VerifiedAtUnix = tc.when(n)
				return postToken(t, servers[tc.server], `{"token":`+tokenJSON(t, a1.NewVerifiedToken(rc, key32(t, key)))+`}`, nil)
			})
			if tc.code == "" {
				if r.status != 200 || r.body["valid"] != true || r.body["verified_at_unix"] != float64(rc.VerifiedAtUnix) {
					t.Fatalf("verified_at_unix %d: %d %s, want 200 valid", rc.VerifiedAtUnix, r.status, r.raw)
				}
				return
			}
			if r.status != 401 || r.code() != tc.code || r.body["valid"] != false {
				t.Fatalf("verified_at_unix %d: %d %s, want 401 %s with \"valid\": false", rc.VerifiedAtUnix, r.status, r.raw, tc.code)
			}
			if h, _ := r.body["hint"].(string); h == "" {
				t.Fatalf("no hint: %s", r.raw)
			}
			if tc.key == "forged" {
				// Exactly the answer of a forged token on a gateway
				// without a maximum age: the time shows nowhere.
				ref := postToken(t, servers["unset"], `{"token":`+tokenJSON(t, a1.NewVerifiedToken(sampleReceipt("files.read"), key32(t, randHex(32))))+`}`, nil)
				if r.raw != ref.raw {
					t.Fatalf("forged token answered\n%s\nwhere any forged token is\n%s", r.raw, ref.raw)
				}
			}
		})
	}
}

// TestTokenMaxAgeConfig: A1_TOKEN_MAX_AGE (or -token-max-age) is unset by
// default, takes whole seconds in [1s, MaxTokenMaxAge], and a wrong value
// is a *ConfigError naming the variable. Start-up through a real process
// is in TestConfigErrors.
func TestTokenMaxAgeConfig(t *testing.T) {
	load := func(args []string, v string) (*gateway.Config, error) {
		env := map[string]string{"A1_STORE": "memory", "A1_TOKEN_MAX_AGE": v}
		return gateway.LoadConfig(args, func(k string) string { return env[k] }, io.Discard)
	}
	for _, tc := range []struct {
		args []string
		env  string
		want time.Duration // 0: no maximum; -1: a ConfigError
	}{
		{env: "", want: 0},
		{env: "  ", want: 0},
		{env: "5m", want: 5 * time.Minute},
		{env: "1s", want: time.Second},
		{env: "1m30s", want: 90 * time.Second},
		{env: "1000ms", want: time.Second},
		{env: gateway.MaxTokenMaxAge.String(), want: gateway.MaxTokenMaxAge},
		{args: []string{"-token-max-age", "90s"}, want: 90 * time.Second},
		{args: []string{"-token-max-age", "90s"}, env: "1h", want: 90 * time.Second}, // the flag overrides
		{args: []string{"-token-max-age", ""}, env: "1h", want: time.Hour},           // an empty flag is unset
		{env: "0", want: -1},
		{env: "0s", want: -1},
		{env: "-1m", want: -1},
		{env: "999ms", want: -1},
		{env: "1500ms", want: -1}, // verified_at_unix counts whole seconds
		{env: "soon", want: -1},
		{env: "300", want: -1}, // a duration needs its unit
		{env: (gateway.MaxTokenMaxAge + time.Second).String(), want: -1},
		{env: "100000000h", want: -1}, // overflows a time.Duration
		{args: []string{"-token-max-age", "-5m"}, want: -1},
	} {
		cfg, err := load(tc.args, tc.env)
		if tc.want < 0 {
			var ce *gateway.ConfigError
			if !errors.As(err, &ce) || ce.Var != "A1_TOKEN_MAX_AGE" || ce.Fix == "" {
				t.Errorf("%v %q: %v, want a ConfigError of A1_TOKEN_MAX_AGE with a fix", tc.args, tc.env, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %q: %v", tc.args, tc.env, err)
			continue
		}
		if cfg.TokenMaxAge != tc.want {
			t.Errorf("%v %q: TokenMaxAge %v, want %v", tc.args, tc.env, cfg.TokenMaxAge, tc.want)
		}
	}
}

// TestTokenMaxAgeProcess: a real gateway started with A1_TOKEN_MAX_AGE
// advertises it in the discovery document, and its token answers (valid,
// expired, from the future, forged) match gateway/openapi.json. The SDK
// maps the refusals to its sentinels.
func TestTokenMaxAgeProcess(t *testing.T) {
	c := loadContract(t)
	macKey := randHex(32)
	env := baseEnv(t)
	env["A1_MAC_KEY_HEX"] = macKey
	env["A1_TOKEN_MAX_AGE"] = "2m"
	g := startGateway(t, env)

	disc := c.do(g, exchange{name: "discovery with a max age", method: "GET", path: "/.well-known/a1-configuration", status: 200})
	if got := disc.body["limits"].(map[string]any)["token_max_age_secs"]; got != float64(120) {
		t.Fatalf("limits.token_max_age_secs = %v, want 120", got)
	}
	// Without the setting the limit is absent (tokens never expire).
	h := tokenServer(t, macKey, "", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/a1-configuration", nil))
	if strings.Contains(w.Body.String(), "token_max_age_secs") {
		t.Fatalf("discovery without A1_TOKEN_MAX_AGE advertises a max age: %s", w.Body.String())
	}

	tok := func(at uint64, key string) a1.VerifiedToken {
		rc := sampleReceipt("files.read")
		rc.VerifiedAtUnix = at
		return a1.NewVerifiedToken(rc, key32(t, key))
	}
	const day = 24 * 3600
	fresh, old, future, forgedOld := tok(now(), macKey), tok(now()-day, macKey), tok(now()+day, macKey), tok(now()-day, randHex(32))
	c.do(g, exchange{name: "token verify, fresh", method: "POST", path: "/v1/token/verify", body: map[string]any{"token": fresh}, status: 200})
	for _, x := range []struct {
		name string
		tok  a1.VerifiedToken
		code string
	}{
		{"token verify, expired", old, "TOKEN_EXPIRED"},
		{"token verify, from the future", future, "TOKEN_NOT_YET_VALID"},
		{"token verify, forged and old", forgedOld, "MAC_VERIFICATION_FAILED"},
	} {
		if r := c.do(g, exchange{name: x.name, method: "POST", path: "/v1/token/verify", body: map[string]any{"token": x.tok},
			status: 401, code: x.code}); r.body["valid"] != false {
			t.Errorf("%s: %s", x.name, r.raw)
		}
	}

	// The SDK: errors.Is tells the three refusals apart.
	cl, err := client.New(g.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if st, err := cl.VerifyToken(ctx, &fresh); err != nil || !st.Valid {
		t.Fatalf("fresh: %+v, %v", st, err)
	}
	for _, x := range []struct {
		name string
		tok  a1.VerifiedToken
		want error
	}{
		{"expired", old, client.ErrTokenExpired},
		{"future", future, client.ErrTokenNotYetValid},
		{"forged", forgedOld, a1.ErrMACVerification},
	} {
		_, err := cl.VerifyToken(ctx, &x.tok)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 401 || ce.Hint == "" {
			t.Fatalf("%s: %v, want a 401 *client.Error with a hint", x.name, err)
		}
		for _, sentinel := range []error{client.ErrTokenExpired, client.ErrTokenNotYetValid, a1.ErrMACVerification} {
			if errors.Is(err, sentinel) != (sentinel == x.want) {
				t.Errorf("%s: errors.Is(%v, %v) = %v", x.name, err, sentinel, !(sentinel == x.want))
			}
		}
	}
}
