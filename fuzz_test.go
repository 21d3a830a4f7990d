package a1_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/a1-go/a1"
)

func seedChains(f *testing.F) {
	v := loadVectors(f)
	f.Add([]byte(s(v, "chain_2hop", "signed_chain_json")))
	f.Add([]byte(s(v, "namespaced_chain", "signed_chain_json")))
	for _, c := range arr(v, "verification_cases") {
		f.Add(raw(f, o(c, "input", "signed_chain")))
	}
	f.Add([]byte(`{"version":1,"principal_pk":"","principal_scope":"","certs":[]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
}

// FuzzDecodeChain: the decoder never panics, errors are always protocol
// errors (ErrMalformed or ErrUnsupportedVersion), and what decodes
// re-encodes to something that decodes to the same chain.
func FuzzDecodeChain(f *testing.F) {
	seedChains(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := a1.DecodeSignedChain(b)
		if err != nil {
			if !errors.Is(err, a1.ErrMalformed) && !errors.Is(err, a1.ErrUnsupportedVersion) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out, _ := json.Marshal(sc)
		sc2, err := a1.DecodeSignedChain(out)
		if err != nil {
			t.Fatalf("re-encoded chain does not decode: %v", err)
		}
		out2, _ := json.Marshal(sc2)
		if string(out) != string(out2) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzVerifyMutatedChain: flipping any byte of a valid chain's encoding
// never yields an authorization of a different chain: either decoding or
// verification fails, or the mutation did not change the decoded chain
// (whitespace, number formatting, the unsigned principal scope aside).
func FuzzVerifyMutatedChain(f *testing.F) {
	fx := newFixture(f, nil)
	good, _ := json.Marshal(fx.chain)
	goodFP := fx.chain.Fingerprint()
	f.Add(uint(0), byte(1))
	f.Add(uint(100), byte(0x80))
	f.Add(uint(len(good)/2), byte(7))
	v := fx.verifier()
	f.Fuzz(func(t *testing.T, pos uint, x byte) {
		if x == 0 {
			return
		}
		b := append([]byte(nil), good...)
		b[int(pos%uint(len(b)))] ^= x
		sc, err := a1.DecodeSignedChain(b)
		if err != nil {
			return
		}
		res, err := v.Verify(&a1.Request{Chain: sc, Executor: fx.toolPK, Intent: hashes(t, "trade.equity")[0]})
		if err != nil {
			return
		}
		if res.ChainFingerprint != goodFP {
			t.Fatalf("a mutated chain was authorized: %s", b)
		}
	})
}

// FuzzIntent: intent construction never panics and enforces the limits.
func FuzzIntent(f *testing.F) {
	f.Add("trade.equity", "Symbol", " AAPL ")
	f.Add("", "k", "v")
	f.Add("x", "İ", "ΣΑΣ")
	f.Fuzz(func(t *testing.T, action, k, val string) {
		in, err := a1.NewIntent(action, map[string]string{k: val})
		if err != nil {
			if !errors.Is(err, a1.ErrMalformed) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if action == "" || len(action) > a1.MaxActionLen {
			t.Fatal("invalid action accepted")
		}
		for pk, pv := range in.Params() {
			if len(pk) > a1.MaxParamKeyLen || len(pv) > a1.MaxParamValueLen {
				t.Fatal("limit not enforced")
			}
			if a1.NormalizeParam(pk) != pk {
				t.Fatalf("key %q not normalized idempotently", pk)
			}
		}
		_ = in.Hash()
	})
}

func TestFuzzCorpusDirExists(t *testing.T) {
	// The seed corpus in testdata/fuzz is kept in the repository.
	if _, err := os.Stat("testdata/fuzz/FuzzDecodeChain"); err != nil {
		t.Fatalf("missing seed corpus: %v", err)
	}
}

func TestRustLowercase(t *testing.T) {
	for in, want := range map[string]string{
		" AAPL ": "aapl",
		"İ":      "i\u0307",
		"ΣΑΣ":    "σας",  // final sigma at the end of a word
		"Σ":      "σ",    // no preceding cased letter
		"ΑΣ.Β":   "ασ.β", // a cased letter follows the case-ignorable "."
		"ΑΣ. Β":  "ας. β",
		"ΑΣΒ":    "ασβ",
		"ÀÉÎ":    "àéî",
	} {
		if got := a1.NormalizeParam(in); got != want {
			t.Errorf("NormalizeParam(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecodeToken: the token decoder never panics, refuses with
// ErrMalformed only, and what decodes re-encodes stably, keeps its binding
// (a bound token's audience valid) and verifies under the vectors' key
// exactly when the original did.
func FuzzDecodeToken(f *testing.F) {
	v := loadVectors(f)
	f.Add([]byte(s(v, "chain_2hop", "verified_token", "token_json")))
	if b, err := os.ReadFile(envelopesPath); err == nil {
		var e map[string]map[string]any
		if json.Unmarshal(b, &e) == nil {
			f.Add([]byte(e["bound_token"]["token_json"].(string)))
		}
	}
	f.Add([]byte(`{"receipt":{},"audience":"a","executor_pk_hex":"","mac":""}`))
	key := h32(f, s(v, "chain_2hop", "verified_token", "mac_key_hex"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tok a1.VerifiedToken
		if err := tok.UnmarshalJSON(b); err != nil {
			if !errors.Is(err, a1.ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if tok.Binding != nil && a1.ValidateAudience(tok.Binding.Audience) != nil {
			t.Fatalf("decoded an invalid audience %q", tok.Binding.Audience)
		}
		out, _ := tok.MarshalJSON()
		var tok2 a1.VerifiedToken
		if err := tok2.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-encoded token does not decode: %v\n%s", err, out)
		}
		out2, _ := tok2.MarshalJSON()
		if string(out) != string(out2) {
			t.Fatal("encoding is not stable")
		}
		if (tok.Binding == nil) != (tok2.Binding == nil) || (tok.Verify(key) == nil) != (tok2.Verify(key) == nil) {
			t.Fatal("re-encoding changed the binding or the verification")
		}
	})
}
