package a1

import (
	"crypto/subtle"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/zeebo/blake3"
)

// TokenBinding ties a VerifiedToken to the service meant to accept it and
// to the agent whose request was authorized (docs/spec.md §3.3). The
// reference's token has neither (PROTOCOL.md §17 item 7): any service
// trusting a gateway's MAC key accepts it, whoever presents it.
type TokenBinding struct {
	// Audience names the service meant to accept the token (the verifier
	// must name the same one); see ValidateAudience.
	Audience string
	// Executor is the terminal delegate of the authorized chain: the agent
	// that proved the request. A service may ask the token's presenter to
	// prove it holds this key.
	Executor PublicKey
}

// ExecutorHex is the hex of the bound executor's key, "" for a nil binding
// (an unbound token): what a verify answer names.
func (b *TokenBinding) ExecutorHex() string {
	if b == nil {
		return ""
	}
	return b.Executor.Hex()
}

// ValidateAudience checks a bound token's audience: 1 to MaxAudienceLen
// bytes of UTF-8 without control characters (U+2028 and U+2029 included)
// and without U+FFFD. U+FFFD is what encoding/json (the gateway's request
// decoder) makes of a lone UTF-16 surrogate escape: "svc\ud800" and
// "svc\udbff" would both arrive as "svc\ufffd", one audience for services
// whose names differ, so no audience may contain it.
func ValidateAudience(s string) error {
	if s == "" || len(s) > MaxAudienceLen {
		return fmt.Errorf("audience must be 1 to %d bytes", MaxAudienceLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("audience must be UTF-8")
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' {
			return fmt.Errorf("audience must not contain control characters")
		}
		if c == utf8.RuneError {
			return fmt.Errorf("audience must not contain U+FFFD (a lone surrogate escape decodes to it)")
		}
	}
	return nil
}

// NewBoundToken MACs r with its binding under key (docs/spec.md §3.3):
//
//	bound_key = DK("a1-go::token-key::v1")[ key ]
//	mac       = BLAKE3-keyed(bound_key)[ canonical_receipt_bytes ‖ LP(audience) ‖ executor(32) ]
//
// The MAC key is never used as is, so a bound token's MAC is never the
// reference MAC of any receipt, nor the other way round.
func NewBoundToken(r Receipt, b TokenBinding, key [32]byte) (VerifiedToken, error) {
	if err := ValidateAudience(b.Audience); err != nil {
		return VerifiedToken{}, newErr(ErrMalformed, "token binding: "+err.Error())
	}
	t := VerifiedToken{Receipt: r, Binding: &b}
	t.MAC = t.mac(key)
	return t, nil
}

// mac is the token's MAC under key: the reference's for an unbound token,
// the bound MAC otherwise.
func (t *VerifiedToken) mac(key [32]byte) [32]byte {
	b := t.Binding
	if b == nil {
		return t.Receipt.MAC(key)
	}
	var bk [32]byte
	blake3.DeriveKey(ctxTokenKey, key[:], bk[:])
	h, _ := blake3.NewKeyed(bk[:])
	h.Write(t.Receipt.CanonicalBytes())
	w := &hw{h: h}
	w.lpStr(b.Audience)
	w.bytes(b.Executor[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// CheckAudience checks a token whose MAC verified (check the MAC first)
// against the audience of the service verifying it: a bound token only
// for its own audience, and, once a service names an audience, never an
// unbound token (which any service would accept). An empty audience
// accepts only unbound tokens, as the reference does. Error:
// ErrTokenAudience.
func (t *VerifiedToken) CheckAudience(audience string) error {
	b := t.Binding
	switch {
	case b == nil && audience == "":
		return nil
	case b == nil:
		return newErr(ErrTokenAudience, "token is not bound to an audience (the service requires one bound to "+fmt.Sprintf("%q", audience)+")")
	case audience == "":
		return newErr(ErrTokenAudience, fmt.Sprintf("token is bound to the audience %q: the verifier must name its audience", b.Audience))
	case subtle.ConstantTimeCompare([]byte(b.Audience), []byte(audience)) != 1:
		return newErr(ErrTokenAudience, fmt.Sprintf("token is bound to the audience %q, not %q", b.Audience, audience))
	}
	return nil
}
