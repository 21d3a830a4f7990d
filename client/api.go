package client

import (
	"context"
	"crypto"
	"encoding/hex"

	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
)

// The response types are the gateway's own wire types (package api),
// re-exported here so that SDK users need one import.
type (
	// Configuration is the discovery document (GET /.well-known/a1-configuration).
	Configuration = api.Configuration
	// Health is GET /healthz.
	Health = api.Health
	// Root is a trusted principal key of the gateway.
	Root = api.Root
	// RevokeResponse is the answer to a revocation.
	RevokeResponse = api.RevokeResponse
	// RevokeBatchResponse is the answer to a batch revocation.
	RevokeBatchResponse = api.RevokeBatchResponse
	// CertStatus is GET /v1/cert/{fingerprint}.
	CertStatus = api.CertStatus
	// TokenStatus is the answer of POST /v1/token/verify for a valid token.
	TokenStatus = api.TokenStatus
	// Intent is an intent name with parameters, as issuance takes it.
	Intent = api.Intent
	// IssueCertResponse is the issued cert and its one-cert chain.
	IssueCertResponse = api.IssueCertResponse
	// Receipt is the authorize response's receipt summary.
	Receipt = api.Receipt
	// AuthorizeResponse is a successful authorization. A denial is an *Error.
	AuthorizeResponse = api.AuthorizeResponse
	// BatchResult is one intent's outcome.
	BatchResult = api.BatchResult
	// BatchResponse is the batch answer: per-intent results.
	BatchResponse = api.BatchResponse
)

// Configuration fetches the discovery document and caches it; later calls
// return the cached copy. Use Refresh to fetch it again. A call whose proof
// or signed revocation the gateway rejects because its id changed refreshes
// the copy itself and is sent once more.
func (c *Client) Configuration(ctx context.Context) (*Configuration, error) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg != nil {
		return cfg, nil
	}
	return c.Refresh(ctx)
}

// Refresh fetches the discovery document again.
func (c *Client) Refresh(ctx context.Context) (*Configuration, error) {
	var cfg Configuration
	if err := c.do(ctx, "GET", "/.well-known/a1-configuration", false, nil, &cfg); err != nil {
		return nil, err
	}
	if cfg.GatewayID == "" {
		cfg.GatewayID = cfg.GatewaySigningPKHex
	}
	c.mu.Lock()
	c.cfg = &cfg
	c.mu.Unlock()
	return &cfg, nil
}

// audience is the gateway id proofs and signed revocations must name.
func (c *Client) audience(ctx context.Context, override string) (string, error) {
	if override != "" {
		return override, nil
	}
	cfg, err := c.Configuration(ctx)
	if err != nil {
		return "", fmt.Errorf("client: discovering the gateway id: %w", err)
	}
	if cfg.GatewayID == "" {
		return "", errors.New("client: the gateway's configuration names no gateway_id")
	}
	return cfg.GatewayID, nil
}

// Health asks GET /healthz, which pings the gateway's storage; an unhealthy
// gateway answers 503 (an *Error).
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, "GET", "/healthz", false, nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// AuthorizeRequest asks to execute one intent under a chain.
type AuthorizeRequest struct {
	Chain  *a1.SignedChain
	Intent string
	Params map[string]string
	// Agent is the executor's key. When set, the executor is its public key
	// and the request carries a proof of possession signed with it.
	Agent crypto.Signer
	// Executor is the executor's public key when Agent is nil (no proof).
	Executor a1.PublicKey
	// MerkleProof is the intent's inclusion proof in the terminal scope;
	// usually unnecessary (the gateway derives it when the cert lists its
	// intents).
	MerkleProof *a1.MerkleProof
	ReturnToken bool
	// TokenAudience, with ReturnToken, asks for a token bound to this
	// audience (the service meant to accept it) and to the executor
	// (docs/spec.md §3.3); the answer's token must be bound to both.
	TokenAudience string
	RequestID     string
	// Audience overrides the proof's audience (default: the gateway id from
	// the discovery document).
	Audience string
}

