package a1

import (
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/zeebo/blake3"
)

// Receipt is a VerificationReceipt (PROTOCOL.md §7.10).
type Receipt struct {
	ChainDepth        uint64
	VerifiedScopeRoot [32]byte
	Intent            IntentHash
	VerifiedAtUnix    uint64
	ChainFingerprint  [32]byte
	// Namespace is "" when the chain had none (absent and "" hash alike).
	Namespace string
}

// CanonicalBytes is the MAC input of a VerifiedToken (PROTOCOL.md §10.2).
func (r *Receipt) CanonicalBytes() []byte {
	b := make([]byte, 0, 136+len(r.Namespace))
	b = append(b, tokenPrefix...)
	b = binary.BigEndian.AppendUint64(b, r.ChainDepth)
	b = append(b, r.VerifiedScopeRoot[:]...)
	b = append(b, r.Intent[:]...)
	b = binary.BigEndian.AppendUint64(b, r.VerifiedAtUnix)
	b = append(b, r.ChainFingerprint[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(r.Namespace)))
	b = append(b, r.Namespace...)
	return b
}

// MAC is BLAKE3 keyed mode over the canonical bytes (PROTOCOL.md §10.3).
func (r *Receipt) MAC(key [32]byte) [32]byte {
	h, _ := blake3.NewKeyed(key[:])
	h.Write(r.CanonicalBytes())
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// SigningDigest is what a gateway signs with its Ed25519 key so that third
// parties can verify a receipt without a shared secret:
// DK("a1-go::receipt::v1")[canonical bytes] (docs/spec.md §3.1). It binds
// the chain, intent and time of the receipt, not the request that asked for
// it: two authorizations of the same chain and intent in the same second
// have the same digest.
func (r *Receipt) SigningDigest() [32]byte {
	w := newHW(hReceipt)
	w.bytes(r.CanonicalBytes())
	return w.sum()
}

// SignReceipt signs the receipt's SigningDigest with s.
func SignReceipt(s crypto.Signer, r *Receipt) ([]byte, error) {
	d := r.SigningDigest()
	sig, err := s.Sign(rand.Reader, d[:], crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("a1: signing receipt: %w", err)
	}
	return sig, nil
}

// VerifyReceiptSignature checks a gateway's receipt signature.
func VerifyReceiptSignature(gateway PublicKey, r *Receipt, sig []byte) bool {
	d := r.SigningDigest()
	return CheckPublicKey(gateway) == nil && VerifySignature(gateway, d[:], sig)
}

func (r *Receipt) encode(w *jsonWriter) {
	w.raw(`{"chain_depth":`)
	w.uint(r.ChainDepth)
	w.raw(`,"verified_scope_root":`)
	w.bytesArr(r.VerifiedScopeRoot[:])
	w.raw(`,"intent":`)
	w.bytesArr(r.Intent[:])
	w.raw(`,"verified_at_unix":`)
	w.uint(r.VerifiedAtUnix)
	w.raw(`,"chain_fingerprint":`)
	w.bytesArr(r.ChainFingerprint[:])
	if r.Namespace != "" {
		w.raw(`,"namespace":`)
		w.str(r.Namespace)
	}
	w.raw("}")
}

// MarshalJSON emits the reference receipt JSON (integer arrays).
func (r Receipt) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{}
	r.encode(w)
	return w.b, nil
}

// UnmarshalJSON decodes a receipt in either byte form.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	jr := &jsonReader{b: b}
	out, err := jr.receipt()
	if err == nil {
		err = jr.end()
	}
	if err != nil {
		return wireError(err.Error())
	}
	*r = *out
	return nil
}

