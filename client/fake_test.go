package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
)

// fakeGateway implements the gateway's wire shapes on top of the real
// verifier and the memory store, so proofs, revocations and replays are
// checked for real.
type fakeGateway struct {
	*httptest.Server
	token      string
	macKey     [32]byte
	receiptKey ed25519.PrivateKey // signs receipts, published as receipt_signing_pk_hex
	roots      *a1.RootSet
	mu         sync.Mutex // guards id and v (rename)
	id         string
	v          *a1.Verifier
	st         *memory.Store
	lastAuthz  http.Header
	signed     atomic.Int64 // requests carrying a proof or a signed revocation
}

// rename gives the gateway a new id, as a restart with ephemeral keys or a
// key rotation does: proofs must name the new one.
func (g *fakeGateway) rename(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.id, g.v = id, a1.NewVerifier(g.roots, a1.WithAudience(id))
}

func (g *fakeGateway) current() (string, *a1.Verifier) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.id, g.v
}

const fakeAdminToken = "s3cret-admin-token"

func newFakeGateway(trusted ...a1.PublicKey) *fakeGateway {
	g := &fakeGateway{token: fakeAdminToken, roots: a1.NewRootSet(trusted...)}
	g.macKey[0] = 7
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 9
	g.receiptKey = ed25519.NewKeyFromSeed(seed)
	g.rename("gw-test-1")
	g.st = memory.New(memory.Options{SweepInterval: -1})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/a1-configuration", func(w http.ResponseWriter, r *http.Request) {
		id, _ := g.current()
		writeJSON(w, 200, map[string]any{"gateway_id": id, "gateway_signing_pk_hex": "00", "a1_version": "2.8.0",
			"receipt_signing_pk_hex": hex.EncodeToString(g.receiptKey.Public().(ed25519.PublicKey)), "receipt_signature": "a1-go::receipt::v1",
			"supported_algorithms": []string{"Ed25519"}, "nonce_mode": "terminal", "drift_secs": 15})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "ok", "version": "2.8.0", "storage_backend": "memory", "storage": "ok"})
	})
	mux.HandleFunc("POST /v1/authorize", g.authorize)
	mux.HandleFunc("POST /v1/authorize/batch", g.batch)
	mux.HandleFunc("POST /v1/cert/revoke", g.revoke)
	mux.HandleFunc("GET /v1/cert/{fp}", func(w http.ResponseWriter, r *http.Request) {
		fp, ok := hex32(r.PathValue("fp"))
		if !ok {
			writeErr(w, 400, "MALFORMED_REQUEST", "bad fingerprint", nil)
			return
		}
		_, revoked, _ := g.st.RevocationStatus(r.Context(), "", fp)
		writeJSON(w, 200, map[string]any{"fingerprint": r.PathValue("fp"), "revoked": revoked})
	})
	mux.HandleFunc("POST /v1/token/verify", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Token *a1.VerifiedToken `json:"token"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Token == nil {
			writeErr(w, 400, "MALFORMED_REQUEST", "bad token", nil)
			return
		}
		if err := body.Token.Verify(g.macKey); err != nil {
			writeErr(w, 401, a1.ErrorCode(err), err.Error(), nil)
			return
		}
		rc := body.Token.Receipt
		writeJSON(w, 200, map[string]any{"valid": true, "chain_depth": rc.ChainDepth,
			"chain_fingerprint": hex.EncodeToString(rc.ChainFingerprint[:]), "verified_at_unix": rc.VerifiedAtUnix,
			"intent_hash_hex": rc.Intent.Hex(), "namespace": rc.Namespace})
	})
	mux.HandleFunc("GET /v1/roots", g.admin(func(w http.ResponseWriter, r *http.Request) {
		var out []map[string]string
		for k := range g.roots.Keys() {
			out = append(out, map[string]string{"public_key_hex": k.Hex(), "source": "registered"})
		}
		writeJSON(w, 200, map[string]any{"roots": out})
	}))
	mux.HandleFunc("DELETE /v1/roots/{pk}", g.admin(func(w http.ResponseWriter, r *http.Request) {
		pk, err := a1.ParsePublicKeyHex(r.PathValue("pk"))
		if err != nil {
			writeErr(w, 400, "MALFORMED_REQUEST", "bad key", nil)
			return
		}
		// Every root of the fake comes from its configuration.
		writeJSON(w, 200, map[string]any{"public_key_hex": pk.Hex(), "removed": false, "still_trusted": g.roots.Trusted(pk)})
	}))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) })
	mux.HandleFunc("GET /v1/rate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		writeErr(w, 429, "RATE_LIMITED", "rate limit exceeded", nil)
	})
	g.Server = httptest.NewServer(mux)
	return g
}

func (g *fakeGateway) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.lastAuthz = r.Header.Clone()
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+g.token)) != 1 {
			writeErr(w, 401, "UNAUTHORIZED", "invalid or missing admin token", nil)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string, err error) {
	body := map[string]any{"error": msg, "error_code": code}
	if err != nil {
		if hop, ok := a1.HopOf(err); ok {
			body["hop"] = hop
		}
		body["hint"] = a1.Hint(err)
	}
	writeJSON(w, status, body)
}

func hex32(s string) ([32]byte, bool) {
	var out [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return out, false
	}
	copy(out[:], b)
	return out, true
}

type authzBody struct {
	Chain         *a1.SignedChain   `json:"chain"`
	IntentName    string            `json:"intent_name"`
	IntentParams  map[string]string `json:"intent_params"`
	ExecutorPKHex string            `json:"executor_pk_hex"`
	ReturnToken   bool              `json:"return_token"`
	Proof         *a1.PoPJSON       `json:"proof"`
}

// check authorizes one intent; popIntent, when set, is what the proof binds
// instead (a batch's a1.BatchIntentHash).
func (g *fakeGateway) check(ctx context.Context, sc *a1.SignedChain, exec string, name string, params map[string]string, pj *a1.PoPJSON, popIntent a1.IntentHash) (*a1.Result, error) {
	if pj != nil {
		g.signed.Add(1)
	}
	pk, err := a1.ParsePublicKeyHex(exec)
	if err != nil {
		return nil, err
	}
	h, err := a1.HashIntent(name, params)
	if err != nil {
		return nil, err
	}
	req := &a1.Request{Chain: sc, Executor: pk, Intent: h, Action: name, PoPIntent: popIntent}
	if pj != nil {
		if req.PoP, err = pj.Parse(); err != nil {
			return nil, err
		}
	}
	_, v := g.current()
	return v.Authorize(ctx, req, "", g.st)
}

func (g *fakeGateway) authorize(w http.ResponseWriter, r *http.Request) {
	var b authzBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Chain == nil {
		writeErr(w, 400, "MALFORMED_REQUEST", "bad request", nil)
		return
	}
	res, err := g.check(r.Context(), b.Chain, b.ExecutorPKHex, b.IntentName, b.IntentParams, b.Proof, a1.IntentHash{})
	if err != nil {
		writeErr(w, a1.HTTPStatus(err), a1.ErrorCode(err), err.Error(), err)
		return
	}
	out := map[string]any{"authorized": true, "chain_depth": res.Depth,
		"chain_fingerprint": hex.EncodeToString(res.ChainFingerprint[:]), "verified_at_unix": res.Receipt.VerifiedAtUnix,
		"error_code": nil, "receipt": map[string]any{"chain_depth": res.Depth, "fingerprint_hex": hex.EncodeToString(res.ChainFingerprint[:]),
			"verified_at_unix": res.Receipt.VerifiedAtUnix, "passport_namespace": res.PassportNamespace, "capability_mask_hex": res.Mask.Hex()},
		"intent_hash_hex": res.Receipt.Intent.Hex(), "receipt_signature_hex": g.signReceipt(&res.Receipt)}
	if b.ReturnToken {
		out["token"] = a1.NewVerifiedToken(res.Receipt, g.macKey)
	}
	writeJSON(w, 200, out)
}

func (g *fakeGateway) batch(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Chain         *a1.SignedChain `json:"chain"`
		ExecutorPKHex string          `json:"executor_pk_hex"`
		Intents       []struct {
			Name   string            `json:"name"`
			Params map[string]string `json:"params"`
		} `json:"intents"`
		Proof       *a1.PoPJSON `json:"proof"`
		ReturnToken bool        `json:"return_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Chain == nil || len(b.Intents) == 0 {
		writeErr(w, 400, "MALFORMED_REQUEST", "bad request", nil)
		return
	}
	// The proof signs every intent; the first is authorized with it, the
	// others are checked offline. As on the gateway, a failing first intent
	// fails the whole request.
	hashes := make([]a1.IntentHash, len(b.Intents))
	for i, in := range b.Intents {
		hashes[i], _ = a1.HashIntent(in.Name, in.Params)
	}
	var results []map[string]any
	n := 0
	var at uint64 // the first verification's time, as on the gateway
	for i, in := range b.Intents {
		var err error
		var res *a1.Result
		if i == 0 {
			if res, err = g.check(r.Context(), b.Chain, b.ExecutorPKHex, in.Name, in.Params, b.Proof, a1.BatchIntentHash(hashes)); err != nil {
				writeErr(w, a1.HTTPStatus(err), a1.ErrorCode(err), err.Error(), err)
				return
			}
			at = res.Receipt.VerifiedAtUnix
		} else {
			pk, _ := a1.ParsePublicKeyHex(b.ExecutorPKHex)
			h, _ := a1.HashIntent(in.Name, in.Params)
			_, v := g.current()
			res, err = v.Verify(&a1.Request{Chain: b.Chain, Executor: pk, Intent: h, Action: in.Name})
		}
		item := map[string]any{"intent_name": in.Name, "authorized": err == nil}
		if err != nil {
			item["error"], item["error_code"] = err.Error(), a1.ErrorCode(err)
		} else {
			n++
			rc := res.Receipt
			rc.VerifiedAtUnix = at
			item["chain_fingerprint"] = hex.EncodeToString(rc.ChainFingerprint[:])
			item["intent_hash_hex"] = rc.Intent.Hex()
			item["verified_at_unix"] = rc.VerifiedAtUnix
			item["receipt_signature_hex"] = g.signReceipt(&rc)
			if b.ReturnToken {
				item["token"] = a1.NewVerifiedToken(rc, g.macKey)
			}
		}
		results = append(results, item)
	}
	writeJSON(w, 200, map[string]any{"all_authorized": n == len(b.Intents), "authorized_count": n, "total_count": len(b.Intents), "results": results})
}

