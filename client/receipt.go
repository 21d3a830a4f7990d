package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/a1-go/a1"
)

// ErrBadReceipt is wrapped by the error of an authorization answer whose
// receipt does not prove that authorization: its signature does not verify
// under the gateway's receipt key, or it names another chain, intent, time
// or token.
var ErrBadReceipt = errors.New("the receipt is not the gateway's signature over this authorization")

// ErrReceiptUnverifiable is wrapped by VerifyBatchReceipt's error for an
// authorized batch result that carries neither its verified_at_unix nor a
// token (a gateway older than the field: ask it with ReturnToken).
var ErrReceiptUnverifiable = errors.New("the batch result carries no verified_at_unix (ask with ReturnToken)")

// WithReceiptKey pins the gateway's receipt-signing key (receipt_signing_pk_hex
// of /.well-known/a1-configuration, taken from a trusted source), and makes
// Authorize and AuthorizeBatch verify every receipt of their answers under
// it: a nil error then also means a receipt the gateway signed for exactly
// that chain and intent. An answer whose receipt does not verify is an
// error wrapping ErrBadReceipt; the gateway may nevertheless have consumed
// the request's nonces.
func WithReceiptKey(pk a1.PublicKey) Option {
	return func(c *Client) { c.receiptKey = &pk }
}

// ReceiptKey is the key receipts are verified under: the one of
// WithReceiptKey, else receipt_signing_pk_hex of the (cached) discovery
// document. A key taken from discovery is only as trustworthy as the
// connection to the gateway; pin one with WithReceiptKey where that
// matters. A gateway whose receipt key is ephemeral (a KMS signing key
// without A1_RECEIPT_KEY_HEX) changes it on restart and per replica: call
// Refresh when a receipt does not verify under the cached one.
func (c *Client) ReceiptKey(ctx context.Context) (a1.PublicKey, error) {
	if c.receiptKey != nil {
		return *c.receiptKey, nil
	}
	cfg, err := c.Configuration(ctx)
	if err != nil {
		return a1.PublicKey{}, fmt.Errorf("client: discovering the receipt key: %w", err)
	}
	pk, err := a1.ParsePublicKeyHex(cfg.ReceiptSigningPKHex)
	if err == nil {
		err = a1.CheckPublicKey(pk)
	}
	if err != nil {
		return a1.PublicKey{}, unexpected("GET", "/.well-known/a1-configuration", "receipt_signing_pk_hex is not a public key")
	}
	return pk, nil
}

// VerifyReceipt checks the receipt of an Authorize answer offline, under the
// gateway's receipt key (Client.ReceiptKey), and returns it: the receipt of
// PROTOCOL.md §7.10 that the gateway signed (docs/spec.md §3), rebuilt from
// req (the chain and the intent asked for) and res (the time). The answer
// must name req's chain and intent, and its token, if any, must MAC that
// very receipt. The returned receipt and res.ReceiptSignatureHex let a third
// party check the authorization with a1.VerifyReceiptSignature and the
// public key alone. Errors wrap ErrBadReceipt.
//
// A receipt proves that the gateway authorized the intent under the chain at
// VerifiedAtUnix; it does not name the request (request_id) and two
// authorizations of the same chain and intent in the same second have the
// same receipt (docs/spec.md §3).
func VerifyReceipt(receiptKey a1.PublicKey, req *AuthorizeRequest, res *AuthorizeResponse) (*a1.Receipt, error) {
	if req == nil || res == nil {
		return nil, errors.New("client: VerifyReceipt needs the request and its answer")
	}
	intent, err := a1.HashIntent(req.Intent, req.Params)
	if err != nil {
		return nil, fmt.Errorf("client: intent: %w", err)
	}
	if res.VerifiedAtUnix != res.Receipt.VerifiedAtUnix {
		return nil, fmt.Errorf("client: receipt: %w", badReceipt("verified_at_unix %d and receipt.verified_at_unix %d differ", res.VerifiedAtUnix, res.Receipt.VerifiedAtUnix))
	}
	rc, err := verifyReceipt(receiptKey, req.Chain, intent, res.VerifiedAtUnix, res.ChainDepth, res.ChainFingerprint,
		res.IntentHashHex, res.ReceiptSignatureHex, res.Token)
	if err != nil {
		return nil, fmt.Errorf("client: receipt: %w", err)
	}
	return rc, nil
}

