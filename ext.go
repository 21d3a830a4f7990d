package a1

import (
	"fmt"
	"sort"
	"strconv"
)

// Well-known extension keys (PROTOCOL.md §5.4).
const (
	ExtPassportVersion   = "dyolo.passport.v"
	ExtPassportNamespace = "dyolo.passport.namespace"
	ExtPassportMask      = "dyolo.passport.mask"
	ExtPassportCaps      = "dyolo.passport.caps"
	ExtRateLimitRPM      = "dyolo.rate_limit_rpm"
	ExtQuotaTokens       = "dyolo.quota_tokens"
	ExtTTLWarnSec        = "dyolo.ttl_warn_sec"
	ExtGeoAllow          = "dyolo.geo_allow"
	ExtCostCenter        = "dyolo.cost_center"

	// ExtPassportRoot is ours (ADR 0014): the hex fingerprint of the
	// passport root a sub-cert was issued under (Passport.IssueBoundSub).
	// A verifier adds it to the chain's revocation check, so revoking the
	// root stops the sub-cert even in a chain that leaves the root out.
	ExtPassportRoot = "a1.passport.root"
)

// ExtKind is the type tag of an extension value.
type ExtKind uint8

// Extension value kinds; the numbers are the commitment type tags.
const (
	ExtStr     ExtKind = 0
	ExtU64     ExtKind = 1
	ExtStrings ExtKind = 2
)

// ExtValue is one typed extension value: a string, a u64 or a string list.
type ExtValue struct {
	Kind    ExtKind
	Str     string
	U64     uint64
	Strings []string
}

// StrValue, U64Value and StringsValue construct extension values.
func StrValue(s string) ExtValue        { return ExtValue{Kind: ExtStr, Str: s} }
func U64Value(n uint64) ExtValue        { return ExtValue{Kind: ExtU64, U64: n} }
func StringsValue(xs []string) ExtValue { return ExtValue{Kind: ExtStrings, Strings: xs} }

func (v ExtValue) size() int {
	switch v.Kind {
	case ExtStr:
		return len(v.Str)
	case ExtU64:
		return 8
	default:
		n := 0
		for _, s := range v.Strings {
			n += len(s)
		}
		return n
	}
}

// String renders the value for humans.
func (v ExtValue) String() string {
	switch v.Kind {
	case ExtStr:
		return v.Str
	case ExtU64:
		return strconv.FormatUint(v.U64, 10)
	default:
		return fmt.Sprint(v.Strings)
	}
}

// Extensions is a cert's typed key/value map (PROTOCOL.md §5). The zero
// value is empty and ready to use.
type Extensions struct {
	fields map[string]ExtValue
	bytes  int
}

// Set adds or replaces a field, enforcing the reference's issuer limits
// (non-empty key, running size ≤ MaxExtensionBytes) plus MaxExtensionFields.
func (e *Extensions) Set(key string, v ExtValue) error {
	if key == "" {
		return wireError("extension key must not be empty")
	}
	return e.set(key, v)
}

// set is Set without the non-empty key rule (the reference decodes empty
// keys); the size and count bounds still apply.
func (e *Extensions) set(key string, v ExtValue) error {
	if e.fields == nil {
		e.fields = make(map[string]ExtValue)
	}
	if _, ok := e.fields[key]; !ok && len(e.fields) >= MaxExtensionFields {
		return wireErrorf("more than %d extension fields", MaxExtensionFields)
	}
	if v.Kind == ExtStrings && len(v.Strings) > MaxExtensionListLen {
		return wireErrorf("extension %q has more than %d strings", key, MaxExtensionListLen)
	}
	if e.bytes+len(key)+v.size() > MaxExtensionBytes {
		return wireError("maximum extension byte limit exceeded")
	}
	e.bytes += len(key) + v.size()
	if v.Kind == ExtStrings {
		v.Strings = append([]string(nil), v.Strings...)
	}
	e.fields[key] = v
	return nil
}

// Get returns the field under key.
func (e Extensions) Get(key string) (ExtValue, bool) {
	v, ok := e.fields[key]
	return v, ok
}

// Len is the number of fields.
func (e Extensions) Len() int { return len(e.fields) }

// Keys returns the keys in ascending byte order.
func (e Extensions) Keys() []string {
	keys := make([]string, 0, len(e.fields))
	for k := range e.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Commitment is the extensions commitment signed in the cert (PROTOCOL.md §5.3).
func (e Extensions) Commitment() [32]byte {
	w := newHW(hCertExt)
	w.u8(certVersion1)
	w.str(tagCertExt)
	w.le64(uint64(len(e.fields)))
	for _, k := range e.Keys() {
		v := e.fields[k]
		w.lpStr(k)
		switch v.Kind {
		case ExtStr:
			w.u8(0)
			w.lpStr(v.Str)
		case ExtU64:
			w.u8(1)
			w.le64(v.U64)
		default:
			w.u8(2)
			w.le64(uint64(len(v.Strings)))
			for _, s := range v.Strings {
				w.lpStr(s)
			}
		}
	}
	return w.sum()
}

// PassportMask returns the dyolo.passport.mask extension, if present.
// A present but malformed mask is an error.
func (e Extensions) PassportMask() (Mask, bool, error) {
	v, ok := e.fields[ExtPassportMask]
	if !ok {
		return Mask{}, false, nil
	}
	if v.Kind != ExtStr {
		return Mask{}, true, wireError("dyolo.passport.mask must be a hex string")
	}
	m, err := ParseMaskHex(v.Str)
	return m, true, err
}

// PassportNamespace returns the dyolo.passport.namespace extension or "".
func (e Extensions) PassportNamespace() string {
	if v, ok := e.fields[ExtPassportNamespace]; ok && v.Kind == ExtStr {
		return v.Str
	}
	return ""
}
