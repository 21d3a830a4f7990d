// Package a1 implements the A1 delegation-chain protocol: cryptographic
// chain-of-custody authorization for AI agents that delegate to other
// agents. It is byte-compatible with the reference implementation, A1 2.8.0.
//
// # Model
//
// A human principal holds an Ed25519 key and issues a delegation [Cert] to an
// orchestrator agent: a scope (the root of a BLAKE3 Merkle tree of
// [IntentHash] values, see [NewIntentTree]), a validity window and a depth
// limit. Agents sub-delegate with [NewSubCert]: a narrower scope proven by a
// [SubScopeProof], an earlier expiry, less depth. A terminal agent presents
// the [SignedChain] and an intent; a [Verifier] checks it offline, and
// [Verifier.Authorize] adds the one atomic storage step (revocation and
// single-use nonces) through a [Consumer]. A [Passport] is a self-issued root
// cert over a list of capabilities with a capability [Mask].
//
// # Security decisions
//
// Where the reference is unsafe this package deliberately differs; each
// difference is a conformance-test case (docs/spec.md §6):
//
//   - trust anchors are mandatory ([NewVerifier] takes [TrustAnchors]);
//   - one Ed25519 rule for single and batch verification (ZIP-215 with
//     small-order keys rejected), see [VerifySignature];
//   - capability masks must narrow at every hop;
//   - certs with issued_at >= expiration_unix are rejected;
//   - by default only the terminal cert's nonce is consumed ([NonceMode]), and
//     a proof of possession ([PoP]) makes a chain reusable.
//
// # Errors
//
// Every error wraps exactly one [Kind] (ErrExpired, ErrScopeEscalation, …):
// match with errors.Is, read the wire code with [ErrorCode], the cert at
// fault with [HopOf]. All bounds are in limits.go.
package a1