type authorizeBody struct {
	Chain         *a1.SignedChain   `json:"chain"`
	IntentName    string            `json:"intent_name"`
	IntentParams  map[string]string `json:"intent_params,omitempty"`
	ExecutorPKHex string            `json:"executor_pk_hex"`
	MerkleProof   *a1.MerkleProof   `json:"merkle_proof,omitempty"`
	ReturnToken   bool              `json:"return_token,omitempty"`
	TokenAudience string            `json:"token_audience,omitempty"`
	RequestID     string            `json:"request_id,omitempty"`
	Proof         *a1.PoPJSON       `json:"proof,omitempty"`
}

// withAudience calls send with the gateway id a signed envelope must name
// (override, or the discovered one). A gateway's id can change under a
// long-lived client (a restart with ephemeral keys, a key rotation without
// A1_GATEWAY_ID): when the gateway rejects the envelope with INVALID_PROOF
// and discovery now names another id, send runs once more with it. The
// rejected request consumed nothing, and the second carries a fresh
// envelope, so the retry cannot authorize anything twice.
func (c *Client) withAudience(ctx context.Context, override string, send func(aud string) error) error {
	aud, err := c.audience(ctx, override)
	if err != nil {
		return err
	}
	err = send(aud)
	var ge *Error
	if override != "" || !errors.As(err, &ge) || ge.Code != a1.ErrInvalidProof.Code() {
		return err
	}
	cfg, rerr := c.Refresh(ctx)
	if rerr != nil || cfg.GatewayID == "" || cfg.GatewayID == aud {
		return err
	}
	return send(cfg.GatewayID)
}

// proof signs a proof of possession over the chain and intent hash for the
// gateway id aud.
func (c *Client) proof(agent crypto.Signer, aud string, chain *a1.SignedChain, intent a1.IntentHash) (*a1.PoPJSON, error) {
	p, err := a1.SignPoP(agent, aud, chain.Fingerprint(), intent, c.unixNow())
	if err != nil {
		return nil, fmt.Errorf("client: signing the proof of possession: %w", err)
	}
	j := p.JSON()
	return &j, nil
}

func executor(agent crypto.Signer, pk a1.PublicKey) (a1.PublicKey, error) {
	if agent == nil {
		if pk == (a1.PublicKey{}) {
			return pk, errors.New("client: no executor: set Agent (with proof of possession) or Executor")
		}
		return pk, nil
	}
	apk, err := a1.PublicKeyOf(agent)
	if err != nil {
		return apk, fmt.Errorf("client: agent key: %w", err)
	}
	if pk != (a1.PublicKey{}) && pk != apk {
		return apk, errors.New("client: Executor is not the Agent key's public key")
	}
	return apk, nil
}

