// Package plainname decides whether a caller-chosen name (a passport
// namespace) is plain: printable on one line and usable as a file name in
// the current directory, as both the gateway and the CLI need it.
package plainname

import (
	"strings"
	"unicode"
)

// Check reports whether s is plain: not "." or "..", no surrounding
// space, no '/' or '\', and no control, format, line- or
// paragraph-separator character. For a character that is not allowed, bad
// is the first one; for the other reasons it is 0. The empty string is
// plain here: callers bound the length.
func Check(s string) (bad rune, ok bool) {
	if s == "." || s == ".." || strings.TrimSpace(s) != s || strings.ContainsAny(s, `/\`) {
		return 0, false
	}
	for _, c := range s {
		if unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
			return c, false
		}
	}
	return 0, true
}
