// Package client is the Go SDK for the a1 gateway's HTTP API.
//
// A [Client] talks to one gateway. Its methods map one to one onto the
// gateway routes (docs/gateway.md, gateway/openapi.json):
//
//   - [Client.Authorize] and [Client.AuthorizeBatch]: POST /v1/authorize and
//     /v1/authorize/batch. Given the agent's key (an [crypto.Signer]), the
//     request carries a proof of possession (DESIGN.md §3a) whose audience is
//     the gateway id from /.well-known/a1-configuration, so a copied chain is
//     useless without the agent's key.
//   - [Client.Revoke] (admin token), [Client.RevokeSigned] (signed by the
//     chain's principal or an ancestor delegator, no token), [Client.RevokeBatch]
//     and [Client.CertStatus].
//   - [Client.IssueCert], [Client.Roots], [Client.AddRoot], [Client.RemoveRoot]
//     (admin), [Client.VerifyToken], [Client.Configuration], [Client.Health].
//
// # Errors
//
// Every non-2xx answer becomes an [*Error] carrying the HTTP status and the
// gateway's error_code, hop and hint. Match protocol failures with
// errors.Is against the a1 error kinds (errors.Is(err, a1.ErrRevoked)) or
// read [*Error].Code. Transport failures are returned wrapped. A 2xx answer
// that does not affirm the call (an authorization without "authorized":
// true, a revocation naming another fingerprint…) is an error wrapping
// [ErrUnexpectedAnswer]: a nil error always means success.
//
// # Receipts
//
// Every authorized intent comes with receipt_signature_hex, the gateway's
// Ed25519 signature over the receipt (docs/spec.md §3.1). [VerifyReceipt]
// and [VerifyBatchReceipt] rebuild the receipt from the request and check
// the signature under the gateway's receipt key ([Client.ReceiptKey]);
// with [WithReceiptKey] the key is pinned and [Client.Authorize] and
// [Client.AuthorizeBatch] check every receipt themselves. A receipt proves
// that the gateway authorized the intent under the chain at a given second;
// a VerifiedToken ([Client.VerifyToken]) proves the same to holders of the
// MAC key only. Neither expires nor is single-use.
//
// # Transport
//
// The default HTTP client verifies certificates (TLS 1.2 or later), bounds
// each call by [DefaultTimeout] and the context, reads at most
// [MaxResponseBytes] of an answer and follows no redirect.
//
// # Retries
//
// The client never retries: an authorization consumes nonces, so a blind
// retry of a request whose answer was lost may be refused as NONCE_REPLAY.
// (The one request it sends twice is a signed envelope answered
// INVALID_PROOF, which consumed nothing, when discovery then shows that the
// gateway id changed: the envelope is signed anew for the new id.)
// Retry at the application level where that is acceptable, honouring
// [*Error].RetryAfter on 429 and 503.
package client