// VerifyBatchReceipt is VerifyReceipt for result i of an AuthorizeBatch
// answer, whose time is the result's verified_at_unix (or, from a gateway
// older than that field, its token's). Errors wrap ErrBadReceipt, or
// ErrReceiptUnverifiable for a result with neither.
func VerifyBatchReceipt(receiptKey a1.PublicKey, req *BatchRequest, res *BatchResponse, i int) (*a1.Receipt, error) {
	if req == nil || res == nil {
		return nil, errors.New("client: VerifyBatchReceipt needs the request and its answer")
	}
	if i < 0 || i >= len(req.Intents) || i >= len(res.Results) {
		return nil, fmt.Errorf("client: no batch result %d", i)
	}
	r := &res.Results[i]
	if !r.Authorized {
		return nil, fmt.Errorf("client: batch result %d (%s) is not authorized: no receipt", i, r.IntentName)
	}
	at := r.VerifiedAtUnix
	switch {
	case at == 0 && r.Token == nil:
		return nil, fmt.Errorf("client: batch result %d: %w", i, ErrReceiptUnverifiable)
	case at == 0:
		at = r.Token.Receipt.VerifiedAtUnix
	}
	intent, err := a1.HashIntent(req.Intents[i].Name, req.Intents[i].Params)
	if err != nil {
		return nil, fmt.Errorf("client: intents[%d]: %w", i, err)
	}
	depth := -1
	if req.Chain != nil {
		depth = len(req.Chain.Certs)
	}
	rc, err := verifyReceipt(receiptKey, req.Chain, intent, at, depth, r.ChainFingerprint,
		r.IntentHashHex, r.ReceiptSignatureHex, r.Token)
	if err != nil {
		return nil, fmt.Errorf("client: batch result %d: receipt: %w", i, err)
	}
	return rc, nil
}

// verifyReceipt rebuilds the receipt the gateway signs (docs/spec.md §3)
// from the chain, the intent and the time, checks the answer's claims
// against it and the signature over it.
func verifyReceipt(key a1.PublicKey, chain *a1.SignedChain, intent a1.IntentHash, at uint64, depth int,
	fpHex, intentHex, sigHex string, tok *a1.VerifiedToken) (*a1.Receipt, error) {
	if chain == nil || len(chain.Certs) == 0 {
		return nil, errors.New("no chain")
	}
	n := len(chain.Certs)
	rc := &a1.Receipt{ChainDepth: uint64(n), VerifiedScopeRoot: chain.Certs[n-1].ScopeRoot, Intent: intent,
		VerifiedAtUnix: at, ChainFingerprint: chain.Fingerprint()}
	switch {
	case depth != n:
		return nil, badReceipt("the answer names chain depth %d, the chain has %d certs", depth, n)
	case !strings.EqualFold(fpHex, hex.EncodeToString(rc.ChainFingerprint[:])):
		return nil, badReceipt("the answer names chain fingerprint %q, not the chain sent", fpHex)
	case !strings.EqualFold(intentHex, intent.Hex()):
		return nil, badReceipt("the answer names intent hash %q, not the intent asked", intentHex)
	case tok != nil && tok.Receipt != *rc:
		return nil, badReceipt("the token's receipt is not this authorization's")
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || !a1.VerifyReceiptSignature(key, rc, sig) {
		return nil, badReceipt("receipt_signature_hex does not verify under receipt key %s", key.Hex())
	}
	return rc, nil
}

func badReceipt(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadReceipt)
}
