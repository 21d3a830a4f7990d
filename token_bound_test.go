package a1_test

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/a1-go/a1"
)

// boundVector is the bound_token vector of the envelope vectors.
func boundVector(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(envelopesPath)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e["bound_token"]
}

// TestBoundTokenVector re-derives the bound MAC of docs/spec.md §3.3 with
// raw BLAKE3 calls (not the package's code) and checks that the vector's
// token decodes, verifies under its key only, and is bound as it says.
func TestBoundTokenVector(t *testing.T) {
	vec := boundVector(t)
	key := h32(t, vec["mac_key_hex"].(string))
	canonical, _ := hex.DecodeString(vec["canonical_receipt_bytes_hex"].(string))
	aud := vec["audience"].(string)
	exec, _ := hex.DecodeString(vec["executor_pk_hex"].(string))

	var bk [32]byte
	blake3.DeriveKey("a1-go::token-key::v1", key[:], bk[:])
	h, _ := blake3.NewKeyed(bk[:])
	h.Write(canonical)
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(aud))))
	h.Write([]byte(aud))
	h.Write(exec)
	eqHex(t, "bound MAC (spec formula)", h.Sum(nil), vec["mac_hex"].(string))

	var tok a1.VerifiedToken
	if err := tok.UnmarshalJSON([]byte(vec["token_json"].(string))); err != nil {
		t.Fatal(err)
	}
	if tok.Binding == nil || tok.Binding.Audience != aud || hex.EncodeToString(tok.Binding.Executor[:]) != vec["executor_pk_hex"] {
		t.Fatalf("decoded binding %+v", tok.Binding)
	}
	eqHex(t, "decoded receipt", tok.Receipt.CanonicalBytes(), vec["canonical_receipt_bytes_hex"].(string))
	if err := tok.Verify([32]byte{}, key); err != nil {
		t.Fatalf("vector token does not verify with its key second in the ring: %v", err)
	}
	if err := tok.CheckAudience(aud); err != nil {
		t.Fatal(err)
	}
	out, _ := tok.MarshalJSON()
	if string(out) != vec["token_json"] {
		t.Fatalf("re-encoded token differs:\n%s\n%s", out, vec["token_json"])
	}
}

// TestBoundTokenRejects: every part of a bound token is covered by its MAC,
// a bound token never verifies as the reference token of its receipt (nor
// the reverse), and the audience check refuses every mismatch.
func TestBoundTokenRejects(t *testing.T) {
	vec := boundVector(t)
	key := h32(t, vec["mac_key_hex"].(string))
	var good a1.VerifiedToken
	if err := good.UnmarshalJSON([]byte(vec["token_json"].(string))); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(*a1.VerifiedToken)) *a1.VerifiedToken {
		c := good
		b := *good.Binding
		c.Binding = &b
		f(&c)
		return &c
	}
	for _, tc := range []struct {
		name string
		tok  *a1.VerifiedToken
	}{
		{"audience changed", mutate(func(t *a1.VerifiedToken) { t.Binding.Audience = "trading-apj" })},
		{"audience extended", mutate(func(t *a1.VerifiedToken) { t.Binding.Audience += "x" })},
		{"executor changed", mutate(func(t *a1.VerifiedToken) { t.Binding.Executor[31] ^= 1 })},
		{"receipt changed", mutate(func(t *a1.VerifiedToken) { t.Receipt.VerifiedAtUnix++ })},
		{"binding dropped", mutate(func(t *a1.VerifiedToken) { t.Binding = nil })},
		{"reference MAC with a binding", mutate(func(t *a1.VerifiedToken) { t.MAC = t.Receipt.MAC(key) })},
		{"MAC under the raw key", mutate(func(t *a1.VerifiedToken) {
			h, _ := blake3.NewKeyed(key[:])
			h.Write(t.Receipt.CanonicalBytes())
			h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(t.Binding.Audience))))
			h.Write([]byte(t.Binding.Audience))
			h.Write(t.Binding.Executor[:])
			copy(t.MAC[:], h.Sum(nil))
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.tok.Verify(key); !errors.Is(err, a1.ErrMACVerification) {
				t.Fatalf("Verify = %v, want MAC_VERIFICATION_FAILED", err)
			}
		})
	}
	// A reference token of the same receipt is not a bound one either.
	ref := a1.NewVerifiedToken(good.Receipt, key)
	ref.Binding = good.Binding
	if err := ref.Verify(key); !errors.Is(err, a1.ErrMACVerification) {
		t.Fatalf("reference MAC accepted as bound: %v", err)
	}
	unbound := a1.NewVerifiedToken(good.Receipt, key)
	for _, tc := range []struct {
		name     string
		tok      *a1.VerifiedToken
		audience string
	}{
		{"bound, other audience", &good, "trading-apj"},
		{"bound, audience differs in case", &good, "Trading-api"},
		{"bound, audience a prefix", &good, "trading"},
		{"bound, no audience named", &good, ""},
		{"unbound, audience named", &unbound, "trading-api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.tok.CheckAudience(tc.audience); !errors.Is(err, a1.ErrTokenAudience) || a1.ErrorCode(err) != "TOKEN_AUDIENCE_MISMATCH" {
				t.Fatalf("CheckAudience(%q) = %v, want TOKEN_AUDIENCE_MISMATCH", tc.audience, err)
			}
		})
	}
	if err := unbound.CheckAudience(""); err != nil {
		t.Fatalf("unbound token without audience (the reference behaviour): %v", err)
	}
}

