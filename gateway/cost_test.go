package gateway

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// unquoteJSON (used for escaped member names by scanJSON and
// checkFieldCase) decodes what encoding/json decodes, and refuses what it
// refuses.
func TestUnquoteJSONMatchesEncodingJSON(t *testing.T) {
	cases := []string{``, `abc`, `a\"b`, `\\`, `\/`, `\b\f\n\r\t`, `\u0041`, `\u00e9`, `\u212a`, `\ud83d\ude00`,
		`\ud83d`, `\ud83dx`, `\ude00\ud83d`, `\ud83d\u0041`, `\u004`, `\x`, `\'`, "a\x01", `\u00zz`, `é`, `\`}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{`a`, `K`, `\\`, `\"`, `\u`, `d83d`, `de00`, `0041`, `\n`, `é`, `\ud800`, `\udfff`, `\u212A`, `\`, `/`}
	for range 5000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		if q := closingQuote(c); q < len(c) {
			continue // the string would end there: not a member name's contents
		}
		var want string
		werr := json.Unmarshal([]byte(`"`+c+`"`), &want)
		got, ok := unquoteJSON([]byte(c))
		if ok != (werr == nil) || (ok && got != want) {
			t.Fatalf("unquoteJSON(%q) = %q, %v; encoding/json: %q, %v", c, got, ok, want, werr)
		}
	}
}

// checkFieldCase walks the body in place: a body of many members is
// checked in one pass, a case variant among them is still found, and
// with several the error is the smallest name's, whatever the order.
func TestCheckFieldCaseManyMembers(t *testing.T) {
	var many strings.Builder
	for i := range 50000 {
		many.WriteString(`"k` + strconv.Itoa(i) + `":0,`)
	}
	typ := reflect.TypeFor[*authorizeRequest]()
	ok := `{` + many.String() + `"intent_name":"x","intent_params":{"A":"b"},"proof":null}`
	if e := checkFieldCase([]byte(ok), typ); e != nil {
		t.Fatalf("exact names: %v", e)
	}
	for _, c := range []struct{ body, want string }{
		{`{` + many.String() + `"INTENT_NAME":"x"}`, `"INTENT_NAME"`},
		{`{` + many.String() + `"intent\u005FNAME":"x"}`, `"intent_NAME"`},
		{`{"return_to\u212aen":true,` + many.String() + `"x":1}`, "\"return_to\u212aen\""},
		{`{"Request_ID":"r",` + many.String() + `"Chain":1}`, `"Chain"`},
		{`{"Chain":1,` + many.String() + `"Request_ID":"r"}`, `"Chain"`},
		{`{"proof":{"AUDIENCE":"x"}}`, ``}, // PoPJSON: decoded by encoding/json into its own struct
	} {
		e := checkFieldCase([]byte(c.body), typ)
		if c.want == "" {
			if e != nil && !strings.Contains(e.Msg, "AUDIENCE") {
				t.Fatalf("%.40q: %v", c.body, e)
			}
			continue
		}
		if e == nil || !strings.Contains(e.Msg, c.want) {
			t.Fatalf("%.60q: want an error naming %s, got %v", c.body, c.want, e)
		}
	}
	// Batch: a case variant inside the 200th intent.
	var items strings.Builder
	for i := range 300 {
		if i > 0 {
			items.WriteByte(',')
		}
		if i == 199 {
			items.WriteString(`{"NAME":"x"}`)
			continue
		}
		items.WriteString(`{"name":"x","k":[1,{"a":"}"}]}`)
	}
	e := checkFieldCase([]byte(`{"intents":[`+items.String()+`]}`), reflect.TypeFor[*batchRequest]())
	if e == nil || !strings.Contains(e.Msg, `"NAME"`) {
		t.Fatalf("batch: %v", e)
	}
}

// closingQuote is the index of the first unescaped '"' in s, or len(s).
func closingQuote(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(s)
}
