package a1_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/a1-go/a1"
)

// TestTokenReviewAudienceReplacementChar: no audience may contain U+FFFD.
// encoding/json, the gateway's request decoder, turns a lone surrogate
// escape into U+FFFD, so "svc\ud800" and "svc\udbff" (audiences of two
// services, in a language whose strings are UTF-16) would both arrive as
// "svc\ufffd": one binding for two services. With U+FFFD refused, every
// such request is a 400 instead.
func TestTokenReviewAudienceReplacementChar(t *testing.T) {
	for _, aud := range []string{"svc\ufffd", "\ufffd", "a\ufffdb"} {
		if err := a1.ValidateAudience(aud); err == nil {
			t.Errorf("ValidateAudience(%q) = nil, want an error", aud)
		}
		if _, err := a1.NewBoundToken(a1.Receipt{ChainDepth: 1}, a1.TokenBinding{Audience: aud}, [32]byte{1}); !errors.Is(err, a1.ErrMalformed) {
			t.Errorf("NewBoundToken(%q) = %v, want ErrMalformed", aud, err)
		}
	}
	// A token carrying one (minted before, or forged) does not decode.
	tok, err := a1.NewBoundToken(a1.Receipt{ChainDepth: 1}, a1.TokenBinding{Audience: "svc-x"}, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tok)
	for _, s := range []string{`"svc\ufffd"`, `"svc` + "\ufffd" + `"`} {
		var got a1.VerifiedToken
		if err := got.UnmarshalJSON([]byte(strings.Replace(string(b), `"svc-x"`, s, 1))); err == nil {
			t.Errorf("token with audience %s decoded, want an error", s)
		}
	}
	// Other non-ASCII audiences are still fine.
	for _, aud := range []string{"trading-api", "café", "支払い", strings.Repeat("é", a1.MaxAudienceLen/2)} {
		if err := a1.ValidateAudience(aud); err != nil {
			t.Errorf("ValidateAudience(%q) = %v", aud, err)
		}
	}
}

// TestTokenReviewCaseVariantMembers: a token (or its receipt) with a member
// equal to one of its field names but for letter case is refused. The
// decoder ignores unknown members, so {"receipt", "mac", "AUDIENCE",
// "EXECUTOR_PK_HEX"} used to be a valid unbound token to the gateway and a
// bound one to a case-insensitive reader (encoding/json into a struct),
// and "NAMESPACE" a namespace the MAC does not cover.
func TestTokenReviewCaseVariantMembers(t *testing.T) {
	key := [32]byte{3}
	exec := a1.PublicKey{9}
	unbound, _ := json.Marshal(a1.NewVerifiedToken(a1.Receipt{ChainDepth: 1, VerifiedAtUnix: 5}, key))
	bound0, err := a1.NewBoundToken(a1.Receipt{ChainDepth: 1, VerifiedAtUnix: 5}, a1.TokenBinding{Audience: "svc", Executor: exec}, key)
	if err != nil {
		t.Fatal(err)
	}
	bound, _ := json.Marshal(bound0)
	ins := func(tok []byte, members string) string {
		return strings.Replace(string(tok), `"mac":`, members+`,"mac":`, 1)
	}
	insReceipt := func(tok []byte, members string) string {
		return strings.Replace(string(tok), `"chain_depth":`, members+`,"chain_depth":`, 1)
	}
	for _, tc := range []struct{ name, json string }{
		{"unbound + AUDIENCE, EXECUTOR_PK_HEX", ins(unbound, `"AUDIENCE":"svc","EXECUTOR_PK_HEX":"`+exec.Hex()+`"`)},
		{"unbound + Audience", ins(unbound, `"Audience":"svc"`)},
		{"unbound + Executor_Pk_Hex", ins(unbound, `"Executor_Pk_Hex":"`+exec.Hex()+`"`)},
		{"unbound + Kelvin sign", ins(unbound, `"executor_p\u212a_hex":"`+exec.Hex()+`"`)},
		{"bound + MAC", ins(bound, `"MAC":"00"`)},
		{"receipt NAMESPACE", insReceipt(unbound, `"NAMESPACE":"acme"`)},
		{"receipt Namespace, long s", insReceipt(unbound, `"name\u017fpace":"acme"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tok a1.VerifiedToken
			err := tok.UnmarshalJSON([]byte(tc.json))
			if !errors.Is(err, a1.ErrMalformed) {
				t.Fatalf("UnmarshalJSON(%s) = %v (binding %+v), want ErrMalformed", tc.json, err, tok.Binding)
			}
		})
	}
	// Unknown members of any other name are still ignored, as the
	// reference does.
	for _, s := range []string{ins(unbound, `"extra":{"audience":"x"}`), insReceipt(bound, `"comment":"hi"`)} {
		var tok a1.VerifiedToken
		if err := tok.UnmarshalJSON([]byte(s)); err != nil {
			t.Fatalf("UnmarshalJSON(%s) = %v", s, err)
		}
		if err := tok.Verify(key); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestTokenReviewBindingIsInjective: the MAC input cannot be re-split. A
// byte moved between the namespace (the receipt's last, length-prefixed
// field) and the audience, or between the audience and the executor,
// gives another MAC; the same binding under the reference MAC, or a
// reference MAC relabelled as bound, verifies under no key.
func TestTokenReviewBindingIsInjective(t *testing.T) {
	key := [32]byte{5}
	mk := func(ns, aud string, exec a1.PublicKey) a1.VerifiedToken {
		tok, err := a1.NewBoundToken(a1.Receipt{ChainDepth: 1, Namespace: ns}, a1.TokenBinding{Audience: aud, Executor: exec}, key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a := mk("a", "bc", a1.PublicKey{1})
	b := mk("ab", "c", a1.PublicKey{1})
	e1 := a1.PublicKey{1}
	var e2 a1.PublicKey
	copy(e2[:], append([]byte{'c'}, e1[:31]...))
	c := mk("a", "b", e2)
	if a.MAC == b.MAC || a.MAC == c.MAC || b.MAC == c.MAC {
		t.Fatal("two bindings share a MAC")
	}
	// Relabel: a's MAC on b's fields, the bound MAC as the reference's and
	// the reference MAC with a binding.
	forged := b
	forged.MAC = a.MAC
	stripped := a
	stripped.Binding = nil
	ref := a1.NewVerifiedToken(a.Receipt, key)
	ref.Binding = a.Binding
	for name, tok := range map[string]a1.VerifiedToken{"resplit": forged, "binding dropped": stripped, "binding added": ref} {
		if err := tok.Verify(key); !errors.Is(err, a1.ErrMACVerification) {
			t.Errorf("%s: Verify = %v, want ErrMACVerification", name, err)
		}
	}
	// The audience compare is exact: no trimming, folding or normalizing.
	for _, aud := range []string{"bc ", " bc", "BC", "bc\u200b", "b\u0441"} {
		if err := a.CheckAudience(aud); !errors.Is(err, a1.ErrTokenAudience) {
			t.Errorf("CheckAudience(%q) = %v, want ErrTokenAudience", aud, err)
		}
	}
	if err := a.CheckAudience("bc"); err != nil {
		t.Fatal(err)
	}
}
