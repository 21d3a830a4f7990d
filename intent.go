package a1

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IntentHash is the 32-byte hash of an intent (PROTOCOL.md §2.3). Scopes,
// proofs and receipts carry intent hashes, never intents.
type IntentHash [32]byte

// Hex returns the lowercase hex form.
func (h IntentHash) Hex() string { return hex.EncodeToString(h[:]) }

// Intent is an action with normalized parameters. Build one with NewIntent;
// the zero value is not a valid intent.
type Intent struct {
	Action string
	params map[string]string
}

// NewIntent validates action and normalizes params exactly as the reference
// does: keys and values are trimmed and lower-cased (Rust str::to_lowercase),
// then length-checked. Parameters are added in sorted key order so that the
// result does not depend on map iteration when two keys normalize to the same
// key; use NormalizeParam to detect such collisions first.
func NewIntent(action string, params map[string]string) (Intent, error) {
	if err := validateAction(action); err != nil {
		return Intent{}, err
	}
	in := Intent{Action: action, params: make(map[string]string, len(params))}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := in.AddParam(k, params[k]); err != nil {
			return Intent{}, err
		}
	}
	return in, nil
}

// MustIntent is NewIntent for constant inputs; it panics on error.
func MustIntent(action string, params map[string]string) Intent {
	in, err := NewIntent(action, params)
	if err != nil {
		panic(err)
	}
	return in
}

func validateAction(action string) error {
	if action == "" {
		return wireError("Intent action cannot be empty")
	}
	if len(action) > MaxActionLen {
		return wireError(fmt.Sprintf("Intent action exceeds maximum length of %d", MaxActionLen))
	}
	return nil
}

// AddParam adds one parameter with the reference's normalization and limits
// (PROTOCOL.md §2.2): the count is checked before normalization.
func (in *Intent) AddParam(key, value string) error {
	if in.params == nil {
		in.params = make(map[string]string)
	}
	if len(in.params) >= MaxParams {
		return wireError(fmt.Sprintf("Intent exceeds maximum parameter count of %d", MaxParams))
	}
	k, v := NormalizeParam(key), NormalizeParam(value)
	if len(k) > MaxParamKeyLen {
		return wireError(fmt.Sprintf("Intent parameter key exceeds maximum length of %d", MaxParamKeyLen))
	}
	if len(v) > MaxParamValueLen {
		return wireError(fmt.Sprintf("Intent parameter value exceeds maximum length of %d", MaxParamValueLen))
	}
	in.params[k] = v
	return nil
}

// Params returns a copy of the normalized parameters.
func (in Intent) Params() map[string]string {
	out := make(map[string]string, len(in.params))
	for k, v := range in.params {
		out[k] = v
	}
	return out
}

func (in Intent) sortedKeys() []string {
	keys := make([]string, 0, len(in.params))
	for k := range in.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Hash returns the intent hash (PROTOCOL.md §2.3).
func (in Intent) Hash() IntentHash {
	w := newHW(hIntentLeaf)
	w.u8(certVersion1)
	w.str(tagIntent)
	w.lpStr(in.Action)
	w.le64(uint64(len(in.params)))
	for _, k := range in.sortedKeys() {
		w.lpStr(k)
		w.lpStr(in.params[k])
	}
	return IntentHash(w.sum())
}

// String is the reference display form: action or action[k1=v1,k2=v2].
func (in Intent) String() string {
	if len(in.params) == 0 {
		return in.Action
	}
	var b strings.Builder
	b.WriteString(in.Action)
	b.WriteByte('[')
	for i, k := range in.sortedKeys() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(in.params[k])
	}
	b.WriteByte(']')
	return b.String()
}

// HashIntent is NewIntent(action, params).Hash().
func HashIntent(action string, params map[string]string) (IntentHash, error) {
	in, err := NewIntent(action, params)
	if err != nil {
		return IntentHash{}, err
	}
	return in.Hash(), nil
}

// LegacyIntentHash is the deprecated raw form intent_hash(action,
// params_bytes) (PROTOCOL.md §2.4). It is not interchangeable with Hash.
func LegacyIntentHash(action string, params []byte) IntentHash {
	w := newHW(hIntentLeaf)
	w.u8(certVersion1)
	w.lpStr(action)
	w.lp(params)
	return IntentHash(w.sum())
}

// NormalizeParam trims and lower-cases s exactly like Rust's
// str::trim().to_lowercase(): full Unicode lowercase plus the two rules Go's
// strings.ToLower lacks (U+0130 to "i\u0307", and the Final_Sigma rule).
func NormalizeParam(s string) string {
	return rustLower(strings.TrimSpace(s))
}

func rustLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch r {
		case 'İ': // U+0130: unconditional special casing
			b.WriteString("i\u0307")
		case 'Σ': // U+03A3: Final_Sigma
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma implements the Unicode Final_Sigma condition for the sigma at
// byte offset i: preceded by a cased letter and not followed by one, with
// case-ignorable characters skipped in both directions.
func finalSigma(s string, i int) bool {
	before := false
	for j := i; j > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	for j := i + len("Σ"); j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		j += size
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '^', '`', '\u00b7', '\u0387', '\u055f', '\u05f4', '\u2018', '\u2019', '\u2024',
		'\u2027', '\ufe13', '\ufe52', '\ufe55', '\uff07', '\uff0e', '\uff1a':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
