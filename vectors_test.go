package a1_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/a1-go/a1"
)

// The golden vectors come from the unmodified reference (A1 2.8.0). The
// copy in testdata must equal ../shared when that directory is present.
const vectorsPath = "testdata/vectors/a1-reference-vectors.json"

type obj = map[string]any

func loadVectors(t testing.TB) obj {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var v obj
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectorsCopyMatchesShared(t *testing.T) {
	shared, err := os.ReadFile("../shared/vectors/a1-reference-vectors.json")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("../shared not present (only the vendored copy is tested)")
	}
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, ours) {
		t.Fatal("testdata/vectors differs from ../shared/vectors: re-copy it")
	}
}

func o(v any, path ...string) any {
	for _, p := range path {
		v = v.(obj)[p]
	}
	return v
}
func s(v any, path ...string) string  { return o(v, path...).(string) }
func arr(v any, path ...string) []any { return o(v, path...).([]any) }
func u64(v any, path ...string) uint64 {
	n, err := o(v, path...).(json.Number).Int64()
	if err != nil {
		panic(err)
	}
	return uint64(n)
}
func raw(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func h32(t testing.TB, hx string) (out [32]byte) {
	t.Helper()
	b, err := hex.DecodeString(hx)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hex32 %q", hx)
	}
	return [32]byte(b)
}
func eqHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s = %x, want %s", what, got, want)
	}
}

func TestVectorIntents(t *testing.T) {
	v := loadVectors(t)
	for _, it := range arr(v, "intents") {
		params := map[string]string{}
		for k, val := range o(it, "intent_json", "params").(obj) {
			params[k] = val.(string)
		}
		in, err := a1.NewIntent(s(it, "action"), params)
		if err != nil {
			t.Fatal(err)
		}
		h := in.Hash()
		eqHex(t, "intent "+s(it, "display"), h[:], s(it, "leaf_hash_hex"))
		if in.String() != s(it, "display") {
			t.Errorf("display %q, want %q", in.String(), s(it, "display"))
		}
	}
	for _, it := range arr(v, "intent_errors") {
		if e, ok := it.(obj)["error"]; ok {
			_, err := a1.NewIntent(s(it, "action"), nil)
			if err == nil || err.Error() != s(e, "display") {
				t.Errorf("intent error %v, want %q", err, s(e, "display"))
			}
			if a1.ReferenceCode(err) != s(e, "error_code") {
				t.Errorf("reference code %q, want %q", a1.ReferenceCode(err), s(e, "error_code"))
			}
		} else {
			if _, err := a1.NewIntent(strings.Repeat("x", int(u64(it, "action_len"))), nil); err != nil {
				t.Errorf("action of %d bytes rejected: %v", u64(it, "action_len"), err)
			}
		}
	}
	for _, it := range arr(v, "intent_hash_legacy_deprecated") {
		p, _ := hex.DecodeString(s(it, "params_hex"))
		h := a1.LegacyIntentHash(s(it, "action"), p)
		eqHex(t, "legacy intent", h[:], s(it, "hash_hex"))
	}
}

func TestVectorTrees(t *testing.T) {
	v := loadVectors(t)
	for _, tr := range arr(v, "intent_trees") {
		var leaves []a1.IntentHash
		for _, a := range arr(tr, "actions") {
			h, _ := a1.HashIntent(a.(string), nil)
			leaves = append(leaves, h)
		}
		tree, err := a1.NewIntentTree(leaves)
		if err != nil {
			t.Fatal(err)
		}
		root := tree.Root()
		eqHex(t, "tree root", root[:], s(tr, "root_hex"))
		for _, p := range arr(tr, "proofs") {
			leaf := a1.IntentHash(h32(t, s(p, "leaf_hex")))
			proof, err := tree.Prove(leaf)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(proof)
			if want := raw(t, o(p, "proof")); !bytes.Equal(got, want) {
				t.Errorf("proof of %s:\n got %s\nwant %s", s(p, "action"), got, want)
			}
			if !proof.Verify(leaf, root) {
				t.Errorf("proof of %s does not verify", s(p, "action"))
			}
			var decoded a1.MerkleProof
			if err := json.Unmarshal(raw(t, o(p, "proof")), &decoded); err != nil || !decoded.Verify(leaf, root) {
				t.Errorf("decoded proof of %s does not verify: %v", s(p, "action"), err)
			}
		}
	}
	_, err := a1.NewIntentTree(nil)
	if !errors.Is(err, a1.ErrEmptyTree) || err.Error() != s(v, "intent_tree_empty_error", "display") {
		t.Errorf("empty tree error %v", err)
	}
}

func TestVectorSubScopeAndExtensions(t *testing.T) {
	v := loadVectors(t)
	for name, sp := range o(v, "subscope_proofs").(obj) {
		var c a1.Cert
		certJSON := `{"version":1,"delegator_pk":"` + strings.Repeat("00", 32) + `","delegate_pk":"` + strings.Repeat("00", 32) +
			`","scope_root":"` + strings.Repeat("00", 32) + `","scope_proof":` + string(raw(t, o(sp, "proof"))) +
			`,"nonce":"` + strings.Repeat("00", 16) + `","issued_at":1,"expiration_unix":2,"max_depth":0,"signature":"` + strings.Repeat("00", 64) + `"}`
		if err := json.Unmarshal([]byte(certJSON), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cm := c.ScopeProof.Commitment()
		eqHex(t, name+" commitment", cm[:], s(sp, "commitment_hex"))
		if dr, ok := sp.(obj)["derived_root_hex"]; ok {
			parent := s(v, "chain_2hop", "principal_scope_hex")
			if p, ok := sp.(obj)["parent_root_hex"]; ok {
				parent = p.(string)
			}
			root, err := c.ScopeProof.VerifyAndDeriveRoot(h32(t, parent))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			eqHex(t, name+" derived root", root[:], dr.(string))
		}
	}
	for _, ext := range arr(v, "cert_extensions") {
		var c a1.Cert
		certJSON := `{"version":1,"delegator_pk":"` + strings.Repeat("00", 32) + `","delegate_pk":"` + strings.Repeat("00", 32) +
			`","scope_root":"` + strings.Repeat("00", 32) + `","scope_proof":{"subset_intents":[],"proofs":[]}` +
			`,"nonce":"` + strings.Repeat("00", 16) + `","issued_at":1,"expiration_unix":2,"max_depth":0,"extensions":` +
			string(raw(t, o(ext, "extensions_json"))) + `,"signature":"` + strings.Repeat("00", 64) + `"}`
		if err := json.Unmarshal([]byte(certJSON), &c); err != nil {
			t.Fatalf("%s: %v", s(ext, "label"), err)
		}
		cm := c.Extensions.Commitment()
		eqHex(t, s(ext, "label"), cm[:], s(ext, "commitment_hex"))
		got, _ := json.Marshal(c.Extensions)
		if want := raw(t, o(ext, "extensions_json")); !bytes.Equal(got, want) {
			t.Errorf("%s: extensions JSON %s, want %s", s(ext, "label"), got, want)
		}
	}
}
