package gateway_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// tokenServer is an in-process gateway on the memory store whose MAC key
// ring is cur followed by prev (both hex, prev may be "").
func tokenServer(t *testing.T, cur, prev string, extra map[string]string) http.Handler {
	t.Helper()
	env := map[string]string{"A1_MAC_KEY_HEX": cur, "A1_MAC_KEYS_PREVIOUS_HEX": prev}
	for k, v := range extra {
		env[k] = v
	}
	return newInProcess(t, env).h
}

type tokenReply struct {
	status int
	body   map[string]any
	raw    string
}

func (r tokenReply) code() string { s, _ := r.body["error_code"].(string); return s }

func postToken(t *testing.T, h http.Handler, body string, hdr map[string]string) tokenReply {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/token/verify", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	r := tokenReply{status: w.Code, raw: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &r.body)
	return r
}

func key32(t *testing.T, h string) (k [32]byte) {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad key %q", h)
	}
	copy(k[:], b)
	return k
}

func tokenJSON(t *testing.T, tok a1.VerifiedToken) string {
	t.Helper()
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sampleReceipt is a receipt with every field set, a namespace included.
func sampleReceipt(intent string) a1.Receipt {
	h, _ := a1.HashIntent(intent, nil)
	r := a1.Receipt{ChainDepth: 2, Intent: h, VerifiedAtUnix: now(), Namespace: "acme"}
	for i := range r.VerifiedScopeRoot {
		r.VerifiedScopeRoot[i], r.ChainFingerprint[i] = byte(i), byte(0xff-i)
	}
	return r
}

// TestTokenVerifyBodyForms: the endpoint takes {"token": T} or the bare
// token T, never a body that is both. A bare token ignores unknown members
// (a1.VerifiedToken, as the reference), so a body {"receipt": R, "mac": M,
// "token": T2} is the token (R, M) to a decoder of the bare form, while
// the gateway used to verify T2: an attacker holding any valid token T2
// could get a forged receipt R confirmed "valid" to a service that relays
// the bytes it received and reads R itself.
func TestTokenVerifyBodyForms(t *testing.T) {
	cur := randHex(32)
	h := tokenServer(t, cur, "", nil)
	valid := tokenJSON(t, a1.NewVerifiedToken(sampleReceipt("files.read"), key32(t, cur)))
	forged := sampleReceipt("admin.delete")
	forgedJSON, _ := json.Marshal(forged)
	bareForged := `"receipt":` + string(forgedJSON) + `,"mac":"` + strings.Repeat("00", 32) + `"`
	// The differential: a reader of the bare form sees the forged receipt.
	var read a1.VerifiedToken
	if err := json.Unmarshal([]byte(`{`+bareForged+`,"token":`+valid+`}`), &read); err != nil || read.Receipt != forged {
		t.Fatalf("a bare-form reader: %+v, %v; want the forged receipt", read.Receipt, err)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"wrapped", `{"token":` + valid + `}`, 200, ""},
		{"bare", valid, 200, ""},
		{"wrapped with unknown members", `{"token":` + valid + `,"note":"x"}`, 200, ""},
		{"bare token carrying a token member", `{` + bareForged + `,"token":` + valid + `}`, 400, "MALFORMED_REQUEST"},
		{"token member carrying a bare receipt", `{"token":` + valid + `,"receipt":` + string(forgedJSON) + `}`, 400, "MALFORMED_REQUEST"},
		{"token member carrying a bare mac", `{"mac":"` + strings.Repeat("00", 32) + `","token":` + valid + `}`, 400, "MALFORMED_REQUEST"},
		// encoding/json matches members case-insensitively: a reader of
		// the wrapped form would take "Token", the gateway the bare (R, M).
		{"bare token carrying a Token member", `{` + bareForged + `,"Token":` + valid + `}`, 400, "MALFORMED_REQUEST"},
		{"token member carrying a RECEIPT", `{"token":` + valid + `,"RECEIPT":` + string(forgedJSON) + `}`, 400, "MALFORMED_REQUEST"},
		{"Token alone", `{"Token":` + valid + `}`, 400, "MALFORMED_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postToken(t, h, tc.body, nil)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s, want %d %q", r.status, r.raw, tc.status, tc.code)
			}
			if tc.status == 200 && (r.body["valid"] != true || r.body["intent_hash_hex"] != sampleReceipt("files.read").Intent.Hex()) {
				t.Fatalf("answer %s", r.raw)
			}
		})
	}
}

