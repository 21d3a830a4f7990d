package a1

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader is a small strict JSON reader for the protocol's wire types:
// case-sensitive keys, duplicate keys (also those equal but for letter
// case) rejected, integers without sign, fraction or exponent, bounded
// nesting. It never panics on any input (FuzzDecodeChain) and allocates in
// proportion to its input.
type jsonReader struct {
	b     []byte
	i     int
	depth int
}

var errJSONDepth = errors.New("nesting too deep")

func (r *jsonReader) fail(format string, args ...any) error {
	return fmt.Errorf("%s at offset %d", fmt.Sprintf(format, args...), r.i)
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		if r.i >= len(r.b) {
			return r.fail("unexpected end of input, expected %q", c)
		}
		return r.fail("expected %q, found %q", c, r.b[r.i])
	}
	r.i++
	return nil
}

// end checks that only whitespace remains.
func (r *jsonReader) end() error {
	r.ws()
	if r.i != len(r.b) {
		return r.fail("trailing characters")
	}
	return nil
}

func (r *jsonReader) str() (string, error) {
	if err := r.expect('"'); err != nil {
		return "", err
	}
	start := r.i
	// Fast path: no escapes.
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			s := r.b[start:r.i]
			r.i++
			if !utf8.Valid(s) {
				return "", r.fail("invalid UTF-8 in string")
			}
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", r.fail("control character in string")
		}
		r.i++
	}
	buf := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			if !utf8.Valid(buf) {
				return "", r.fail("invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", r.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			r.i++
			continue
		}
		r.i++
		if r.i >= len(r.b) {
			break
		}
		e := r.b[r.i]
		r.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r1, err := r.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r1) {
				if r.i+6 > len(r.b) || r.b[r.i] != '\\' || r.b[r.i+1] != 'u' {
					return "", r.fail("lone surrogate in string")
				}
				r.i += 2
				r2, err := r.hex4()
				if err != nil {
					return "", err
				}
				r1 = utf16.DecodeRune(r1, r2)
				if r1 == utf8.RuneError {
					return "", r.fail("invalid surrogate pair in string")
				}
			}
			buf = utf8.AppendRune(buf, r1)
		default:
			return "", r.fail("invalid escape")
		}
	}
	return "", r.fail("unterminated string")
}

// key reads an object key. Keys of the wire types come back as constants,
// without allocating; anything else goes through str.
func (r *jsonReader) key() (string, error) {
	if r.peek() == '"' {
		end := r.i + 1
		for end < len(r.b) && r.b[end] != '"' && r.b[end] != '\\' && r.b[end] >= 0x20 {
			end++
		}
		if end < len(r.b) && r.b[end] == '"' {
			if k, ok := knownKey(r.b[r.i+1 : end]); ok {
				r.i = end + 1
				return k, nil
			}
		}
	}
	return r.str()
}

func knownKey(b []byte) (string, bool) {
	switch string(b) {
	case "version":
		return "version", true
	case "principal_pk":
		return "principal_pk", true
	case "principal_scope":
		return "principal_scope", true
	case "certs":
		return "certs", true
	case "delegator_pk":
		return "delegator_pk", true
	case "delegate_pk":
		return "delegate_pk", true
	case "scope_root":
		return "scope_root", true
	case "scope_proof":
		return "scope_proof", true
	case "subset_intents":
		return "subset_intents", true
	case "proofs":
		return "proofs", true
	case "siblings":
		return "siblings", true
	case "hash":
		return "hash", true
	case "is_left":
		return "is_left", true
	case "nonce":
		return "nonce", true
	case "issued_at":
		return "issued_at", true
	case "expiration_unix":
		return "expiration_unix", true
	case "max_depth":
		return "max_depth", true
	case "extensions":
		return "extensions", true
	case "fields":
		return "fields", true
	case "signature":
		return "signature", true
	}
	return "", false
}

func (r *jsonReader) hex4() (rune, error) {
	if r.i+4 > len(r.b) {
		return 0, r.fail("short unicode escape")
	}
	v, err := strconv.ParseUint(string(r.b[r.i:r.i+4]), 16, 16)
	if err != nil {
		return 0, r.fail("invalid unicode escape")
	}
	r.i += 4
	return rune(v), nil
}

// uint reads a plain non-negative integer ≤ max: no sign, fraction,
// exponent or leading zero.
func (r *jsonReader) uint(max uint64) (uint64, error) {
	r.ws()
	start := r.i
	var v uint64
	overflow := false
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c < '0' || c > '9' {
			break
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		v = v*10 + d
		r.i++
	}
	if r.i == start {
		return 0, r.fail("expected a non-negative integer")
	}
	if r.i < len(r.b) {
		switch r.b[r.i] {
		case '.', 'e', 'E':
			return 0, r.fail("expected an integer, found a fraction or exponent")
		}
	}
	if r.i-start > 1 && r.b[start] == '0' {
		return 0, r.fail("leading zero in number")
	}
	if overflow || v > max {
		return 0, r.fail("integer out of range (max %d)", max)
	}
	return v, nil
}

func (r *jsonReader) boolean() (bool, error) {
	r.ws()
	switch {
	case r.hasLit("true"):
		r.i += 4
		return true, nil
	case r.hasLit("false"):
		r.i += 5
		return false, nil
	}
	return false, r.fail("expected a boolean")
}

func (r *jsonReader) hasLit(lit string) bool {
	return len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit
}

