package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// The cost benchmarks time the most expensive requests a client can send
// through the in-process handler, next to an honest 2-hop PoP
// authorization, to check that no request costs much more than an honest
// one (run: go test -run '^$' -bench Cost -benchtime 200x ./gateway/).
// Bodies stay within the default A1_MAX_BODY_BYTES (1 MiB) and A1_MAX_BATCH.

const costBodyLimit = gateway.DefaultMaxBodyBytes

func costServer(tb testing.TB, sc *scenario) *gateway.Server {
	env := map[string]string{"A1_STORE": "memory", "A1_TRUSTED_ROOTS": sc.human.pk.Hex(), "A1_GATEWAY_ID": "bench", "A1_RATE_LIMIT_RPS": "0"}
	cfg, err := gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := gateway.NewServer(context.Background(), cfg, gateway.Deps{Stdout: io.Discard})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// hexChain encodes sc in the compact hex form (byte fields as hex strings),
// the densest form an attacker can send; pad adds an ignored member so
// that equal chains are distinct bytes.
func hexChain(sc *a1.SignedChain, pad int) []byte {
	var b bytes.Buffer
	h := func(p []byte) { b.WriteByte('"'); b.WriteString(hex.EncodeToString(p)); b.WriteByte('"') }
	fmt.Fprintf(&b, `{"version":%d,"principal_pk":`, sc.Version)
	h(sc.PrincipalPK[:])
	b.WriteString(`,"principal_scope":`)
	h(sc.PrincipalScope[:])
	b.WriteString(`,"certs":[`)
	for i, c := range sc.Certs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"version":%d,"delegator_pk":`, c.Version)
		h(c.DelegatorPK[:])
		b.WriteString(`,"delegate_pk":`)
		h(c.DelegatePK[:])
		b.WriteString(`,"scope_root":`)
		h(c.ScopeRoot[:])
		b.WriteString(`,"scope_proof":{"subset_intents":[`)
		for j, s := range c.ScopeProof.SubsetIntents {
			if j > 0 {
				b.WriteByte(',')
			}
			h(s[:])
		}
		b.WriteString(`],"proofs":[`)
		for j, p := range c.ScopeProof.Proofs {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"siblings":[`)
			for k, s := range p.Siblings {
				if k > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"hash":`)
				h(s.Hash[:])
				fmt.Fprintf(&b, `,"is_left":%t}`, s.IsLeft)
			}
			b.WriteString(`]}`)
		}
		b.WriteString(`]},"nonce":`)
		h(c.Nonce[:])
		fmt.Fprintf(&b, `,"issued_at":%d,"expiration_unix":%d,"max_depth":%d,"extensions":{"fields":{}},"signature":`,
			c.IssuedAt, c.ExpirationUnix, c.MaxDepth)
		h(c.Signature[:])
		b.WriteByte('}')
	}
	b.WriteString(`]`)
	if pad > 0 {
		fmt.Fprintf(&b, `,"x":%d`, pad)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func rawKey(tb testing.TB) a1.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return a1.PublicKey(pub)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// garbageCert is an unsigned cert (random signature) from -> to that passes
// every structural check with a pass-through scope.
func garbageCert(from, to a1.PublicKey, scope [32]byte) *a1.Cert {
	c := &a1.Cert{Version: a1.CertVersion, DelegatorPK: from, DelegatePK: to, ScopeRoot: scope,
		IssuedAt: now() - 5, ExpirationUnix: now() + 600, MaxDepth: 64}
	copy(c.Nonce[:], randBytes(16))
	copy(c.Signature[:], randBytes(64))
	return c
}

// deepPath is a proof of n random siblings from leaf and the root it leads
// to: each step is a two-leaf tree (sorted), so is_left follows the order.
func deepPath(leaf a1.IntentHash, n int) (a1.MerkleProof, [32]byte) {
	var p a1.MerkleProof
	cur := [32]byte(leaf)
	for i := 0; i < n; i++ {
		s := [32]byte(randBytes(32))
		t, _ := a1.NewIntentTree([]a1.IntentHash{a1.IntentHash(cur), a1.IntentHash(s)})
		p.Siblings = append(p.Siblings, a1.ProofStep{Hash: s, IsLeft: bytes.Compare(s[:], cur[:]) < 0})
		cur = t.Root()
	}
	return p, cur
}

type costCase struct {
	name string
	path string
	body func(i int) []byte // a fresh body for iteration i
}

func runCost(b *testing.B, s *gateway.Server, c costCase) {
	h := s.Handler()
	first := c.body(-1)
	if len(first) > costBodyLimit {
		b.Fatalf("%s: body %d bytes > %d", c.name, len(first), costBodyLimit)
	}
	// One untimed run: report the answer.
	r := httptest.NewRequest("POST", c.path, bytes.NewReader(first))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	ans := w.Body.String()
	if len(ans) > 160 {
		ans = ans[:160] + "…"
	}
	b.Logf("%s: body %d bytes → %d %s", c.name, len(first), w.Code, strings.TrimSpace(ans))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		body := c.body(i)
		r := httptest.NewRequest("POST", c.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, r)
	}
	b.SetBytes(int64(len(first)))
}

func BenchmarkCost(b *testing.B) {
	sc := newScenario(b)
	s := costServer(b, sc)

	// Honest: the 2-hop PoP authorization of bench_test.go.
	honestChain := sc.chain(b, 0)
	honest := func(extra ...any) func(int) []byte {
		return func(int) []byte {
			req := sc.authReq(honestChain, 0)
			p, _ := a1.SignPoP(sc.tool.signer(), "bench", honestChain.Fingerprint(), sc.intents[0], now())
			req["proof"] = p.JSON()
			for i := 0; i+1 < len(extra); i += 2 {
				req[extra[i].(string)] = extra[i+1]
			}
			body, _ := json.Marshal(req)
			return body
		}
	}

	// Honest batch: 256 intents of a 2-hop chain, one batch PoP.
	batchChain := sc.chain(b, 0, 1, 2, 3)
	honestBatch := func(int) []byte {
		items := make([]int, 256)
		for i := range items {
			items[i] = i % 4
		}
		req := sc.batchBody(batchChain, items...)
		hashes := make([]a1.IntentHash, len(items))
		for i, j := range items {
			hashes[i] = sc.intents[j]
		}
		p, _ := a1.SignPoP(sc.tool.signer(), "bench", batchChain.Fingerprint(), a1.BatchIntentHash(hashes), now())
		req["proof"] = p.JSON()
		body, _ := json.Marshal(req)
		return body
	}

	// Padding: an honest body grown to ~1 MiB with one ignored string.
	pad := strings.Repeat("x", costBodyLimit-4096)

	// Many keys: an honest body grown to ~1 MiB with ignored members.
	var mk strings.Builder
	for i := 0; mk.Len() < costBodyLimit-8192; i++ {
		mk.WriteString(`,"k` + strconv.Itoa(i) + `":0`)
	}
	manyKeys := func(int) []byte {
		body := honest()(0)
		return append(append(body[:len(body)-1:len(body)-1], mk.String()...), '}')
	}

	// The same with every key escaped ("\u006bN"): unescaped per key.
	var ek strings.Builder
	for i := 0; ek.Len() < costBodyLimit-8192; i++ {
		ek.WriteString(`,"\u006b` + strconv.Itoa(i) + `":0`)
	}
	escKeys := func(int) []byte {
		body := honest()(0)
		return append(append(body[:len(body)-1:len(body)-1], ek.String()...), '}')
	}

	// A batch of 256 intents, each with ignored members up to ~1 MiB.
	batchKeys := func(int) []byte {
		var items bytes.Buffer
		per := (costBodyLimit - 16384) / 256
		hashes := make([]a1.IntentHash, 256)
		for j := range hashes {
			if j > 0 {
				items.WriteByte(',')
			}
			start := items.Len()
			items.WriteString(`{"name":"trade.fx"`)
			for k := 0; items.Len()-start < per; k++ {
				items.WriteString(`,"k` + strconv.Itoa(k) + `":0`)
			}
			items.WriteString(`}`)
			hashes[j] = sc.intents[2]
		}
		p, _ := a1.SignPoP(sc.tool.signer(), "bench", batchChain.Fingerprint(), a1.BatchIntentHash(hashes), now())
		pj, _ := json.Marshal(p.JSON())
		return []byte(`{"chain":` + string(hexChain(batchChain, 0)) + `,"executor_pk_hex":"` + sc.tool.pk.Hex() +
			`","intents":[` + items.String() + `],"proof":` + string(pj) + `}`)
	}

	// 32 certs from the trusted root with fresh keys and random signatures.
	garbage32 := func(int) []byte {
		scope := [32]byte(randBytes(32))
		from := sc.human.pk
		var certs []*a1.Cert
		for i := 0; i < a1.MaxDecodeCerts; i++ {
			to := rawKey(b)
			certs = append(certs, garbageCert(from, to, scope))
			from = to
		}
		chain := hexChain(a1.NewChain(sc.human.pk, scope, certs...), 0)
		return []byte(`{"chain":` + string(chain) + `,"intent_name":"x","executor_pk_hex":"` + from.Hex() + `"}`)
	}

	// One cert whose sub-scope proof repeats a leaf with 64-sibling
	// proofs, as many as fit: Merkle work before any signature.
	deepProof := func(int) []byte {
		leaf := a1.IntentHash(randBytes(32))
		p, root := deepPath(leaf, a1.MaxProofSiblings)
		var sub a1.SubScopeProof
		for n := 0; n < 170; n++ {
			sub.SubsetIntents = append(sub.SubsetIntents, leaf)
			sub.Proofs = append(sub.Proofs, p)
		}
		to := rawKey(b)
		c := garbageCert(sc.human.pk, to, [32]byte(leaf))
		c.ScopeProof = sub
		chain := hexChain(a1.NewChain(sc.human.pk, root, c), 0)
		return []byte(`{"chain":` + string(chain) + `,"intent_name":"x","executor_pk_hex":"` + to.Hex() + `"}`)
	}

	// One cert narrowing a tree of 1000 distinct leaves to all of them:
	// 1000 proofs of 10 siblings, then a 1000-leaf tree build.
	wideTree := func(int) []byte {
		leaves := make([]a1.IntentHash, 1000)
		for i := range leaves {
			leaves[i] = a1.IntentHash(randBytes(32))
		}
		t, _ := a1.NewIntentTree(leaves)
		sub, _ := a1.BuildSubScopeProof(t, leaves)
		root, _ := a1.TreeRoot(leaves)
		to := rawKey(b)
		c := garbageCert(sc.human.pk, to, root)
		c.ScopeProof = sub
		chain := hexChain(a1.NewChain(sc.human.pk, t.Root(), c), 0)
		return []byte(`{"chain":` + string(chain) + `,"intent_name":"x","executor_pk_hex":"` + to.Hex() + `"}`)
	}

	// A validly signed chain (a key holder's own delegation) whose
	// terminal cert narrows to 950 intents: the largest scope that fits,
	// then a batch of 256 of them without proofs (derived per item).
	const wideN = 950
	var wide []a1.IntentHash
	for i := 0; i < wideN; i++ {
		wide = append(wide, hashOf(b, "bench.op", map[string]string{"n": strconv.Itoa(i)}))
	}
	wideT, _ := a1.NewIntentTree(wide)
	w1, _ := a1.NewCert(sc.orch.pk, wide, now()-5, 3600)
	w1.MaxDepth = 8
	if err := w1.Sign(sc.human.signer()); err != nil {
		b.Fatal(err)
	}
	w2, err := a1.NewSubCert(sc.tool.pk, wideT, wide, now()-5, 600)
	if err != nil {
		b.Fatal(err)
	}
	if err := w2.Sign(sc.orch.signer()); err != nil {
		b.Fatal(err)
	}
	wideChain := a1.NewChain(sc.human.pk, w1.ScopeRoot, w1, w2)
	wideJSON := hexChain(wideChain, 0)
	wideSingle := func(i int) []byte {
		p, _ := a1.SignPoP(sc.tool.signer(), "bench", wideChain.Fingerprint(), wide[0], now())
		pj, _ := json.Marshal(p.JSON())
		return []byte(`{"chain":` + string(wideJSON) + `,"intent_name":"bench.op","intent_params":{"n":"0"},"executor_pk_hex":"` +
			sc.tool.pk.Hex() + `","proof":` + string(pj) + `}`)
	}
	wideBatch := func(i int) []byte {
		var items bytes.Buffer
		hashes := make([]a1.IntentHash, 256)
		for j := range hashes {
			if j > 0 {
				items.WriteByte(',')
			}
			fmt.Fprintf(&items, `{"name":"bench.op","params":{"n":"%d"}}`, j)
			hashes[j] = wide[j]
		}
		p, _ := a1.SignPoP(sc.tool.signer(), "bench", wideChain.Fingerprint(), a1.BatchIntentHash(hashes), now())
		pj, _ := json.Marshal(p.JSON())
		return []byte(`{"chain":` + string(wideJSON) + `,"executor_pk_hex":"` + sc.tool.pk.Hex() +
			`","intents":[` + items.String() + `],"proof":` + string(pj) + `}`)
	}

	cases := []costCase{
		{name: "honest_pop", path: "/v1/authorize", body: honest()},
		{name: "honest_batch256", path: "/v1/authorize/batch", body: honestBatch},
		{name: "pad_1MiB", path: "/v1/authorize", body: honest("pad", pad)},
		{name: "many_keys_1MiB", path: "/v1/authorize", body: manyKeys},
		{name: "escaped_keys_1MiB", path: "/v1/authorize", body: escKeys},
		{name: "batch256_many_keys_1MiB", path: "/v1/authorize/batch", body: batchKeys},
		{name: "garbage_sigs_32", path: "/v1/authorize", body: garbage32},
		{name: "deep_proofs_1MiB", path: "/v1/authorize", body: deepProof},
		{name: "wide_tree_1000", path: "/v1/authorize", body: wideTree},
		{name: "signed_wide_single", path: "/v1/authorize", body: wideSingle},
		{name: "signed_wide_batch256", path: "/v1/authorize/batch", body: wideBatch},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { runCost(b, s, c) })
	}
}
