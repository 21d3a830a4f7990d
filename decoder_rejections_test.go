package a1_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/a1-go/a1"
)

// Wire fixtures of the decoder rejection table: hex-form byte fields and a
// cert, chain, receipt and token with holes for the part under test.
var (
	drH16 = `"` + strings.Repeat("ab", 16) + `"`
	drH32 = `"` + strings.Repeat("cd", 32) + `"`
	drH64 = `"` + strings.Repeat("ef", 64) + `"`
	// drArr32 is the reference form of 32 bytes 0..31.
	drArr32 = func() string {
		var b strings.Builder
		b.WriteByte('[')
		for i := range 32 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, i)
		}
		b.WriteByte(']')
		return b.String()
	}()
)

// drCertFields are the members of a valid cert, in reference order.
func drCertFields() [][2]string {
	return [][2]string{
		{"version", "1"},
		{"delegator_pk", drH32},
		{"delegate_pk", drH32},
		{"scope_root", drH32},
		{"scope_proof", `{"subset_intents":[],"proofs":[]}`},
		{"nonce", drH16},
		{"issued_at", "1"},
		{"expiration_unix", "2"},
		{"max_depth", "3"},
		{"extensions", `{"fields":{}}`},
		{"signature", drH64},
	}
}

// drObj writes an object of fields, with value replacements (a value ""
// drops the member) and raw extra members appended.
func drObj(fields [][2]string, set map[string]string, extra string) string {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, f := range fields {
		v := f[1]
		if r, ok := set[f[0]]; ok {
			v = r
		}
		if v == "" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, "%q:%s", f[0], v)
	}
	if extra != "" {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extra)
	}
	b.WriteByte('}')
	return b.String()
}

// drCert is a valid cert with members replaced.
func drCert(set map[string]string, extra string) string {
	return drObj(drCertFields(), set, extra)
}

// drExt is a cert whose extensions hold k: value (raw JSON).
func drExt(value string) string {
	return drCert(map[string]string{"extensions": `{"fields":{"k":` + value + `}}`}, "")
}

// drChain is a chain of certs (raw JSON array elements) with members
// replaced.
func drChain(certs string, set map[string]string, extra string) string {
	return drObj([][2]string{
		{"version", "1"},
		{"principal_pk", drH32},
		{"principal_scope", drH32},
		{"certs", "[" + certs + "]"},
	}, set, extra)
}

func drReceipt(set map[string]string, extra string) string {
	return drObj([][2]string{
		{"chain_depth", "1"},
		{"verified_scope_root", drH32},
		{"intent", drArr32},
		{"verified_at_unix", "1700000000"},
		{"chain_fingerprint", drH32},
	}, set, extra)
}

// drToken is a token around a receipt with members replaced.
func drToken(receipt string, set map[string]string, extra string) string {
	return drObj([][2]string{{"receipt", receipt}, {"mac", drH32}}, set, extra)
}