// TestTokenVerifyMalformed: every malformed token or body is a 4xx with an
// error_code, never a 5xx nor a 200; a well-formed token whose MAC does
// not verify is 401 MAC_VERIFICATION_FAILED with "valid": false.
func TestTokenVerifyMalformed(t *testing.T) {
	cur := randHex(32)
	h := tokenServer(t, cur, "", nil)
	rc := sampleReceipt("files.read")
	tok := a1.NewVerifiedToken(rc, key32(t, cur))
	valid := tokenJSON(t, tok)
	rcJSON, _ := json.Marshal(rc)
	macHex := hex.EncodeToString(tok.MAC[:])
	withMAC := func(mac string) string { return `{"token":{"receipt":` + string(rcJSON) + `,"mac":` + mac + `}}` }
	withReceipt := func(from, to string) string {
		s := strings.Replace(string(rcJSON), from, to, 1)
		if s == string(rcJSON) {
			t.Fatalf("receipt JSON has no %q", from)
		}
		return `{"token":{"receipt":` + s + `,"mac":"` + macHex + `"}}`
	}
	depth := `"chain_depth":2`
	root := `"verified_scope_root":[0,`

	for _, tc := range []struct {
		name, body string
		hdr        map[string]string
		status     int
		code       string
	}{
		{name: "mac upper case", body: withMAC(`"` + strings.ToUpper(macHex) + `"`), status: 200},
		{name: "mac not hex", body: withMAC(`"` + strings.Repeat("zz", 32) + `"`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac odd length", body: withMAC(`"` + macHex[1:] + `"`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac 31 bytes", body: withMAC(`"` + macHex[2:] + `"`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac 33 bytes", body: withMAC(`"` + macHex + `00"`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac 0x prefix", body: withMAC(`"0x` + macHex[2:] + `"`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac base64", body: withMAC(`"` + strings.Repeat("QUFB", 11) + `"`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac number", body: withMAC(`12`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac byte array", body: withMAC(`[` + strings.TrimSuffix(strings.Repeat("0,", 32), ",") + `]`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac null", body: withMAC(`null`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "mac missing", body: `{"token":{"receipt":` + string(rcJSON) + `}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt missing", body: `{"token":{"mac":"` + macHex + `"}}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt field missing", body: withReceipt(depth+",", ""), status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt depth negative", body: withReceipt(depth, `"chain_depth":-2`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt depth fraction", body: withReceipt(depth, `"chain_depth":2.0`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt depth overflow", body: withReceipt(depth, `"chain_depth":18446744073709551616`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt root short", body: withReceipt(root, `"verified_scope_root":[`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt root byte out of range", body: withReceipt(root, `"verified_scope_root":[256,`), status: 400, code: "MALFORMED_REQUEST"},
		{name: "receipt duplicate field", body: withReceipt(depth, depth+","+depth), status: 400, code: "MALFORMED_REQUEST"},
		{name: "token null", body: `{"token":null}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "token string", body: `{"token":"` + macHex + `"}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "token array", body: `{"token":[]}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body empty object", body: `{}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body null", body: `null`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body array", body: `[` + valid + `]`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body empty", body: ``, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body trailing data", body: valid + `{}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body duplicate token", body: `{"token":` + valid + `,"token":` + valid + `}`, status: 400, code: "MALFORMED_REQUEST"},
		{name: "body not JSON content", body: valid, hdr: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "body over the limit", body: `{"token":` + valid + `,"pad":"` + strings.Repeat("x", gateway.DefaultMaxBodyBytes) + `"}`, status: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "mac zero", body: withMAC(`"` + strings.Repeat("00", 32) + `"`), status: 401, code: "MAC_VERIFICATION_FAILED"},
		{name: "receipt changed", body: withReceipt(depth, `"chain_depth":3`), status: 401, code: "MAC_VERIFICATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postToken(t, h, tc.body, tc.hdr)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %.300s, want %d %q", r.status, r.raw, tc.status, tc.code)
			}
			if tc.status == 401 && r.body["valid"] != false {
				t.Fatalf("401 without \"valid\": false: %s", r.raw)
			}
		})
	}

	// A token larger than a1.MaxChainJSONBytes under a body limit that
	// lets it through is refused by the token decoder, not verified.
	big := tokenServer(t, cur, "", map[string]string{"A1_MAX_BODY_BYTES": "4194304"})
	huge := rc
	huge.Namespace = strings.Repeat("n", a1.MaxChainJSONBytes)
	if r := postToken(t, big, `{"token":`+tokenJSON(t, a1.NewVerifiedToken(huge, key32(t, cur)))+`}`, nil); r.status != 400 || r.code() != "MALFORMED_REQUEST" {
		t.Fatalf("huge token: %d %.300s", r.status, r.raw)
	}
}

// TestTokenVerifyKeyRing: a token verifies under the current key and under
// a previous key while it is in the ring, and stops verifying once that
// key is removed; the answer reports the verified receipt's own fields.
func TestTokenVerifyKeyRing(t *testing.T) {
	cur, prev, older := randHex(32), randHex(32), randHex(32)
	during := tokenServer(t, cur, prev+","+older, nil) // the rotation
	after := tokenServer(t, cur, "", nil)              // previous keys removed
	rc := sampleReceipt("files.read")
	for _, tc := range []struct {
		name          string
		key           string
		during, after int
	}{
		{"current", cur, 200, 200},
		{"previous", prev, 200, 401},
		{"older previous", older, 200, 401},
		{"unknown", randHex(32), 401, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"token":` + tokenJSON(t, a1.NewVerifiedToken(rc, key32(t, tc.key))) + `}`
			for _, g := range []struct {
				name string
				h    http.Handler
				want int
			}{{"during", during, tc.during}, {"after", after, tc.after}} {
				r := postToken(t, g.h, body, nil)
				if r.status != g.want {
					t.Fatalf("%s the rotation: %d %s, want %d", g.name, r.status, r.raw, g.want)
				}
				if r.status == 401 {
					if r.code() != "MAC_VERIFICATION_FAILED" || r.body["valid"] != false {
						t.Fatalf("%s the rotation: %s", g.name, r.raw)
					}
					continue
				}
				want := map[string]any{"valid": true, "chain_depth": float64(rc.ChainDepth),
					"chain_fingerprint": hex.EncodeToString(rc.ChainFingerprint[:]), "verified_at_unix": float64(rc.VerifiedAtUnix),
					"intent_hash_hex": rc.Intent.Hex(), "namespace": rc.Namespace}
				for k, v := range want {
					if r.body[k] != v {
						t.Errorf("%s the rotation: %s = %v, want %v", g.name, k, r.body[k], v)
					}
				}
			}
		})
	}
}