// Authorize asks the gateway to authorize req (POST /v1/authorize). A
// denial is returned as an *Error with the error_code and hop.
func (c *Client) Authorize(ctx context.Context, req *AuthorizeRequest) (*AuthorizeResponse, error) {
	if req.Chain == nil {
		return nil, errors.New("client: no chain")
	}
	exec, err := executor(req.Agent, req.Executor)
	if err != nil {
		return nil, err
	}
	// An intent the gateway could not hash either is refused here, before
	// a request is sent.
	h, err := a1.HashIntent(req.Intent, req.Params)
	if err != nil {
		return nil, fmt.Errorf("client: intent: %w", err)
	}
	if err := checkTokenAudience(req.ReturnToken, req.TokenAudience); err != nil {
		return nil, err
	}
	body := authorizeBody{Chain: req.Chain, IntentName: req.Intent, IntentParams: req.Params, ExecutorPKHex: exec.Hex(),
		MerkleProof: req.MerkleProof, ReturnToken: req.ReturnToken, TokenAudience: req.TokenAudience, RequestID: req.RequestID}
	var out AuthorizeResponse
	if req.Agent == nil {
		err = c.do(ctx, "POST", "/v1/authorize", false, body, &out)
	} else {
		err = c.withAudience(ctx, req.Audience, func(aud string) error {
			var perr error
			if body.Proof, perr = c.proof(req.Agent, aud, req.Chain, h); perr != nil {
				return perr
			}
			return c.do(ctx, "POST", "/v1/authorize", false, body, &out)
		})
	}
	if err != nil {
		return nil, err
	}
	if !out.Authorized {
		return nil, unexpected("POST", "/v1/authorize", `a success without "authorized": true`)
	}
	if err := sameFingerprint("POST", "/v1/authorize", out.ChainFingerprint, req.Chain.Fingerprint()); err != nil {
		return nil, err
	}
	if out.IntentHashHex != "" { // a reference gateway does not send it
		if !strings.EqualFold(out.IntentHashHex, h.Hex()) {
			return nil, unexpected("POST", "/v1/authorize", fmt.Sprintf("the answer names intent hash %q, not the intent asked", out.IntentHashHex))
		}
	}
	if err := checkTokenBinding("POST", "/v1/authorize", "the answer's token", out.Token, req.ReturnToken, req.TokenAudience, exec); err != nil {
		return nil, err
	}
	if err := checkTokenReceipt("POST", "/v1/authorize", "the answer's token", out.Token, req.Chain, h, out.VerifiedAtUnix); err != nil {
		return nil, err
	}
	if c.receiptKey != nil {
		if _, err := VerifyReceipt(*c.receiptKey, req, &out); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// checkTokenAudience refuses, before anything is sent, a TokenAudience the
// gateway would refuse (400, nothing consumed) or, worse, accept as
// another audience: encoding/json sends invalid UTF-8 as U+FFFD, so the
// gateway would bind the token (and consume the authorization) to an
// audience other than the one asked for, and checkTokenBinding would then
// refuse the answer.
func checkTokenAudience(returnToken bool, audience string) error {
	if audience == "" {
		return nil
	}
	if !returnToken {
		return errors.New("client: TokenAudience without ReturnToken")
	}
	if err := a1.ValidateAudience(audience); err != nil {
		return fmt.Errorf("client: TokenAudience: %w", err)
	}
	return nil
}

// checkTokenReceipt checks that a returned token's receipt is this
// authorization's: the chain sent (fingerprint and depth), the intent
// asked and the answer's time (when the answer gives one). A token for
// another authorization, bound as asked or not, would otherwise pass for
// this one's.
func checkTokenReceipt(method, path, what string, tok *a1.VerifiedToken, chain *a1.SignedChain, intent a1.IntentHash, at uint64) error {
	if tok == nil {
		return nil
	}
	rc := &tok.Receipt
	switch {
	case rc.ChainFingerprint != chain.Fingerprint() || rc.ChainDepth != uint64(len(chain.Certs)):
		return unexpected(method, path, what+"'s receipt names another chain than the one sent")
	case rc.Intent != intent:
		return unexpected(method, path, what+"'s receipt names another intent than the one asked")
	case at != 0 && rc.VerifiedAtUnix != at:
		return unexpected(method, path, fmt.Sprintf("%s's receipt was verified at %d, the answer at %d", what, rc.VerifiedAtUnix, at))
	}
	return nil
}

// checkTokenBinding checks that a token asked for with an audience is
// bound to it and to the executor: a gateway that ignored token_audience
// (one older than the field) returns an unbound token that any service
// would accept.
func checkTokenBinding(method, path, what string, tok *a1.VerifiedToken, returnToken bool, audience string, exec a1.PublicKey) error {
	if !returnToken || audience == "" {
		return nil
	}
	switch {
	case tok == nil:
		return unexpected(method, path, what+" is missing")
	case tok.Binding == nil:
		return unexpected(method, path, what+" is not bound to the token_audience asked for")
	case tok.Binding.Audience != audience || tok.Binding.Executor != exec:
		return unexpected(method, path, fmt.Sprintf("%s is bound to audience %q and executor %s, not the ones asked for", what, tok.Binding.Audience, tok.Binding.Executor.Hex()))
	}
	return nil
}

// BatchIntent is one intent of a batch.
type BatchIntent struct {
	Name        string            `json:"name"`
	Params      map[string]string `json:"params,omitempty"`
	MerkleProof *a1.MerkleProof   `json:"merkle_proof,omitempty"`
}

// BatchRequest asks to execute several intents under one chain.
type BatchRequest struct {
	Chain       *a1.SignedChain
	Intents     []BatchIntent
	Agent       crypto.Signer
	Executor    a1.PublicKey
	ReturnToken bool
	// TokenAudience binds every authorized result's token, as
	// AuthorizeRequest.TokenAudience.
	TokenAudience string
	RequestID     string
	Audience      string
}

type batchBody struct {
	Chain         *a1.SignedChain `json:"chain"`
	ExecutorPKHex string          `json:"executor_pk_hex"`
	Intents       []BatchIntent   `json:"intents"`
	ReturnToken   bool            `json:"return_token,omitempty"`
	TokenAudience string          `json:"token_audience,omitempty"`
	RequestID     string          `json:"request_id,omitempty"`
	Proof         *a1.PoPJSON     `json:"proof,omitempty"`
}

// AuthorizeBatch asks POST /v1/authorize/batch. The proof of possession (with
// Agent) signs every intent of the batch, in order (a1.BatchIntentHash), as
// the gateway expects.
func (c *Client) AuthorizeBatch(ctx context.Context, req *BatchRequest) (*BatchResponse, error) {
	if req.Chain == nil {
		return nil, errors.New("client: no chain")
	}
	if len(req.Intents) == 0 {
		return nil, errors.New("client: empty batch")
	}
	exec, err := executor(req.Agent, req.Executor)
	if err != nil {
		return nil, err
	}
	if err := checkTokenAudience(req.ReturnToken, req.TokenAudience); err != nil {
		return nil, err
	}
	// Each intent is hashed once: for the proof, and to check the answer's
	// results (an intent the gateway could not hash either is refused
	// here, before a request is sent).
	hashes := make([]a1.IntentHash, len(req.Intents))
	for i, in := range req.Intents {
		if hashes[i], err = a1.HashIntent(in.Name, in.Params); err != nil {
			return nil, fmt.Errorf("client: intents[%d]: %w", i, err)
		}
	}
	body := batchBody{Chain: req.Chain, ExecutorPKHex: exec.Hex(), Intents: req.Intents,
		ReturnToken: req.ReturnToken, TokenAudience: req.TokenAudience, RequestID: req.RequestID}
	var out BatchResponse
	if req.Agent == nil {
		err = c.do(ctx, "POST", "/v1/authorize/batch", false, body, &out)
	} else {
		h := a1.BatchIntentHash(hashes)
		err = c.withAudience(ctx, req.Audience, func(aud string) error {
			var perr error
			if body.Proof, perr = c.proof(req.Agent, aud, req.Chain, h); perr != nil {
				return perr
			}
			return c.do(ctx, "POST", "/v1/authorize/batch", false, body, &out)
		})
	}
	if err != nil {
		return nil, err
	}
	if out.TotalCount != len(req.Intents) || len(out.Results) != len(req.Intents) {
		return nil, unexpected("POST", "/v1/authorize/batch", fmt.Sprintf("%d results for %d intents", len(out.Results), len(req.Intents)))
	}
	cfp := req.Chain.Fingerprint()
	fp := hex.EncodeToString(cfp[:])
	for i := range out.Results {
		r := &out.Results[i]
		// Results answer the intents in order: one naming another intent,
		// allowed or denied, would be read as the answer to intents[i].
		if r.IntentName != req.Intents[i].Name {
			return nil, unexpected("POST", "/v1/authorize/batch", fmt.Sprintf("result %d names intent %q, not intents[%d] %q", i, r.IntentName, i, req.Intents[i].Name))
		}
		if !r.Authorized {
			continue
		}
		if r.ChainFingerprint != "" && !strings.EqualFold(r.ChainFingerprint, fp) {
			return nil, unexpected("POST", "/v1/authorize/batch", fmt.Sprintf("result %d names chain fingerprint %q, not the chain sent", i, r.ChainFingerprint))
		}
		h := hashes[i]
		if r.IntentHashHex != "" && !strings.EqualFold(r.IntentHashHex, h.Hex()) {
			return nil, unexpected("POST", "/v1/authorize/batch", fmt.Sprintf("result %d names intent hash %q, not intents[%d]", i, r.IntentHashHex, i))
		}
		what := fmt.Sprintf("result %d's token", i)
		if err := checkTokenBinding("POST", "/v1/authorize/batch", what, r.Token, req.ReturnToken, req.TokenAudience, exec); err != nil {
			return nil, err
		}
		if err := checkTokenReceipt("POST", "/v1/authorize/batch", what, r.Token, req.Chain, h, r.VerifiedAtUnix); err != nil {
			return nil, err
		}
		if c.receiptKey != nil {
			if _, err := VerifyBatchReceipt(*c.receiptKey, req, &out, i); err != nil {
				return nil, err
			}
		}
	}
	return &out, nil
}

// Revoke revokes a cert fingerprint with the admin token (WithAdminToken).
func (c *Client) Revoke(ctx context.Context, fingerprint [32]byte, reason string) (*RevokeResponse, error) {
	body := map[string]string{"fingerprint_hex": hex.EncodeToString(fingerprint[:])}
	if reason != "" {
		body["reason"] = reason
	}
	var out RevokeResponse
	if err := c.do(ctx, "POST", "/v1/cert/revoke", true, body, &out); err != nil {
		return nil, err
	}
	if err := sameFingerprint("POST", "/v1/cert/revoke", out.FingerprintHex, fingerprint); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeSigned revokes chain.Certs[index] without the admin token: the
// request is signed by revoker, which must be the chain's principal or the
// delegator of one of certs 0..index (DESIGN.md §3a).
func (c *Client) RevokeSigned(ctx context.Context, chain *a1.SignedChain, index int, reason string, revoker crypto.Signer) (*RevokeResponse, error) {
	var out RevokeResponse
	err := c.withAudience(ctx, "", func(aud string) error {
		r := &a1.SignedRevocation{Chain: chain, Index: index, Reason: reason, IssuedAt: c.unixNow()}
		if err := r.Sign(revoker, aud); err != nil {
			return fmt.Errorf("client: signing the revocation: %w", err)
		}
		body := struct {
			Chain        *a1.SignedChain `json:"chain"`
			Index        int             `json:"index"`
			Reason       string          `json:"reason"`
			IssuedAt     uint64          `json:"issued_at"`
			RevokerPKHex string          `json:"revoker_pk_hex"`
			SignatureHex string          `json:"signature_hex"`
		}{chain, index, reason, r.IssuedAt, r.Revoker.Hex(), hex.EncodeToString(r.Signature[:])}
		return c.do(ctx, "POST", "/v1/cert/revoke", false, body, &out)
	})
	if err != nil {
		return nil, err
	}
	if err := sameFingerprint("POST", "/v1/cert/revoke", out.FingerprintHex, chain.Certs[index].Fingerprint()); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeBatch revokes several fingerprints with the admin token.
func (c *Client) RevokeBatch(ctx context.Context, fingerprints [][32]byte, reason string) (*RevokeBatchResponse, error) {
	fps := make([]string, len(fingerprints))
	for i := range fingerprints {
		fps[i] = hex.EncodeToString(fingerprints[i][:])
	}
	body := struct {
		Fingerprints []string `json:"fingerprints"`
		Reason       string   `json:"reason,omitempty"`
	}{fps, reason}
	var out RevokeBatchResponse
	if err := c.do(ctx, "POST", "/v1/cert/revoke-batch", true, body, &out); err != nil {
		return nil, err
	}
	if out.Total != len(fingerprints) {
		return nil, unexpected("POST", "/v1/cert/revoke-batch", fmt.Sprintf("a total of %d for %d fingerprints", out.Total, len(fingerprints)))
	}
	return &out, nil
}

// CertStatus reports whether a cert fingerprint is revoked. A gateway whose
// storage is down answers 503 (an *Error), never "not revoked".
func (c *Client) CertStatus(ctx context.Context, fingerprint [32]byte) (*CertStatus, error) {
	var out CertStatus
	if err := c.do(ctx, "GET", "/v1/cert/"+hex.EncodeToString(fingerprint[:]), false, nil, &out); err != nil {
		return nil, err
	}
	if err := sameFingerprint("GET", "/v1/cert/{fingerprint}", out.Fingerprint, fingerprint); err != nil {
		return nil, err
	}
	return &out, nil
}

// ErrTokenExpired matches (errors.Is) VerifyToken's *Error when the token's
// MAC is valid but the gateway refuses it as older than its maximum token
// age, A1_TOKEN_MAX_AGE (401 TOKEN_EXPIRED): authorize again for a fresh
// token. It is a1.ErrTokenExpired, which a1.VerifiedToken.CheckAge returns
// offline.
var ErrTokenExpired = a1.ErrTokenExpired

// ErrTokenNotYetValid matches (errors.Is) VerifyToken's *Error when the
// token's MAC is valid but its verified_at_unix is ahead of the gateway's
// clock by more than the drift tolerance, which a gateway with
// A1_TOKEN_MAX_AGE set refuses (401 TOKEN_NOT_YET_VALID): the clocks of
// the gateways sharing the MAC key disagree. It is a1.ErrTokenNotYetValid.
var ErrTokenNotYetValid = a1.ErrTokenNotYetValid

// ErrTokenAudience matches (errors.Is) VerifyToken's and VerifyTokenFor's
// *Error when the token's MAC is valid but its binding does not fit the
// audience named (401 TOKEN_AUDIENCE_MISMATCH): a bound token verified
// without its audience or for another, or an unbound token verified for an
// audience. It is a1.ErrTokenAudience, which a1.VerifiedToken.CheckAudience
// returns offline.
var ErrTokenAudience = a1.ErrTokenAudience

// VerifyToken asks the gateway to check a VerifiedToken's MAC. An invalid
// token is an *Error (401, MAC_VERIFICATION_FAILED, matching
// a1.ErrMACVerification); a MAC-valid token outside the gateway's maximum
// token age is an *Error matching ErrTokenExpired or ErrTokenNotYetValid
// (401, only from a gateway with A1_TOKEN_MAX_AGE set); an answer that
// describes another token than tok is an error wrapping ErrUnexpectedAnswer.
//
// A valid token proves only that a gateway holding one of the MAC keys
// authorized tok.Receipt.Intent under the chain tok.Receipt.ChainFingerprint
// at tok.Receipt.VerifiedAtUnix. It has no expiry of its own (a gateway
// bounds its age only when configured to; its discovery document then
// advertises limits["token_max_age_secs"]), audience or executor and can
// be presented any number of times: compare the intent and fingerprint
// with what you expect, bound its age, and remember the tokens you have
// accepted if one may be used only once (docs/spec.md §3.2). A bound token
// (docs/spec.md §3.3) is verified with VerifyTokenFor.
func (c *Client) VerifyToken(ctx context.Context, tok *a1.VerifiedToken) (*TokenStatus, error) {
	return c.VerifyTokenFor(ctx, tok, "")
}

// VerifyTokenFor is VerifyToken for a service named audience: a token
// bound to audience (docs/spec.md §3.3, AuthorizeRequest.TokenAudience) is
// valid, an unbound token or one bound to another audience is an *Error
// matching ErrTokenAudience (401 TOKEN_AUDIENCE_MISMATCH). The answer must
// name the audience and the token's executor (a gateway that ignored the
// audience answers neither: ErrUnexpectedAnswer). With audience "" it is
// VerifyToken, which accepts only unbound tokens.
func (c *Client) VerifyTokenFor(ctx context.Context, tok *a1.VerifiedToken, audience string) (*TokenStatus, error) {
	if tok == nil {
		return nil, errors.New("client: no token")
	}
	if audience != "" {
		// Invalid UTF-8 would be sent as U+FFFD: another audience.
		if err := a1.ValidateAudience(audience); err != nil {
			return nil, fmt.Errorf("client: audience: %w", err)
		}
	}
	var out TokenStatus
	body := struct {
		Token    *a1.VerifiedToken `json:"token"`
		Audience string            `json:"audience,omitempty"`
	}{tok, audience}
	if err := c.do(ctx, "POST", "/v1/token/verify", false, body, &out); err != nil {
		return nil, err
	}
	if !out.Valid {
		return nil, unexpected("POST", "/v1/token/verify", `a success without "valid": true`)
	}
	// The answer must describe the token sent, not another one.
	rc := &tok.Receipt
	switch {
	case !strings.EqualFold(out.ChainFingerprint, hex.EncodeToString(rc.ChainFingerprint[:])):
		return nil, unexpected("POST", "/v1/token/verify", fmt.Sprintf("the answer names chain fingerprint %q, not the token's", out.ChainFingerprint))
	case out.ChainDepth != rc.ChainDepth || out.VerifiedAtUnix != rc.VerifiedAtUnix:
		return nil, unexpected("POST", "/v1/token/verify", fmt.Sprintf("the answer names chain depth %d verified at %d, the token %d at %d",
			out.ChainDepth, out.VerifiedAtUnix, rc.ChainDepth, rc.VerifiedAtUnix))
	// A reference gateway sends neither of these.
	case out.IntentHashHex != "" && !strings.EqualFold(out.IntentHashHex, rc.Intent.Hex()),
		out.Namespace != "" && out.Namespace != rc.Namespace:
		return nil, unexpected("POST", "/v1/token/verify", "the answer names another intent or namespace than the token's")
	case out.Audience != audience || !strings.EqualFold(out.ExecutorPKHex, tok.Binding.ExecutorHex()):
		return nil, unexpected("POST", "/v1/token/verify", fmt.Sprintf("the answer names audience %q and executor %q, not the audience asked for and the token's executor", out.Audience, out.ExecutorPKHex))
	}
	return &out, nil
}

// IssueCertRequest asks the gateway to issue a cert signed by its own key.
type IssueCertRequest struct {
	Delegate a1.PublicKey
	Intents  []Intent
	// TTL is the lifetime (0: the gateway's default, one hour). It is sent
	// in whole seconds.
	TTL time.Duration
	// MaxDepth is the cert's max_depth (nil: the gateway's default, 16).
	MaxDepth *int
	// Extensions are extra cert extensions (strings, unsigned integers or
	// string lists).
	Extensions map[string]any
}

// IssueCert asks POST /v1/cert/issue (admin token).
func (c *Client) IssueCert(ctx context.Context, req *IssueCertRequest) (*IssueCertResponse, error) {
	body := struct {
		DelegatePKHex string         `json:"delegate_pk_hex"`
		Intents       []Intent       `json:"intents"`
		TTLSeconds    *uint64        `json:"ttl_seconds,omitempty"`
		MaxDepth      *int           `json:"max_depth,omitempty"`
		Extensions    map[string]any `json:"extensions,omitempty"`
	}{DelegatePKHex: req.Delegate.Hex(), Intents: req.Intents, MaxDepth: req.MaxDepth, Extensions: req.Extensions}
	if req.TTL < 0 || (req.TTL > 0 && req.TTL < time.Second) {
		return nil, errors.New("client: TTL must be at least one second")
	}
	if req.TTL > 0 {
		s := uint64(req.TTL / time.Second)
		body.TTLSeconds = &s
	}
	var out IssueCertResponse
	if err := c.do(ctx, "POST", "/v1/cert/issue", true, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// sameFingerprint checks that an answer names the fingerprint asked about.
func sameFingerprint(method, path, got string, want [32]byte) error {
	if !strings.EqualFold(got, hex.EncodeToString(want[:])) {
		return unexpected(method, path, fmt.Sprintf("the answer names fingerprint %q, not the one asked about", got))
	}
	return nil
}

// Roots lists the gateway's trust anchors (admin token).
func (c *Client) Roots(ctx context.Context) ([]Root, error) {
	var out struct {
		Roots []Root `json:"roots"`
	}
	if err := c.do(ctx, "GET", "/v1/roots", true, nil, &out); err != nil {
		return nil, err
	}
	return out.Roots, nil
}

// AddRoot registers a trusted principal key (admin token).
func (c *Client) AddRoot(ctx context.Context, pk a1.PublicKey, label string) (*Root, error) {
	var out Root
	body := map[string]string{"public_key_hex": pk.Hex(), "label": label}
	if err := c.do(ctx, "POST", "/v1/roots", true, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveRoot stops trusting a registered key (admin token). It reports
// whether the key was registered. A key the gateway trusts from its
// configuration (its own key, A1_TRUSTED_ROOTS) stays trusted: the error
// then wraps ErrStillTrusted.
func (c *Client) RemoveRoot(ctx context.Context, pk a1.PublicKey) (bool, error) {
	var out struct {
		Removed      bool `json:"removed"`
		StillTrusted bool `json:"still_trusted"`
	}
	if err := c.do(ctx, "DELETE", "/v1/roots/"+url.PathEscape(pk.Hex()), true, nil, &out); err != nil {
		return false, err
	}
	if out.StillTrusted {
		return out.Removed, fmt.Errorf("client: DELETE /v1/roots/%s: %w", pk.Hex(), ErrStillTrusted)
	}
	return out.Removed, nil
}

// ErrStillTrusted is wrapped by RemoveRoot's error when the key stays
// trusted because it comes from the gateway's configuration.
var ErrStillTrusted = errors.New("the key stays trusted: it comes from the gateway's configuration (its own key or A1_TRUSTED_ROOTS)")