func (r *jsonReader) receipt() (*Receipt, error) {
	rc := &Receipt{}
	have := 0
	variant := ""
	err := r.object(func(k string) error {
		var err error
		switch k {
		case "chain_depth":
			rc.ChainDepth, err = r.uint(^uint64(0))
			have |= 1
		case "verified_scope_root":
			err = r.fixedBytes(rc.VerifiedScopeRoot[:])
			have |= 2
		case "intent":
			err = r.fixedBytes(rc.Intent[:])
			have |= 4
		case "verified_at_unix":
			rc.VerifiedAtUnix, err = r.uint(^uint64(0))
			have |= 8
		case "chain_fingerprint":
			err = r.fixedBytes(rc.ChainFingerprint[:])
			have |= 16
		case "namespace":
			if r.hasNull() {
				return nil
			}
			rc.Namespace, err = r.str()
		default:
			if variant == "" && caseVariant(k, receiptFields) != nil {
				variant = k
			}
			err = r.skip()
		}
		return err
	})
	if err == nil && variant != "" {
		// After the whole object: beside the exact name it is a
		// duplicate, reported as such by object.
		err = caseVariant(variant, receiptFields)
	}
	if err != nil {
		return nil, err
	}
	if have != 31 {
		return nil, fmt.Errorf("receipt is missing a required field")
	}
	return rc, nil
}

// receiptFields and tokenFields are the member names of a receipt and a
// VerifiedToken.
var (
	receiptFields = []string{"chain_depth", "verified_scope_root", "intent", "verified_at_unix", "chain_fingerprint", "namespace"}
	tokenFields   = []string{"receipt", "audience", "executor_pk_hex", "mac"}
)

// caseVariant refuses an unknown member whose name equals one of names but
// for letter case ("AUDIENCE", "NameSpace", "executor_p\u212a_hex"): this
// decoder ignores it, as it does every unknown member, but a
// case-insensitive reader (encoding/json) takes it for that field, so the
// same bytes would be an unbound token to the gateway and a bound one to
// that reader, or a receipt with a namespace the MAC does not cover.
// (object refuses it beside the exact name, as a duplicate: the decoders
// check for variants once the object is read, so that a duplicate is
// reported as one.)
func caseVariant(k string, names []string) error {
	for _, n := range names {
		if strings.EqualFold(k, n) {
			return fmt.Errorf("unknown field %q: member names are case-sensitive (did you mean %q?)", k, n)
		}
	}
	return nil
}

func (r *jsonReader) hasNull() bool {
	r.ws()
	if r.hasLit("null") {
		r.i += 4
		return true
	}
	return false
}

// VerifiedToken is a receipt with a BLAKE3 keyed MAC (PROTOCOL.md §10). A
// valid token proves only that a holder of the MAC key authorized the
// receipt's intent under its chain at its time, and verifying it consumes
// nothing (docs/spec.md §3.2). The reference's token has no expiry,
// audience or executor; a bound token (Binding set, docs/spec.md §3.3)
// also names the service meant to accept it and the authorized agent,
// under a MAC of its own that no reference token shares.
type VerifiedToken struct {
	Receipt Receipt
	// Binding is nil for the reference's token.
	Binding *TokenBinding
	MAC     [32]byte
}

// NewVerifiedToken MACs r with key.
func NewVerifiedToken(r Receipt, key [32]byte) VerifiedToken {
	return VerifiedToken{Receipt: r, MAC: r.MAC(key)}
}

// Verify checks the MAC against each key in turn (current first, then
// previous keys of a rotation), in constant time per key. A bound token
// verifies here whatever its audience: check it with CheckAudience too.
func (t *VerifiedToken) Verify(keys ...[32]byte) error {
	for _, k := range keys {
		m := t.mac(k)
		if subtle.ConstantTimeCompare(m[:], t.MAC[:]) == 1 {
			return nil
		}
	}
	return newErr(ErrMACVerification, "")
}