// drNest is n nested arrays.
func drNest(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// TestDecoderRejections: every rejection branch of the strict JSON reader
// and the wire decoders fails with an error wrapping ErrMalformed (never a
// panic, never acceptance), and the valid neighbours of those inputs decode
// to the expected values. Cert rows are decoded alone and inside a chain;
// chain rows through DecodeSignedChain and SignedChain.UnmarshalJSON.
func TestDecoderRejections(t *testing.T) {
	type decoded struct {
		chain   *a1.SignedChain
		cert    *a1.Cert
		receipt *a1.Receipt
		token   *a1.VerifiedToken
		proof   *a1.MerkleProof
	}
	extStr := func(want string) func(d decoded) error {
		return func(d decoded) error {
			v, ok := d.cert.Extensions.Get("k")
			if !ok || v.Kind != a1.ExtStr || v.Str != want {
				return fmt.Errorf("extension k = %+v, want string %q", v, want)
			}
			// The encoder's escaping reads back to the same string.
			b, err := d.cert.MarshalJSON()
			if err != nil {
				return err
			}
			var again a1.Cert
			if err := again.UnmarshalJSON(b); err != nil {
				return fmt.Errorf("re-encoded cert does not decode: %v: %s", err, b)
			}
			if v, _ := again.Extensions.Get("k"); v.Str != want {
				return fmt.Errorf("re-encoded extension k = %q, want %q", v.Str, want)
			}
			return nil
		}
	}
	type row struct {
		name  string
		kind  string // chain, cert, receipt, token, proof
		input string
		ok    bool
		check func(decoded) error
	}
	rej := func(kind, name, input string) row { return row{name: name, kind: kind, input: input} }
	acc := func(kind, name, input string, check func(decoded) error) row {
		return row{name: name, kind: kind, input: input, ok: true, check: check}
	}
	validCert := drCert(nil, "")
	validReceipt := drReceipt(nil, "")

	rows := []row{
		// String escapes (extension values go through the string reader
		// and are kept, so a valid escape's result is checked).
		rej("cert", `escape \x`, drExt(`"a\x41"`)),
		rej("cert", `escape \'`, drExt(`"a\'"`)),
		rej("cert", `escape \U`, drExt(`"\U0041"`)),
		rej("cert", `escape \u short at end of input`, `{"extensions":{"fields":{"k":"\u12`),
		rej("cert", `escape \u12 then quote`, drExt(`"\u12"`)),
		rej("cert", `escape \u12G4`, drExt(`"\u12G4"`)),
		rej("cert", `escape \u with sign`, drExt(`"\u+041"`)),
		rej("cert", `backslash at end of input`, `{"extensions":{"fields":{"k":"a\`),
		rej("cert", "unterminated string", `{"extensions":{"fields":{"k":"abc`),
		rej("cert", "unterminated string after escape", `{"extensions":{"fields":{"k":"a\nbc`),
		rej("cert", `lone high surrogate`, drExt(`"\ud800"`)),
		rej("cert", `lone high surrogate then text`, drExt(`"\ud800abcdef"`)),
		rej("cert", `lone low surrogate`, drExt(`"\udc00"`)),
		rej("cert", `reversed surrogate pair`, drExt(`"\udc00\ud800"`)),
		rej("cert", `high surrogate twice`, drExt(`"\ud800\ud800"`)),
		rej("cert", `high surrogate then BMP escape`, drExt(`"\ud800\u0041"`)),
		rej("cert", `high surrogate then other escape`, drExt(`"\ud800\n1234"`)),
		rej("cert", `high surrogate then bad hex`, drExt(`"\ud800\uZZZZ"`)),
		rej("cert", `high surrogate at end of input`, `{"extensions":{"fields":{"k":"\ud800\u`),
		acc("cert", `escape \u00e9`, drExt(`"caf\u00e9"`), extStr("café")),
		acc("cert", `surrogate pair`, drExt(`"\ud83d\ude00"`), extStr("😀")),
		acc("cert", `surrogate pair upper case`, drExt(`"\uD83D\uDE00!"`), extStr("😀!")),
		acc("cert", `highest code point`, drExt(`"\udbff\udfff"`), extStr("\U0010ffff")),
		acc("cert", `short escapes`, drExt(`"\"\\\/\b\f\n\r\t"`), extStr("\"\\/\b\f\n\r\t")),
		acc("cert", `escaped NUL and U+FFFD`, drExt(`"\u0000\ufffd"`), extStr("\x00\ufffd")),
		acc("cert", "every control character escaped", drExt(`"`+func() string {
			var b strings.Builder
			for c := range 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
			return b.String()
		}()+`"`), extStr(func() string {
			var b strings.Builder
			for c := range 0x20 {
				b.WriteByte(byte(c))
			}
			return b.String()
		}())),
		rej("chain", "byte field string with bad escape", drChain(validCert, map[string]string{"principal_pk": `"\x"`}, "")),
		acc("cert", "raw UTF-8 and DEL", drExt("\"é\x7f😀\""), extStr("é\x7f😀")),

		// Raw control characters and invalid UTF-8, before and after an
		// escape (the reader's fast and slow paths), in values and keys.
		rej("cert", "raw control character", drExt("\"a\x01b\"")),
		rej("cert", "raw newline", drExt("\"a\nb\"")),
		rej("cert", "raw tab after escape", drExt("\"\\n\tb\"")),
		rej("cert", "invalid UTF-8", drExt("\"a\xffb\"")),
		rej("cert", "invalid UTF-8 after escape", drExt("\"\\n\xff\"")),
		rej("cert", "overlong UTF-8", drExt("\"\xc0\xaf\"")),
		rej("cert", "UTF-8 encoded surrogate", drExt("\"\xed\xa0\x80\"")),
		rej("cert", "truncated UTF-8", drExt("\"\xe2\x82\"")),
		rej("chain", "invalid UTF-8 in unknown key", drChain(validCert, nil, "\"\xff\":1")),
		rej("chain", "control character in unknown key", drChain(validCert, nil, "\"a\x01\":1")),
		rej("chain", "invalid UTF-8 in unknown value", drChain(validCert, nil, "\"x\":\"\xff\"")),
		rej("token", "invalid UTF-8 in namespace", drToken(drReceipt(nil, "\"namespace\":\"\xff\""), nil, "")),
		rej("token", "control character in mac", drToken(validReceipt, map[string]string{"mac": "\"\x01\""}, "")),
		acc("chain", "escaped known key", strings.Replace(drChain(validCert, nil, ""), `{"version":`, `{"vers\u0069on":`, 1),
			func(d decoded) error {
				if d.chain.Version != 1 || len(d.chain.Certs) != 1 {
					return fmt.Errorf("chain %+v", d.chain)
				}
				return nil
			}),

		// Integers: sign, fraction, exponent, leading zero, overflow, and
		// the bounds that are accepted.
		rej("cert", "negative integer", drCert(map[string]string{"issued_at": "-1"}, "")),
		rej("cert", "plus sign", drCert(map[string]string{"issued_at": "+1"}, "")),
		rej("cert", "negative zero", drCert(map[string]string{"issued_at": "-0"}, "")),
		rej("cert", "fraction", drCert(map[string]string{"issued_at": "1.0"}, "")),
		rej("cert", "exponent", drCert(map[string]string{"issued_at": "1e3"}, "")),
		rej("cert", "upper-case exponent", drCert(map[string]string{"expiration_unix": "1E3"}, "")),
		rej("cert", "leading zero", drCert(map[string]string{"issued_at": "01"}, "")),
		rej("cert", "double zero", drCert(map[string]string{"issued_at": "00"}, "")),
		rej("cert", "u64 overflow", drCert(map[string]string{"issued_at": "18446744073709551616"}, "")),
		rej("cert", "u64 overflow, long", drCert(map[string]string{"issued_at": "99999999999999999999999"}, "")),
		rej("cert", "version above u8", drCert(map[string]string{"version": "256"}, "")),
		rej("cert", "max_depth above u8", drCert(map[string]string{"max_depth": "300"}, "")),
		rej("cert", "integer as string", drCert(map[string]string{"issued_at": `"1"`}, "")),
		rej("cert", "integer as hex", drCert(map[string]string{"issued_at": "0x1"}, "")),
		rej("cert", "integer missing", drCert(map[string]string{"issued_at": "}"}, "")),
		rej("cert", "byte above 255", drCert(map[string]string{"nonce": "[256,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]"}, "")),
		rej("cert", "byte negative", drCert(map[string]string{"nonce": "[-1,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]"}, "")),
		rej("cert", "byte fraction", drCert(map[string]string{"nonce": "[1.5,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]"}, "")),
		rej("cert", "byte leading zero", drCert(map[string]string{"nonce": "[01,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]"}, "")),
		rej("cert", "extension integer with exponent", drExt("1e2")),
		rej("cert", "extension integer negative", drExt("-1")),
		rej("cert", "extension integer overflow", drExt("18446744073709551616")),
		rej("receipt", "chain_depth fraction", drReceipt(map[string]string{"chain_depth": "1.5"}, "")),
		rej("receipt", "verified_at_unix negative", drReceipt(map[string]string{"verified_at_unix": "-1700000000"}, "")),
		acc("cert", "integer bounds", drCert(map[string]string{"issued_at": "0", "expiration_unix": "18446744073709551615", "max_depth": "255"}, ""),
			func(d decoded) error {
				if d.cert.IssuedAt != 0 || d.cert.ExpirationUnix != ^uint64(0) || d.cert.MaxDepth != 255 {
					return fmt.Errorf("integers %d %d %d", d.cert.IssuedAt, d.cert.ExpirationUnix, d.cert.MaxDepth)
				}
				return nil
			}),
		acc("cert", "extension integer max", drExt("18446744073709551615"), func(d decoded) error {
			if v, _ := d.cert.Extensions.Get("k"); v.Kind != a1.ExtU64 || v.U64 != ^uint64(0) {
				return fmt.Errorf("extension %+v", v)
			}
			return nil
		}),

		// Numbers in ignored (unknown) members follow the JSON grammar.
		rej("chain", "unknown number leading zero", drChain(validCert, nil, `"x":01`)),
		rej("chain", "unknown number negative leading zero", drChain(validCert, nil, `"x":-01`)),
		rej("chain", "unknown number trailing dot", drChain(validCert, nil, `"x":1.`)),
		rej("chain", "unknown number dot exponent", drChain(validCert, nil, `"x":1.e5`)),
		rej("chain", "unknown number bare minus", drChain(validCert, nil, `"x":-`)),
		rej("chain", "unknown number minus dot", drChain(validCert, nil, `"x":-.5`)),
		rej("chain", "unknown number empty exponent", drChain(validCert, nil, `"x":1e`)),
		rej("chain", "unknown number signed empty exponent", drChain(validCert, nil, `"x":1e+`)),
		rej("chain", "unknown number double minus", drChain(validCert, nil, `"x":--1`)),
		rej("chain", "unknown number plus inside", drChain(validCert, nil, `"x":1+2`)),
		rej("chain", "unknown number leading plus", drChain(validCert, nil, `"x":+1`)),
		rej("chain", "unknown number leading dot", drChain(validCert, nil, `"x":.5`)),
		rej("chain", "unknown number hex", drChain(validCert, nil, `"x":0x10`)),
		rej("token", "unknown number in token", drToken(validReceipt, nil, `"x":00`)),
		rej("receipt", "unknown number in receipt", drReceipt(nil, `"x":1.e1`)),
		acc("chain", "unknown numbers valid", drChain(validCert, nil, `"a":-0,"b":0.5,"c":-1.25e-3,"d":1E+2,"e":1e400,"f":123456789012345678901234567890,"g":0e0`), nil),
		rej("chain", "unknown literal misspelt", drChain(validCert, nil, `"x":nul`)),
		rej("chain", "unknown literal upper case", drChain(validCert, nil, `"x":True`)),
		rej("chain", "unknown value missing", drChain(validCert, nil, `"x":}`)),
		acc("chain", "unknown values of every type", drChain(validCert, nil, `"a":null,"b":true,"c":false,"d":{"e":[1,"f",{}]},"g":[]`), nil),

		// Nesting beyond MaxJSONDepth, in ignored and in known members.
		rej("chain", "unknown array too deep", drChain(validCert, nil, `"x":`+drNest(a1.MaxJSONDepth))),
		acc("chain", "unknown array at depth limit", drChain(validCert, nil, `"x":`+drNest(a1.MaxJSONDepth-1)), nil),
		rej("chain", "unknown object too deep", drChain(validCert, nil, `"x":`+strings.Repeat(`{"a":`, a1.MaxJSONDepth)+"1"+strings.Repeat("}", a1.MaxJSONDepth))),
		rej("token", "token unknown member too deep", drToken(validReceipt, nil, `"x":`+drNest(a1.MaxJSONDepth))),
		rej("proof", "proof unknown member too deep", `{"siblings":[],"x":`+drNest(a1.MaxJSONDepth)+`}`),
		rej("chain", "unknown member deep and unterminated", drChain(validCert, nil, `"x":`+strings.Repeat("[", 100000))),

		// Structure and trailing data.
		rej("chain", "empty input", ""),
		rej("chain", "whitespace only", " \n"),
		rej("chain", "not an object", "[]"),
		rej("chain", "null chain", "null"),
		rej("chain", "trailing garbage", drChain(validCert, nil, "")+"x"),
		rej("chain", "second value", drChain(validCert, nil, "")+"{}"),
		rej("chain", "trailing NUL", drChain(validCert, nil, "")+"\x00"),
		rej("chain", "trailing comma in object", strings.TrimSuffix(drChain(validCert, nil, ""), "}")+",}"),
		rej("chain", "trailing comma in certs", drChain(validCert+",", nil, "")),
		rej("chain", "missing colon", `{"version" 1}`),
		rej("chain", "missing comma", strings.Replace(drChain(validCert, nil, ""), `,"principal_pk"`, ` "principal_pk"`, 1)),
		rej("chain", "unquoted key", `{version:1}`),
		rej("chain", "single-quoted key", `{'version':1}`),
		rej("chain", "duplicate member", drChain(validCert, nil, `"version":1`)),
		rej("chain", "duplicate member but for case", drChain(validCert, nil, `"Version":1`)),
		rej("chain", "duplicate member, escaped", drChain(validCert, nil, `"vers\u0069on":1`)),
		rej("chain", "duplicate unknown member after many", drChain(validCert, nil, func() string {
			var b strings.Builder
			for i := range 20 {
				fmt.Fprintf(&b, `"u%d":0,`, i)
			}
			return b.String() + `"U3":0`
		}())),
		rej("cert", "duplicate extension key but for case", drCert(map[string]string{"extensions": `{"fields":{"k":"a","K":"b"}}`}, "")),
		rej("chain", "certs unterminated", `{"version":1,"certs":[`+validCert),
		rej("chain", "certs separator", `{"version":1,"certs":[`+validCert+`;]}`),
		rej("chain", "too large", drChain(validCert, nil, "")+strings.Repeat(" ", a1.MaxChainJSONBytes)),
		rej("token", "token too large", drToken(validReceipt, nil, "")+strings.Repeat(" ", a1.MaxChainJSONBytes)),
		rej("proof", "proof too large", `{"siblings":[]}`+strings.Repeat(" ", a1.MaxChainJSONBytes)),
		acc("token", "surrounding whitespace", " \t\r\n"+drToken(validReceipt, nil, "")+" \t\r\n", nil),

		// Missing required members.
		rej("chain", "chain missing version", drChain(validCert, map[string]string{"version": ""}, "")),
		rej("chain", "chain missing principal_pk", drChain(validCert, map[string]string{"principal_pk": ""}, "")),
		rej("chain", "chain missing principal_scope", drChain(validCert, map[string]string{"principal_scope": ""}, "")),
		rej("chain", "chain missing certs", drChain(validCert, map[string]string{"certs": ""}, "")),
		rej("chain", "empty object", "{}"),
		rej("receipt", "receipt missing chain_depth", drReceipt(map[string]string{"chain_depth": ""}, "")),
		rej("receipt", "receipt missing verified_scope_root", drReceipt(map[string]string{"verified_scope_root": ""}, "")),
		rej("receipt", "receipt missing intent", drReceipt(map[string]string{"intent": ""}, "")),
		rej("receipt", "receipt missing verified_at_unix", drReceipt(map[string]string{"verified_at_unix": ""}, "")),
		rej("receipt", "receipt missing chain_fingerprint", drReceipt(map[string]string{"chain_fingerprint": ""}, "")),
		rej("receipt", "receipt trailing data", validReceipt+"{}"),
		rej("token", "token missing receipt", drToken(validReceipt, map[string]string{"receipt": ""}, "")),
		rej("token", "token missing mac", drToken(validReceipt, map[string]string{"mac": ""}, "")),
		rej("token", "token receipt missing a field", drToken(drReceipt(map[string]string{"intent": ""}, ""), nil, "")),
		rej("token", "token trailing data", drToken(validReceipt, nil, "")+"]"),
		rej("token", "token empty object", "{}"),
		rej("proof", "proof missing siblings", `{}`),
		rej("proof", "proof sibling missing hash", `{"siblings":[{"is_left":true}]}`),
		rej("proof", "proof sibling missing is_left", `{"siblings":[{"hash":`+drH32+`}]}`),
		rej("proof", "proof trailing data", `{"siblings":[]}x`),
		rej("cert", "subset intents missing", drCert(map[string]string{"scope_proof": `{"proofs":[]}`}, "")),
		rej("cert", "proofs missing", drCert(map[string]string{"scope_proof": `{"subset_intents":[]}`}, "")),
		rej("cert", "too many subset intents", drCert(map[string]string{"scope_proof": `{"subset_intents":[` + strings.Repeat(drH32+",", a1.MaxSubsetIntents) + drH32 + `],"proofs":[]}`}, "")),
		rej("cert", "too many scope proofs", drCert(map[string]string{"scope_proof": `{"subset_intents":[],"proofs":[` + strings.Repeat(`{"siblings":[]},`, a1.MaxSubsetIntents) + `{"siblings":[]}]}`}, "")),
		rej("cert", "scope proof malformed", drCert(map[string]string{"scope_proof": `{"subset_intents":[],"proofs":[{"siblings":[{}]}]}`}, "")),
		rej("cert", "extension list too long", drExt(`[`+strings.Repeat(`"a",`, a1.MaxExtensionListLen)+`"a"]`)),
		rej("cert", "extension list with bad string", drExt(`["\x"]`)),
		acc("cert", "extension list at limit", drExt(`[`+strings.Repeat(`"a",`, a1.MaxExtensionListLen-1)+`"a"]`), func(d decoded) error {
			if v, _ := d.cert.Extensions.Get("k"); v.Kind != a1.ExtStrings || len(v.Strings) != a1.MaxExtensionListLen {
				return fmt.Errorf("extension %v", v.Kind)
			}
			return nil
		}),
		acc("cert", "scope proof unknown member", drCert(map[string]string{"scope_proof": `{"subset_intents":[` + drH32 + `],"x":[{}],"proofs":[{"siblings":[]}]}`}, ""), func(d decoded) error {
			if p := d.cert.ScopeProof; len(p.SubsetIntents) != 1 || len(p.Proofs) != 1 {
				return fmt.Errorf("scope proof %+v", p)
			}
			return nil
		}),
		rej("cert", "extensions member unknown", drCert(map[string]string{"extensions": `{"field":{}}`}, "")),
		rej("cert", "cert trailing data", validCert+"1"),
		acc("cert", "cert extensions absent and empty", drCert(map[string]string{"extensions": ""}, ""), func(d decoded) error {
			if d.cert.Extensions.Len() != 0 {
				return fmt.Errorf("extensions %v", d.cert.Extensions.Keys())
			}
			return nil
		}),
		acc("cert", "cert hex-form empty extensions", drCert(map[string]string{"extensions": `{}`}, ""), nil),
	}
	for _, f := range drCertFields() {
		if f[0] == "extensions" { // optional
			continue
		}
		rows = append(rows, rej("cert", "cert missing "+f[0], drCert(map[string]string{f[0]: ""}, "")))
	}
	rows = append(rows,
		// Byte fields: wrong length, not hex, empty.
		rej("chain", "principal_pk short hex", drChain(validCert, map[string]string{"principal_pk": `"` + strings.Repeat("ab", 31) + `"`}, "")),
		rej("chain", "principal_pk long hex", drChain(validCert, map[string]string{"principal_pk": `"` + strings.Repeat("ab", 33) + `"`}, "")),
		rej("chain", "principal_pk odd hex", drChain(validCert, map[string]string{"principal_pk": `"` + strings.Repeat("ab", 31) + `a"`}, "")),
		rej("chain", "principal_pk not hex", drChain(validCert, map[string]string{"principal_pk": `"` + strings.Repeat("zz", 32) + `"`}, "")),
		rej("chain", "principal_pk 0x prefix", drChain(validCert, map[string]string{"principal_pk": `"0x` + strings.Repeat("ab", 31) + `"`}, "")),
		rej("chain", "principal_scope empty string", drChain(validCert, map[string]string{"principal_scope": `""`}, "")),
		rej("chain", "principal_scope array short", drChain(validCert, map[string]string{"principal_scope": strings.Replace(drArr32, ",31]", "]", 1)}, "")),
		rej("chain", "principal_scope array long", drChain(validCert, map[string]string{"principal_scope": strings.Replace(drArr32, "]", ",32]", 1)}, "")),
		rej("chain", "principal_scope array empty", drChain(validCert, map[string]string{"principal_scope": "[]"}, "")),
		rej("chain", "principal_scope array unterminated", `{"principal_scope":[1,2`),
		rej("chain", "principal_scope array of strings", drChain(validCert, map[string]string{"principal_scope": `["ab"]`}, "")),
		rej("chain", "principal_scope object", drChain(validCert, map[string]string{"principal_scope": `{}`}, "")),
		rej("cert", "signature short", drCert(map[string]string{"signature": drH32}, "")),
		rej("cert", "nonce long", drCert(map[string]string{"nonce": drH32}, "")),
		rej("cert", "delegate_pk hex with escape making it long", drCert(map[string]string{"delegate_pk": `"` + strings.Repeat("ab", 32) + `\u0030"`}, "")),
		rej("cert", "subset intent short", drCert(map[string]string{"scope_proof": `{"subset_intents":[` + drH16 + `],"proofs":[]}`}, "")),
		rej("proof", "sibling hash short", `{"siblings":[{"hash":`+drH16+`,"is_left":true}]}`),
		rej("receipt", "receipt intent short", drReceipt(map[string]string{"intent": drH16}, "")),
		rej("receipt", "receipt fingerprint long", drReceipt(map[string]string{"chain_fingerprint": drH64}, "")),
		rej("token", "mac short", drToken(validReceipt, map[string]string{"mac": drH16}, "")),
		rej("token", "mac long", drToken(validReceipt, map[string]string{"mac": drH64}, "")),
		rej("token", "mac odd", drToken(validReceipt, map[string]string{"mac": `"` + strings.Repeat("a", 63) + `"`}, "")),
		rej("token", "mac not hex", drToken(validReceipt, map[string]string{"mac": `"` + strings.Repeat("g", 64) + `"`}, "")),
		rej("token", "mac as array", drToken(validReceipt, map[string]string{"mac": drArr32}, "")),
		acc("chain", "byte fields in either case and form", drChain(drCert(map[string]string{"delegator_pk": strings.ToUpper(drH32), "delegate_pk": drArr32}, ""), map[string]string{"principal_scope": drArr32, "principal_pk": `"` + strings.Repeat("C", 1) + strings.Repeat("d", 63) + `"`}, ""),
			func(d decoded) error {
				if d.chain.PrincipalScope[31] != 31 || d.chain.PrincipalPK[0] != 0xcd || d.chain.Certs[0].DelegatePK[5] != 5 || d.chain.Certs[0].DelegatorPK[0] != 0xcd {
					return fmt.Errorf("bytes decoded wrong: %x", d.chain.PrincipalScope)
				}
				return nil
			}),
		acc("token", "mac upper case", drToken(validReceipt, map[string]string{"mac": strings.ToUpper(drH32)}, ""), func(d decoded) error {
			if d.token.MAC[0] != 0xcd || d.token.Receipt.Intent[31] != 31 || d.token.Receipt.VerifiedAtUnix != 1700000000 {
				return fmt.Errorf("token %+v", d.token)
			}
			return nil
		}),

		// null where a value is required (namespace alone may be null).
		rej("chain", "version null", drChain(validCert, map[string]string{"version": "null"}, "")),
		rej("chain", "principal_pk null", drChain(validCert, map[string]string{"principal_pk": "null"}, "")),
		rej("chain", "certs null", drChain(validCert, map[string]string{"certs": "null"}, "")),
		rej("chain", "cert null", drChain("null", nil, "")),
		rej("cert", "scope_proof null", drCert(map[string]string{"scope_proof": "null"}, "")),
		rej("cert", "extensions null", drCert(map[string]string{"extensions": "null"}, "")),
		rej("cert", "extension fields null", drCert(map[string]string{"extensions": `{"fields":null}`}, "")),
		rej("cert", "extension value null", drExt("null")),
		rej("cert", "extension value boolean", drExt("true")),
		rej("cert", "extension list of integers", drExt("[1]")),
		rej("cert", "extension list with null", drExt(`["a",null]`)),
		rej("cert", "subset intent null", drCert(map[string]string{"scope_proof": `{"subset_intents":[null],"proofs":[]}`}, "")),
		rej("proof", "is_left null", `{"siblings":[{"hash":`+drH32+`,"is_left":null}]}`),
		rej("proof", "is_left as integer", `{"siblings":[{"hash":`+drH32+`,"is_left":1}]}`),
		rej("proof", "siblings null", `{"siblings":null}`),
		rej("proof", "sibling null", `{"siblings":[null]}`),
		rej("receipt", "chain_depth null", drReceipt(map[string]string{"chain_depth": "null"}, "")),
		rej("receipt", "intent null", drReceipt(map[string]string{"intent": "null"}, "")),
		rej("token", "mac null", drToken(validReceipt, map[string]string{"mac": "null"}, "")),
		rej("token", "receipt null", drToken("null", nil, "")),
		rej("token", "namespace number", drToken(drReceipt(nil, `"namespace":1`), nil, "")),
		acc("token", "namespace null", drToken(drReceipt(nil, `"namespace":null`), nil, ""), func(d decoded) error {
			if d.token.Receipt.Namespace != "" {
				return fmt.Errorf("namespace %q", d.token.Receipt.Namespace)
			}
			return nil
		}),
		acc("receipt", "namespace escaped", drReceipt(nil, `"namespace":"acme\u002fpay\ud83d\ude00"`), func(d decoded) error {
			if d.receipt.Namespace != "acme/pay😀" || d.receipt.ChainDepth != 1 || d.receipt.Intent[1] != 1 {
				return fmt.Errorf("receipt %+v", d.receipt)
			}
			return nil
		}),
		acc("proof", "proof valid", `{"siblings":[{"hash":`+drH32+`,"is_left":true,"x":null},{"is_left":false,"hash":`+drArr32+`}],"y":[1]}`, func(d decoded) error {
			if p := d.proof; len(p.Siblings) != 2 || !p.Siblings[0].IsLeft || p.Siblings[1].IsLeft || p.Siblings[1].Hash[31] != 31 {
				return fmt.Errorf("proof %+v", p)
			}
			return nil
		}),
	)

	decode := func(kind, in string) (decoded, error) {
		var d decoded
		b := []byte(in)
		switch kind {
		case "chain":
			sc, err := a1.DecodeSignedChain(b)
			var sc2 a1.SignedChain
			err2 := sc2.UnmarshalJSON(b)
			if (err == nil) != (err2 == nil) {
				return d, fmt.Errorf("DecodeSignedChain (%v) and SignedChain.UnmarshalJSON (%v) disagree", err, err2)
			}
			d.chain = sc
			return d, err
		case "cert":
			var c a1.Cert
			err := c.UnmarshalJSON(b)
			// The same cert inside a chain must have the same fate.
			sc, cerr := a1.DecodeSignedChain([]byte(drChain(in, nil, "")))
			if (err == nil) != (cerr == nil) {
				return d, fmt.Errorf("Cert.UnmarshalJSON (%v) and in a chain (%v) disagree", err, cerr)
			}
			if err == nil {
				d.cert = &c
				d.chain = sc
			}
			return d, err
		case "receipt":
			var r a1.Receipt
			err := r.UnmarshalJSON(b)
			d.receipt = &r
			return d, err
		case "token":
			var tk a1.VerifiedToken
			err := tk.UnmarshalJSON(b)
			d.token = &tk
			return d, err
		case "proof":
			var p a1.MerkleProof
			err := p.UnmarshalJSON(b)
			d.proof = &p
			return d, err
		}
		panic("unknown kind " + kind)
	}

	names := map[string]bool{}
	for _, r := range rows {
		if names[r.kind+"/"+r.name] {
			t.Fatalf("duplicate row %s/%s", r.kind, r.name)
		}
		names[r.kind+"/"+r.name] = true
		t.Run(r.kind+"/"+r.name, func(t *testing.T) {
			d, err := decode(r.kind, r.input)
			if r.ok {
				if err != nil {
					t.Fatalf("rejected a valid input: %v\ninput: %.300q", err, r.input)
				}
				if r.check != nil {
					if err := r.check(d); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want ErrMalformed\ninput: %.300q", r.input)
			}
			if !errors.Is(err, a1.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v (%T)", err, err)
			}
			if a1.ErrorCode(err) != "MALFORMED_REQUEST" {
				t.Errorf("ErrorCode %q", a1.ErrorCode(err))
			}
		})
	}
}