// object calls fn for every key; fn must consume the value. Duplicate keys
// are rejected.
func (r *jsonReader) object(fn func(key string) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	if r.depth++; r.depth > MaxJSONDepth {
		return errJSONDepth
	}
	defer func() { r.depth-- }()
	if r.peek() == '}' {
		r.i++
		return nil
	}
	var seen [16]string
	nseen := 0
	var seenMap map[string]struct{}
	for {
		k, err := r.key()
		if err != nil {
			return err
		}
		// Names equal but for letter case are duplicates too: a
		// case-insensitive reader (encoding/json) of the same bytes would
		// take the last of them where this reader takes the one it knows.
		dup := false
		if seenMap != nil {
			fk := foldName(k)
			_, dup = seenMap[fk]
			seenMap[fk] = struct{}{}
		} else {
			for _, s := range seen[:nseen] {
				if strings.EqualFold(s, k) {
					dup = true
				}
			}
			if nseen < len(seen) {
				seen[nseen] = k
				nseen++
			} else {
				seenMap = make(map[string]struct{}, 2*len(seen))
				for _, s := range seen {
					seenMap[foldName(s)] = struct{}{}
				}
				seenMap[foldName(k)] = struct{}{}
			}
		}
		if dup {
			return r.fail("duplicate field `%s` (member names are compared without letter case)", k)
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return r.fail("expected ',' or '}' in object")
		}
	}
}

// array calls fn for every element; fn must consume it.
func (r *jsonReader) array(fn func(i int) error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	if r.depth++; r.depth > MaxJSONDepth {
		return errJSONDepth
	}
	defer func() { r.depth-- }()
	if r.peek() == ']' {
		r.i++
		return nil
	}
	for i := 0; ; i++ {
		if err := fn(i); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return nil
		default:
			return r.fail("expected ',' or ']' in array")
		}
	}
}

// skip consumes any value (unknown fields), within the depth bound.
func (r *jsonReader) skip() error {
	switch c := r.peek(); {
	case c == '{':
		return r.object(func(string) error { return r.skip() })
	case c == '[':
		return r.array(func(int) error { return r.skip() })
	case c == '"':
		_, err := r.str()
		return err
	case c == 't' || c == 'f':
		_, err := r.boolean()
		return err
	case c == 'n':
		if r.hasLit("null") {
			r.i += 4
			return nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := r.i
		for r.i < len(r.b) && (r.b[r.i] == '-' || r.b[r.i] == '+' || r.b[r.i] == '.' ||
			r.b[r.i] == 'e' || r.b[r.i] == 'E' || (r.b[r.i] >= '0' && r.b[r.i] <= '9')) {
			r.i++
		}
		// The JSON grammar, not strconv.ParseFloat, which also takes
		// 01, 1. and -.5; the magnitude of an ignored number is free.
		if !jsonNumber(r.b[start:r.i]) {
			return r.fail("invalid number")
		}
		return nil
	}
	return r.fail("unexpected character")
}

// jsonNumber reports whether b is a JSON number (RFC 8259 §6):
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(b)
}

// fixedBytes reads a byte field of exactly len(dst) bytes, given either as
// the reference's integer array or as a hex string (either case).
func (r *jsonReader) fixedBytes(dst []byte) error {
	switch r.peek() {
	case '[':
		r.i++
		if r.peek() == ']' {
			return r.fail("invalid length 0, expected an array of length %d", len(dst))
		}
		for n := 0; ; n++ {
			v, err := r.uint(255)
			if err != nil {
				return err
			}
			if n >= len(dst) {
				return r.fail("invalid length, expected an array of length %d", len(dst))
			}
			dst[n] = byte(v)
			switch r.peek() {
			case ',':
				r.i++
			case ']':
				r.i++
				if n+1 != len(dst) {
					return r.fail("invalid length %d, expected an array of length %d", n+1, len(dst))
				}
				return nil
			default:
				return r.fail("expected ',' or ']' in array")
			}
		}
	case '"':
		s, err := r.str()
		if err != nil {
			return err
		}
		if len(s) != 2*len(dst) {
			return r.fail("hex string of %d characters, expected %d", len(s), 2*len(dst))
		}
		if _, err := hex.Decode(dst, []byte(s)); err != nil {
			return r.fail("invalid hex")
		}
		return nil
	}
	return r.fail("expected a byte array (integers or hex string) of length %d", len(dst))
}

// jsonWriter appends compact JSON in serde_json's style.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) uint(v uint64) { w.b = strconv.AppendUint(w.b, v, 10) }

func (w *jsonWriter) bytesArr(p []byte) {
	w.b = append(w.b, '[')
	for i, c := range p {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = strconv.AppendUint(w.b, uint64(c), 10)
	}
	w.b = append(w.b, ']')
}

func (w *jsonWriter) hexStr(p []byte) {
	w.b = append(w.b, '"')
	w.b = hex.AppendEncode(w.b, p)
	w.b = append(w.b, '"')
}

// str writes a JSON string escaped like serde_json: only '"', '\\' and
// control characters are escaped; everything else is written as UTF-8.
func (w *jsonWriter) str(s string) {
	const hexdig = "0123456789abcdef"
	w.b = append(w.b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			w.b = append(w.b, '\\', '"')
		case '\\':
			w.b = append(w.b, '\\', '\\')
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		case '\t':
			w.b = append(w.b, '\\', 't')
		case '\b':
			w.b = append(w.b, '\\', 'b')
		case '\f':
			w.b = append(w.b, '\\', 'f')
		default:
			if c < 0x20 {
				w.b = append(w.b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xf])
			} else {
				w.b = append(w.b, c)
			}
		}
	}
	w.b = append(w.b, '"')
}

// foldName maps a member name to one representative of the names
// strings.EqualFold considers equal to it: each rune becomes the smallest
// rune of its simple case-folding orbit.
func foldName(k string) string {
	ascii := true
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii { // an ASCII letter's orbit's smallest rune is its upper case
		return strings.ToUpper(k)
	}
	var b strings.Builder
	b.Grow(len(k))
	for _, c := range k {
		m := c
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
