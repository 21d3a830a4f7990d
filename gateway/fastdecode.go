package gateway

import (
	"bytes"

	"github.com/a1-go/a1"
)

// fastAuthorize decodes the common shape of an authorize body without
// encoding/json's reflection: exactly the known member names, plain
// strings (no escapes), intent_params as an object of strings, a proof
// object, return_token as a literal. Anything else (another member, null,
// an escape, merkle_proof, a number where a string is expected, …) makes
// it return false, and the caller decodes with encoding/json, which
// therefore answers every unusual body, errors included. On the inputs it
// accepts the result is what encoding/json gives (TestFastAuthorizeMatches
// and FuzzFastAuthorize compare them).
//
// b is the first top-level value (duplicate keys and nesting were checked
// by scanJSON); [cs, ce) is the span of the top-level chain object, which
// is handed over as is.
func fastAuthorize(b []byte, cs, ce int, req *authorizeRequest) bool {
	d := fastDec{b: b}
	return d.object(func(key []byte) (ok bool) {
		switch string(key) { // no allocation
		case "chain":
			if d.ws(); d.i != cs || ce <= cs {
				return false
			}
			req.Chain = b[cs:ce]
			d.i = ce
			return true
		case "intent_name":
			req.IntentName, ok = d.str()
		case "executor_pk_hex":
			req.ExecutorPKHex, ok = d.str()
		case "request_id":
			req.RequestID, ok = d.str()
		case "return_token":
			req.ReturnToken, ok = d.boolean()
		case "intent_params":
			req.IntentParams, ok = d.params()
		case "proof":
			req.Proof, ok = d.proof()
		}
		return ok
	}) && d.end()
}

// fastDec is a cursor over a JSON value.
type fastDec struct {
	b []byte
	i int
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// lit consumes c after optional white space.
func (d *fastDec) lit(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (d *fastDec) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// object reads an object, calling member after each key and its colon to
// read the value; it fails as soon as member does.
func (d *fastDec) object(member func(key []byte) bool) bool {
	if !d.lit('{') {
		return false
	}
	if d.lit('}') {
		return true
	}
	for {
		key, ok := d.rawStr()
		if !ok || !d.lit(':') || !member(key) {
			return false
		}
		if d.lit('}') {
			return true
		}
		if !d.lit(',') {
			return false
		}
	}
}

// str reads a string without escapes or control characters (the body is
// valid UTF-8, checked before).
func (d *fastDec) str() (string, bool) {
	b, ok := d.rawStr()
	return string(b), ok
}

// rawStr is str without the copy: the bytes between the quotes.
func (d *fastDec) rawStr() ([]byte, bool) {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	n := bytes.IndexByte(d.b[start:], '"')
	if n < 0 {
		return nil, false
	}
	s := d.b[start : start+n]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
	}
	d.i = start + n + 1
	return s, true
}

func (d *fastDec) boolean() (bool, bool) {
	d.ws()
	switch {
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return false, true
	}
	return false, false
}

// uint reads a plain non-negative integer (no sign, fraction, exponent or
// leading zero) that fits a uint64.
func (d *fastDec) uint() (uint64, bool) {
	d.ws()
	start := d.i
	var v uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		if v > (1<<64-1-9)/10 {
			return 0, false // may overflow: let encoding/json judge
		}
		v = v*10 + uint64(d.b[d.i]-'0')
		d.i++
	}
	n := d.i - start
	if n == 0 || (n > 1 && d.b[start] == '0') {
		return 0, false
	}
	if d.i < len(d.b) { // a number must end here
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return v, true
}

func (d *fastDec) params() (map[string]string, bool) {
	m := make(map[string]string)
	ok := d.object(func(key []byte) bool {
		v, ok := d.str()
		m[string(key)] = v
		return ok
	})
	return m, ok
}

func (d *fastDec) proof() (*a1.PoPJSON, bool) {
	p := &a1.PoPJSON{}
	ok := d.object(func(key []byte) (ok bool) {
		switch string(key) {
		case "audience":
			p.Audience, ok = d.str()
		case "nonce_hex":
			p.NonceHex, ok = d.str()
		case "signature_hex":
			p.SignatureHex, ok = d.str()
		case "issued_at":
			p.IssuedAt, ok = d.uint()
		}
		return ok
	})
	return p, ok
}
