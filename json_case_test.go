package a1_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/a1-go/a1"
)

// TestMemberNamesEqualButForCase: the protocol decoders refuse a member
// whose name equals another's but for letter case (Unicode simple folding,
// as encoding/json matches names), at every depth and however many members
// the object has: a case-insensitive reader of the same bytes would take a
// different value (the last) than the one these decoders read and verified.
func TestMemberNamesEqualButForCase(t *testing.T) {
	var key [32]byte
	key[0] = 9
	tok, err := json.Marshal(a1.NewVerifiedToken(a1.Receipt{ChainDepth: 1, VerifiedAtUnix: 1_700_000_000}, key))
	if err != nil {
		t.Fatal(err)
	}
	body := string(tok)
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf(`"x%d":0`, i))
	}
	pad := strings.Join(many, ",") + ","
	inner := body[1 : len(body)-1]
	cases := map[string]string{
		"token: Receipt after receipt":     strings.Replace(body, `"mac":`, `"Receipt":{},"mac":`, 1),
		"token: MAC before mac":            strings.Replace(body, `{"receipt":`, `{"MAC":"00","receipt":`, 1),
		"receipt: Chain_Depth":             strings.Replace(body, `"chain_depth":1`, `"chain_depth":1,"Chain_Depth":2`, 1),
		"receipt: Kelvin sign K":           strings.Replace(body, `"chain_depth":1`, `"k":1,"\u212a":2,"chain_depth":1`, 1),
		"receipt: long s":                  strings.Replace(body, `"chain_depth":1`, `"s":1,"\u017f":2,"chain_depth":1`, 1),
		"many members: Kelvin after k":     strings.Replace(body, `"chain_depth":1`, pad+`"k":1,"\u212a":2,"chain_depth":1`, 1),
		"many members: RECEIPT at the end": `{` + pad + inner + `,"RECEIPT":{}}`,
	}
	for name, in := range cases {
		var got a1.VerifiedToken
		err := got.UnmarshalJSON([]byte(in))
		if err == nil || !errors.Is(err, a1.ErrMalformed) || !strings.Contains(err.Error(), "duplicate field") {
			t.Errorf("%s: %v, want a duplicate-field error\n%s", name, err, in)
		}
	}
	// Distinct names, and names that only look alike, still decode.
	for name, in := range map[string]string{
		"untouched":             body,
		"unknown members":       strings.Replace(body, `"chain_depth":1`, `"kk":1,"ks":2,"chain_depth":1`, 1),
		"many distinct members": `{` + pad + body[1:],
		"dotless i is not i":    strings.Replace(body, `"chain_depth":1`, `"i":1,"\u0131":2,"chain_depth":1`, 1),
	} {
		var got a1.VerifiedToken
		if err := got.UnmarshalJSON([]byte(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
