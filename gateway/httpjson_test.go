package gateway

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestUnmarshalStrictTrailing checks the end of the first top-level value:
// whitespace may follow it, nothing else (a stray closing bracket included).
func TestUnmarshalStrictTrailing(t *testing.T) {
	cases := []struct {
		body  string
		ok    bool
		inMsg string
	}{
		{`{"intent_name":"a"}`, true, ""},
		{"{\"intent_name\":\"a\"} \t\r\n", true, ""},
		{`{"intent_name":"a"}{}`, false, "trailing data"},
		{`{"intent_name":"a"} x`, false, "trailing data"},
		{`{"intent_name":"a"}}`, false, "trailing data"},
		{`{"intent_name":"a"}]`, false, "trailing data"},
		{`{"intent_name":"a"`, false, "malformed JSON"},
		{`{"intent_name":}`, false, "malformed JSON"},
		{`{"intent_name":"a}"} `, true, ""},
		{`[]`, false, "wrong type"},
		{`"s"`, false, "wrong type"},
	}
	for _, tc := range cases {
		var req authorizeRequest
		e := unmarshalStrict([]byte(tc.body), &req)
		if (e == nil) != tc.ok {
			t.Fatalf("%q: err = %v, want ok=%v", tc.body, e, tc.ok)
		}
		if e != nil && !strings.Contains(e.Msg, tc.inMsg) {
			t.Fatalf("%q: %q does not mention %q", tc.body, e.Msg, tc.inMsg)
		}
	}
}

// TestUnmarshalStrictChainSpan checks that the chain bytes handed to the
// chain decoder are exactly the top-level "chain" object, and that the rest
// of the envelope is decoded.
func TestUnmarshalStrictChainSpan(t *testing.T) {
	chain := `{"version":1,"principal_pk":"ab","certs":[{"x":[1,2,{"y":"}"}]}]}`
	for _, body := range []string{
		`{"chain":` + chain + `,"intent_name":"n","request_id":"r"}`,
		`{"intent_name":"n", "chain" : ` + chain + `, "request_id":"r"}` + "\n",
		`{"request_id":"r","intent_name":"n","chain":` + chain + `}`,
	} {
		var req authorizeRequest
		if e := unmarshalStrict([]byte(body), &req); e != nil {
			t.Fatalf("%s: %v", body, e)
		}
		if string(req.Chain) != chain || req.IntentName != "n" || req.RequestID != "r" {
			t.Fatalf("%s: chain %q, intent %q, request_id %q", body, req.Chain, req.IntentName, req.RequestID)
		}
	}
	// A nested "chain" key is not the envelope's.
	var req authorizeRequest
	if e := unmarshalStrict([]byte(`{"intent_params":{"chain":"x"}}`), &req); e != nil || req.Chain != nil {
		t.Fatalf("nested chain key: %v, chain %q", e, req.Chain)
	}
}