// signReceipt is the gateway's receipt_signature_hex (docs/spec.md §3).
func (g *fakeGateway) signReceipt(rc *a1.Receipt) string {
	sig, err := a1.SignReceipt(g.receiptKey, rc)
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(sig)
}

func (g *fakeGateway) revoke(w http.ResponseWriter, r *http.Request) {
	var b struct {
		FingerprintHex string          `json:"fingerprint_hex"`
		Reason         string          `json:"reason"`
		Chain          *a1.SignedChain `json:"chain"`
		Index          int             `json:"index"`
		IssuedAt       uint64          `json:"issued_at"`
		RevokerPKHex   string          `json:"revoker_pk_hex"`
		SignatureHex   string          `json:"signature_hex"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		writeErr(w, 400, "MALFORMED_REQUEST", "bad request", nil)
		return
	}
	var fp [32]byte
	if r.Header.Get("Authorization") != "" {
		g.admin(func(http.ResponseWriter, *http.Request) {})(w, r)
		if r.Header.Get("Authorization") != "Bearer "+g.token {
			return
		}
		var ok bool
		if fp, ok = hex32(b.FingerprintHex); !ok {
			writeErr(w, 400, "MALFORMED_REQUEST", "bad fingerprint", nil)
			return
		}
	} else {
		if b.Chain == nil {
			writeErr(w, 401, "UNAUTHORIZED", "revocation needs the admin token or a signature", nil)
			return
		}
		g.signed.Add(1)
		rev := &a1.SignedRevocation{Chain: b.Chain, Index: b.Index, Reason: b.Reason, IssuedAt: b.IssuedAt}
		pk, err := a1.ParsePublicKeyHex(b.RevokerPKHex)
		sig, err2 := hex.DecodeString(b.SignatureHex)
		if err != nil || err2 != nil || len(sig) != ed25519.SignatureSize {
			writeErr(w, 400, "MALFORMED_REQUEST", "bad revoker or signature", nil)
			return
		}
		rev.Revoker = pk
		copy(rev.Signature[:], sig)
		id, _ := g.current()
		fp, err = a1.VerifyRevocation(rev, g.roots, id, uint64(time.Now().Unix()))
		if err != nil {
			writeErr(w, a1.HTTPStatus(err), a1.ErrorCode(err), err.Error(), err)
			return
		}
	}
	n, _ := g.st.Revoke(r.Context(), "", []store.Revocation{{Fingerprint: fp, Reason: b.Reason, RevokedAt: time.Now()}})
	h := hex.EncodeToString(fp[:])
	writeJSON(w, 200, map[string]any{"revoked": h, "fingerprint_hex": h, "newly_revoked": n > 0})
}