// CheckAge bounds the age of a token whose MAC verified (check the MAC
// first: an age error must say nothing about a forgery). The token is
// accepted when now − maxAgeSecs − drift ≤ verified_at_unix ≤ now + drift,
// both bounds included as for a cert's validity window; maxAgeSecs 0 means
// no maximum (the reference's tokens never expire; PROTOCOL.md §17 item 7
// asks verifiers to bound the age). Errors: ErrTokenExpired,
// ErrTokenNotYetValid.
func (t *VerifiedToken) CheckAge(now, maxAgeSecs, drift uint64) error {
	if maxAgeSecs == 0 {
		return nil
	}
	at := t.Receipt.VerifiedAtUnix
	if at > satAdd(now, drift) {
		return newErr(ErrTokenNotYetValid, fmt.Sprintf("token verified in the future (verified_at_unix=%d, now=%d, drift=%ds)", at, now, drift))
	}
	if satAdd(satAdd(at, maxAgeSecs), drift) < now {
		return newErr(ErrTokenExpired, fmt.Sprintf("token expired (verified_at_unix=%d, now=%d, max age %ds, drift=%ds)", at, now, maxAgeSecs, drift))
	}
	return nil
}

// MarshalJSON emits {"receipt":{…},"mac":"<hex>"}, with "audience" and
// "executor_pk_hex" before "mac" for a bound token.
func (t VerifiedToken) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{}
	w.raw(`{"receipt":`)
	t.Receipt.encode(w)
	if b := t.Binding; b != nil {
		w.raw(`,"audience":`)
		w.str(b.Audience)
		w.raw(`,"executor_pk_hex":`)
		w.hexStr(b.Executor[:])
	}
	w.raw(`,"mac":`)
	w.hexStr(t.MAC[:])
	w.raw("}")
	return w.b, nil
}

// UnmarshalJSON decodes a token; the MAC hex (and a bound token's
// executor key hex) may be either case. A token with "audience" or
// "executor_pk_hex" is a bound token and needs both.
func (t *VerifiedToken) UnmarshalJSON(b []byte) error {
	if len(b) > MaxChainJSONBytes {
		return wireError("token too large")
	}
	r := &jsonReader{b: b}
	var out VerifiedToken
	var haveR, haveM, haveA, haveE bool
	var bind TokenBinding
	variant := ""
	err := r.object(func(k string) error {
		switch k {
		case "audience":
			s, err := r.str()
			if err != nil {
				return err
			}
			if err := ValidateAudience(s); err != nil {
				return wireError("token audience: " + err.Error())
			}
			bind.Audience, haveA = s, true
			return nil
		case "executor_pk_hex":
			s, err := r.str()
			if err != nil {
				return err
			}
			b, err := hex.DecodeString(s)
			if err != nil || len(b) != 32 {
				return wireError("executor_pk_hex must be 64 hex digits")
			}
			copy(bind.Executor[:], b)
			haveE = true
			return nil
		case "receipt":
			rc, err := r.receipt()
			if err != nil {
				return err
			}
			out.Receipt, haveR = *rc, true
			return nil
		case "mac":
			s, err := r.str()
			if err != nil {
				return err
			}
			b, err := hex.DecodeString(s)
			if err != nil {
				return wireError("invalid MAC hex")
			}
			if len(b) != 32 {
				return wireError("MAC must be 32 bytes")
			}
			copy(out.MAC[:], b)
			haveM = true
			return nil
		}
		if variant == "" && caseVariant(k, tokenFields) != nil {
			variant = k
		}
		return r.skip()
	})
	if err == nil {
		err = r.end()
	}
	if err == nil && variant != "" {
		err = caseVariant(variant, tokenFields)
	}
	if err == nil && (!haveR || !haveM) {
		err = fmt.Errorf("token needs `receipt` and `mac`")
	}
	if err == nil && haveA != haveE {
		err = fmt.Errorf("a bound token needs both `audience` and `executor_pk_hex`")
	}
	if err == nil && haveA {
		out.Binding = &bind
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return e
		}
		return wireError(err.Error())
	}
	*t = out
	return nil
}