// TestDecodePooledReuse decodes bodies of different sizes through the
// pool: each decode sees only its own body.
func TestDecodePooledReuse(t *testing.T) {
	for i, body := range []string{
		`{"chain":{"a":"` + strings.Repeat("x", 5000) + `"},"intent_name":"long"}`,
		`{"chain":{"b":1},"intent_name":"short"}`,
		`{"intent_name":"none"}`,
	} {
		r := httptest.NewRequest("POST", "/v1/authorize", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req authorizeRequest
		buf, e := decodePooled(httptest.NewRecorder(), r, 1<<20, &req)
		if e != nil {
			t.Fatalf("body %d: %v", i, e)
		}
		if !bytes.Contains([]byte(body), req.Chain) || (req.Chain == nil) != (i == 2) {
			t.Fatalf("body %d: chain %q", i, req.Chain)
		}
		putBody(buf)
	}
	// Content types: the fast path and the parsed form.
	for ct, ok := range map[string]bool{"application/json": true, "application/json; charset=utf-8": true,
		"Application/JSON": true, "application/jsonx": false, "text/json": false} {
		r := httptest.NewRequest("POST", "/v1/authorize", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", ct)
		var req authorizeRequest
		buf, e := decodePooled(httptest.NewRecorder(), r, 1<<20, &req)
		putBody(buf)
		if (e == nil) != ok {
			t.Fatalf("Content-Type %q: %v", ct, e)
		}
	}
}

// scanJSONReference is scanJSON before its skip loops (byte by byte, a
// switch per byte): the differential tests check that the fast scanner
// finds the same spans and the same errors.
func scanJSONReference(b []byte) (sp jsonSpans, err error) {
	pendingChain := false
	type frame struct {
		obj     bool
		wantKey bool
		first   int // index of this object's first key in spans
		big     map[string]struct{}
	}
	var stackBuf [maxScanDepth]frame
	stack := stackBuf[:0]
	var spanBuf [64]string
	spans := spanBuf[:0]
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) >= maxScanDepth {
				return jsonSpans{}, fmt.Errorf("JSON nested deeper than %d", maxScanDepth)
			}
			if pendingChain && len(stack) == 1 && c == '{' {
				sp.chainStart = i
			}
			pendingChain = false
			stack = append(stack, frame{obj: c == '{', wantKey: c == '{', first: len(spans)})
		case '}', ']':
			if n := len(stack); n > 0 {
				spans = spans[:stack[n-1].first]
				stack = stack[:n-1]
				if n == 2 && sp.chainStart > 0 && sp.chainEnd == 0 {
					sp.chainEnd = i + 1
				}
				if n == 1 && sp.topEnd == 0 {
					sp.topEnd = i + 1
				}
			}
		case ',':
			pendingChain = false
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
		case '"':
			j := i + 1
			esc := false
			for ; j < len(b); j++ {
				if b[j] == '\\' {
					esc = true
					j++
					continue
				}
				if b[j] == '"' {
					break
				}
			}
			if j >= len(b) {
				return jsonSpans{}, nil // unterminated: encoding/json reports it
			}
			pendingChain = false
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				f := &stack[n-1]
				f.wantKey = false
				raw := b[i+1 : j]
				var key string
				if esc {
					var s string
					if json.Unmarshal(b[i:j+1], &s) != nil {
						return jsonSpans{}, nil // encoding/json reports it
					}
					key = s
				} else {
					key = unsafeString(raw)
				}
				dup := false
				if f.big != nil {
					_, dup = f.big[key]
					f.big[string([]byte(key))] = struct{}{}
				} else {
					for _, k := range spans[f.first:] {
						if k == key {
							dup = true
							break
						}
					}
					spans = append(spans, key)
					if len(spans)-f.first > linearKeyLimit {
						f.big = make(map[string]struct{}, 2*linearKeyLimit)
						for _, k := range spans[f.first:] {
							f.big[string([]byte(k))] = struct{}{}
						}
						spans = spans[:f.first]
					}
				}
				if dup {
					if len(key) > 64 {
						key = key[:64] + "…"
					}
					return jsonSpans{}, fmt.Errorf("duplicate key %q", key)
				}
				pendingChain = n == 1 && key == "chain"
			}
			i = j
		}
	}
	return sp, nil
}

func checkScanAgainstReference(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := scanJSON(b)
	want, werr := scanJSONReference(b)
	if got != want || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("scanJSON(%q):\n got %+v, %v\nwant %+v, %v", b, got, gerr, want, werr)
	}
}

func scanCorpus() [][]byte {
	chain := `{"version":1,"principal_pk":"ab\"cd","certs":[{"x":[1,2,{"y":"}]"}],"z":[[],{}]}],"k":"\\"}`
	out := [][]byte{
		[]byte(`{"chain":` + chain + `,"intent_name":"n","intent_params":{"a":"1","b":[1,2,3]},"request_id":"r"}`),
		[]byte(`{"a":1,"a":2}`), []byte(`{"a":{"b":1,"b":2}}`), []byte(`[{"a":1},{"a":1}]`),
		[]byte(`{"a\u0062":1,"ab":2}`), []byte(`{"chain":[1,2],"chain":{}}`), []byte(`{"x":"unterminated`),
		[]byte(strings.Repeat("[", 40) + strings.Repeat("]", 40)), []byte(`{"chain" : {"a":[1, 2 ,3]} , "b":"c"}`),
		[]byte(`{"k":"a\\","k2":"\\\\","k":1}`), []byte(`{}}`), []byte(`]]{`), []byte(``), []byte(`"str"`),
	}
	var many strings.Builder
	many.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&many, `"k%d":[%d,"v"],`, i, i)
	}
	many.WriteString(`"k7":0}`)
	return append(out, []byte(many.String()))
}

func TestScanJSONMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "{}[]\",:\\ a1"
	for _, base := range scanCorpus() {
		checkScanAgainstReference(t, base)
		for range 3000 {
			b := bytes.Clone(base)
			for range 1 + r.IntN(3) {
				c := alphabet[r.IntN(len(alphabet))]
				switch i := r.IntN(len(b) + 1); {
				case r.IntN(3) == 0 && i < len(b):
					b = append(b[:i], b[i+1:]...) // delete
				case r.IntN(2) == 0 && i < len(b):
					b[i] = c // replace
				default:
					b = append(b[:i], append([]byte{c}, b[i:]...)...) // insert
				}
			}
			checkScanAgainstReference(t, b)
		}
	}
}

func FuzzScanJSON(f *testing.F) {
	for _, b := range scanCorpus() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScanAgainstReference(t, b) })
}

