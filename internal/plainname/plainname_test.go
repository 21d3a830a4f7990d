package plainname

import "testing"

func TestCheck(t *testing.T) {
	for s, want := range map[string]rune{
		"acme-trading-bot": -1, "été": -1, "": -1,
		".": 0, "..": 0, " a": 0, "a ": 0, "a/b": 0, `a\b`: 0, "../x": 0,
		"a\nb": '\n', "a\x00": 0x00, "a\u202eb": 0x202e, "a\u2028b": 0x2028, "a\u2029b": 0x2029, "a\u2029": 0, "a\x7f": 0x7f,
	} {
		bad, ok := Check(s)
		if ok != (want == -1) || (!ok && bad != want) {
			t.Errorf("Check(%q) = %U, %v; want %U", s, bad, ok, want)
		}
	}
}