// TestBoundTokenDecodeRejects: a bound token needs both binding members,
// each well formed; the audience rules hold at minting too.
func TestBoundTokenDecodeRejects(t *testing.T) {
	vec := boundVector(t)
	good := vec["token_json"].(string)
	exec := vec["executor_pk_hex"].(string)
	for _, tc := range []struct{ name, from, to string }{
		{"no executor", `,"executor_pk_hex":"` + exec + `"`, ``},
		{"no audience", `"audience":"trading-api",`, ``},
		{"empty audience", `"audience":"trading-api"`, `"audience":""`},
		{"audience too long", `"audience":"trading-api"`, `"audience":"` + strings.Repeat("a", a1.MaxAudienceLen+1) + `"`},
		{"audience with a control character", `"audience":"trading-api"`, `"audience":"trading\u0007api"`},
		{"audience with a line separator", `"audience":"trading-api"`, `"audience":"trading\u2028api"`},
		{"audience not a string", `"audience":"trading-api"`, `"audience":7`},
		{"executor short", `"executor_pk_hex":"` + exec + `"`, `"executor_pk_hex":"` + exec[:62] + `"`},
		{"executor not hex", `"executor_pk_hex":"` + exec + `"`, `"executor_pk_hex":"` + "zz" + exec[2:] + `"`},
		{"audience twice", `"audience":"trading-api"`, `"audience":"trading-api","audience":"other"`},
		{"audience twice, other case", `"audience":"trading-api"`, `"audience":"trading-api","Audience":"other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(good, tc.from, tc.to, 1)
			if body == good {
				t.Fatalf("the replacement did not apply")
			}
			var tok a1.VerifiedToken
			if err := tok.UnmarshalJSON([]byte(body)); !errors.Is(err, a1.ErrMalformed) {
				t.Fatalf("decode %s: %v, want MALFORMED_REQUEST", body, err)
			}
		})
	}
	for _, aud := range []string{"", strings.Repeat("a", a1.MaxAudienceLen+1), "a\nb", "\xff"} {
		if _, err := a1.NewBoundToken(a1.Receipt{}, a1.TokenBinding{Audience: aud}, [32]byte{}); !errors.Is(err, a1.ErrMalformed) {
			t.Errorf("NewBoundToken(audience %q) = %v, want MALFORMED_REQUEST", aud, err)
		}
	}
}