// checkFastAgainstSlow decodes body with and without fastAuthorize and
// requires the same outcome. It reports whether the fast path accepted it.
func checkFastAgainstSlow(t *testing.T, body []byte) bool {
	t.Helper()
	var fastReq, slowReq authorizeRequest
	fe := unmarshalStrictFast(body, &fastReq, true)
	se := unmarshalStrictFast(body, &slowReq, false)
	if (fe == nil) != (se == nil) || (fe != nil && (fe.Msg != se.Msg || fe.Code != se.Code || fe.Status != se.Status)) {
		t.Fatalf("%q:\nfast error %v\nslow error %v", body, fe, se)
	}
	if !reflect.DeepEqual(fastReq, slowReq) {
		t.Fatalf("%q:\nfast %+v\nslow %+v", body, fastReq, slowReq)
	}
	sp, _ := scanJSON(body)
	var probe authorizeRequest
	end := len(body)
	if sp.topEnd > 0 {
		end = sp.topEnd
	}
	return fe == nil && sp.topEnd > 0 && fastAuthorize(body[:end], sp.chainStart, sp.chainEnd, &probe)
}

// fastMembers are member encodings, valid and not, for the bodies of the
// differential test.
var fastMembers = map[string][]string{
	"chain":           {`{"version":1,"certs":[{"a":[1,2,3]}]}`, `null`, `"abc"`, `[1]`, `{}`},
	"intent_name":     {`"trade.equity"`, `""`, `"tr\u0061de"`, `"a\nb"`, `null`, `1`, `"é🔐<&>"`},
	"intent_params":   {`{"symbol":"AAPL"}`, `{}`, `{"a":"1","b":"2"}`, `null`, `{"a":1}`, `{"a":"\\"}`, `[]`, `{"a":null}`},
	"executor_pk_hex": {`"` + strings.Repeat("ab", 32) + `"`, `""`, `null`, `true`},
	"request_id":      {`"req-1"`, `""`, `"x\ty"`, `null`, `0`},
	"return_token":    {`true`, `false`, `null`, `"true"`, `1`},
	"proof": {`{"audience":"gw","nonce_hex":"00ff","issued_at":1700000000,"signature_hex":"ab"}`, `{}`, `null`,
		`{"issued_at":0}`, `{"issued_at":01}`, `{"issued_at":-1}`, `{"issued_at":1e3}`, `{"issued_at":1.5}`,
		`{"issued_at":18446744073709551615}`, `{"issued_at":18446744073709551616}`, `{"issued_at":"1"}`,
		`{"audience":"gw","extra":1}`, `{"Audience":"gw"}`, `{"audience":null}`, `[]`},
	"merkle_proof": {`{"siblings":[]}`, `null`},
	"Intent_Name":  {`"x"`},
	"unknown":      {`{"a":[1,"]"]}`, `1`},
}

func TestFastAuthorizeMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	names := make([]string, 0, len(fastMembers))
	for k := range fastMembers {
		names = append(names, k)
	}
	slices.Sort(names)
	spaces := []string{"", " ", "\n\t", "\r\n "}
	sp := func() string { return spaces[r.IntN(len(spaces))] }
	accepted := 0
	for range 20000 {
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		var b strings.Builder
		b.WriteString(sp() + "{")
		n := 0
		for _, k := range names {
			if r.IntN(3) == 0 || (k != "chain" && k != "intent_name" && r.IntN(2) == 0) {
				continue
			}
			vals := fastMembers[k]
			v := vals[0]
			if r.IntN(3) == 0 {
				v = vals[r.IntN(len(vals))]
			}
			if n > 0 {
				b.WriteString(sp() + ",")
			}
			b.WriteString(sp() + `"` + k + `"` + sp() + ":" + sp() + v)
			n++
		}
		b.WriteString(sp() + "}" + sp())
		if checkFastAgainstSlow(t, []byte(b.String())) {
			accepted++
		}
	}
	t.Logf("fast path accepted %d of 20000 bodies", accepted)
	if accepted < 1000 {
		t.Fatalf("the fast path accepted only %d bodies: the comparison is vacuous", accepted)
	}
	// The usual request takes the fast path.
	body := `{"chain":{"v":1},"intent_name":"trade.equity","intent_params":{"symbol":"AAPL"},"executor_pk_hex":"ab",` +
		`"request_id":"r","proof":{"audience":"gw","nonce_hex":"00","issued_at":1700000000,"signature_hex":"cd"}}`
	if !checkFastAgainstSlow(t, []byte(body)) {
		t.Fatal("a plain authorize body did not take the fast path")
	}
}

func FuzzFastAuthorize(f *testing.F) {
	f.Add([]byte(`{"chain":{"v":1},"intent_name":"n","intent_params":{"a":"b"},"proof":{"issued_at":12}}`))
	f.Add([]byte(`{"intent_name":"n","return_token":true} `))
	f.Add([]byte(`{"proof":{"issued_at":01}}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkFastAgainstSlow(t, b) })
}

func TestHexString(t *testing.T) {
	for n := range 70 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		if got, want := hexString(b), hex.EncodeToString(b); got != want {
			t.Fatalf("%d bytes: %q, want %q", n, got, want)
		}
	}
}
