package a1

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind is a class of protocol error. Every error this package returns wraps
// exactly one Kind, so callers match with errors.Is(err, a1.ErrExpired) and
// read the wire code with ErrorCode(err).
type Kind struct {
	code    string // our error_code (DESIGN.md §2)
	refCode string // the reference's error_code (PROTOCOL.md §12.1)
	status  int    // HTTP status the gateway answers with
	msg     string // message when no detail is given
	hint    string // what the caller can do about it
}

func (k *Kind) Error() string { return k.msg }

// Code is the stable error_code string.
func (k *Kind) Code() string { return k.code }

// The error kinds. The messages of the kinds shared with the reference are
// the reference's Display texts.
var (
	ErrEmptyChain = &Kind{"EMPTY_CHAIN", "AUTHORIZATION_FAILED", 400,
		"delegation chain is empty", "a chain needs at least one cert"}
	ErrRootMismatch = &Kind{"ROOT_MISMATCH", "AUTHORIZATION_FAILED", 403,
		"chain does not anchor to the declared principal", "certs[0].delegator_pk must equal principal_pk"}
	ErrUntrustedRoot = &Kind{"UNTRUSTED_ROOT", "AUTHORIZATION_FAILED", 403,
		"chain principal is not a trusted root", "register the principal key as a trust anchor (A1_TRUSTED_ROOTS or the roots API)"}
	ErrBrokenLinkage = &Kind{"CHAIN_BROKEN_LINKAGE", "CHAIN_BROKEN_LINKAGE", 403,
		"delegation linkage broken", "each cert's delegator_pk must be the previous cert's delegate_pk"}
	ErrInvalidSignature = &Kind{"INVALID_SIGNATURE", "INVALID_SIGNATURE", 403,
		"invalid signature", "the cert was modified after signing or signed by another key"}
	ErrWeakKey = &Kind{"WEAK_PUBLIC_KEY", "INVALID_SIGNATURE", 403,
		"small-order public key", "small-order Ed25519 keys are never accepted; generate a new key"}
	ErrNotYetValid = &Kind{"NOT_YET_VALID", "AUTHORIZATION_FAILED", 401,
		"delegation not yet valid", "check the issuer's clock; issued_at is in the future beyond the drift tolerance"}
	ErrExpired = &Kind{"CERT_EXPIRED", "CERT_EXPIRED", 401,
		"delegation has expired", "ask the delegator for a fresh cert"}
	ErrTemporalViolation = &Kind{"TEMPORAL_VIOLATION", "AUTHORIZATION_FAILED", 403,
		"child expiry exceeds parent expiry", "a delegated cert may not outlive its parent"}
	ErrInvalidValidity = &Kind{"INVALID_VALIDITY_PERIOD", "", 403,
		"issued_at is not before expiration_unix", "re-issue the cert with issued_at < expiration_unix"}
	ErrDepthExceeded = &Kind{"CHAIN_DEPTH_EXCEEDED", "CHAIN_DEPTH_EXCEEDED", 403,
		"depth limit exceeded", "an earlier cert's max_depth forbids this many hops"}
	ErrInvalidSubScopeProof = &Kind{"INVALID_SUBSCOPE_PROOF", "AUTHORIZATION_FAILED", 403,
		"sub-scope proof is structurally invalid", "rebuild the sub-scope proof against the parent's scope tree"}
	ErrScopeEscalation = &Kind{"SCOPE_ESCALATION", "SCOPE_ESCALATION", 403,
		"delegated scope is not within the delegator's authorization", "a cert may only narrow its parent's scope"}
	ErrNarrowingViolation = &Kind{"PASSPORT_NARROWING_VIOLATION", "PASSPORT_NARROWING_VIOLATION", 403,
		"passport capability narrowing violation: requested scope exceeds granted passport capabilities",
		"a capability mask may only narrow its parent's mask"}
	ErrUnauthorizedExecutor = &Kind{"UNAUTHORIZED_EXECUTOR", "AUTHORIZATION_FAILED", 403,
		"executing agent is not the terminal delegate", "executor_pk_hex must be the last cert's delegate_pk"}
	ErrScopeViolation = &Kind{"SCOPE_VIOLATION", "SCOPE_VIOLATION", 403,
		"execution intent is not within the terminal scope", "the intent (action and params) must be one of the terminal cert's intents"}
	ErrNonceReplay = &Kind{"NONCE_REPLAY", "NONCE_REPLAY", 401,
		"nonce has already been consumed", "this chain (or request nonce) was already used; get a fresh delegation or use proof of possession"}
	ErrRevoked = &Kind{"CERT_REVOKED", "CERT_REVOKED", 401,
		"delegation certificate has been revoked", "a cert in the chain was revoked; ask for a new delegation"}
	ErrIntentNotFound = &Kind{"INTENT_NOT_FOUND", "AUTHORIZATION_FAILED", 403,
		"intent is not present in this tree", "the intent must be in the parent scope"}
	ErrEmptyTree = &Kind{"EMPTY_TREE", "AUTHORIZATION_FAILED", 403,
		"intent tree requires at least one intent", "give at least one intent"}
	ErrMalformed = &Kind{"MALFORMED_REQUEST", "AUTHORIZATION_FAILED", 400,
		"malformed input", "check the field named in the message"}
	ErrUnsupportedVersion = &Kind{"UNSUPPORTED_VERSION", "AUTHORIZATION_FAILED", 400,
		"unsupported certificate version", "only version 1 certs and chains are supported"}
	ErrMACVerification = &Kind{"MAC_VERIFICATION_FAILED", "MAC_VERIFICATION_FAILED", 401,
		"MAC verification failed", "the token was modified or MACed with another key"}
	ErrStorage = &Kind{"STORAGE_UNAVAILABLE", "STORAGE_ERROR", 503,
		"storage unavailable", "retry later; nothing was authorized"}
	ErrInvalidProof = &Kind{"INVALID_PROOF", "", 401,
		"invalid proof of possession", "sign the PoP digest with the executor key (docs/spec.md)"}
	ErrProofExpired = &Kind{"PROOF_EXPIRED", "", 401,
		"proof of possession is outside the time window", "use a fresh proof with issued_at = now"}
	ErrProofRequired = &Kind{"PROOF_REQUIRED", "", 401,
		"proof of possession required", "this gateway requires a PoP proof with every request"}
	ErrRevocationDenied = &Kind{"REVOCATION_UNAUTHORIZED", "", 403,
		"revocation not authorized", "a revocation must be signed by the chain's principal or an ancestor delegator"}
	ErrTokenExpired = &Kind{"TOKEN_EXPIRED", "", 401,
		"token is older than the accepted maximum age", "authorize again (return_token) for a fresh token"}
	ErrTokenAudience = &Kind{"TOKEN_AUDIENCE_MISMATCH", "", 401,
		"token is not bound to this audience",
		"ask the agent for a token bound to this service (token_audience at authorization) and name the same audience when verifying"}
	ErrTokenNotYetValid = &Kind{"TOKEN_NOT_YET_VALID", "", 401,
		"token verified in the future beyond the drift tolerance",
		"the minting gateway's clock is ahead of the verifier's: synchronize the clocks of the gateways sharing the MAC key"}
)

// Error is a protocol error: a Kind plus the hop it concerns and details.
type Error struct {
	Kind   *Kind
	Hop    int    // index of the cert at fault; meaningful when HasHop
	HasHop bool   // whether Hop is set
	Detail string // full message (reference Display text where one exists)
	Err    error  // optional cause
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	if e.HasHop {
		return fmt.Sprintf("%s at hop %d", e.Kind.msg, e.Hop)
	}
	return e.Kind.msg
}

// Unwrap returns the Kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func newErr(k *Kind, detail string) *Error { return &Error{Kind: k, Detail: detail} }

func hopErr(k *Kind, hop int, detail string) *Error {
	return &Error{Kind: k, Hop: hop, HasHop: true, Detail: detail}
}

func wireError(msg string) *Error {
	return &Error{Kind: ErrMalformed, Detail: "wire format error: " + msg}
}

func wireErrorf(format string, args ...any) *Error {
	return wireError(fmt.Sprintf(format, args...))
}

func kindOf(err error) *Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k *Kind
	if errors.As(err, &k) {
		return k
	}
	return nil
}

// ErrorCode returns the error_code of err (DESIGN.md §2), or "" for nil and
// "INTERNAL" for errors that are not protocol errors.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if k := kindOf(err); k != nil {
		return k.code
	}
	return "INTERNAL"
}

// ReferenceCode returns the error_code the reference implementation gives
// for the same failure, or "" where the reference has no such failure.
func ReferenceCode(err error) string {
	if k := kindOf(err); k != nil {
		return k.refCode
	}
	return ""
}

// HTTPStatus is the status the gateway answers with for err.
func HTTPStatus(err error) int {
	if k := kindOf(err); k != nil {
		return k.status
	}
	return http.StatusInternalServerError
}

// Hint is a short, user-safe suggestion of what to do about err.
func Hint(err error) string {
	if k := kindOf(err); k != nil {
		return k.hint
	}
	return ""
}

// HopOf returns the index of the cert err concerns, if any.
func HopOf(err error) (int, bool) {
	var e *Error
	if errors.As(err, &e) && e.HasHop {
		return e.Hop, true
	}
	return 0, false
}
