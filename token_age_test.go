package a1_test

import (
	"errors"
	"math"
	"testing"

	"github.com/a1-go/a1"
)

// TestTokenCheckAge: the window is now − max age − drift ≤ verified_at ≤
// now + drift, both bounds included; a zero max age accepts any time.
func TestTokenCheckAge(t *testing.T) {
	const now, drift, maxAge = 1_700_000_000, 15, 300
	cases := []struct {
		name           string
		at, max, drift uint64
		want           error
	}{
		{"fresh", now, maxAge, drift, nil},
		{"oldest accepted", now - maxAge - drift, maxAge, drift, nil},
		{"one second too old", now - maxAge - drift - 1, maxAge, drift, a1.ErrTokenExpired},
		{"latest accepted", now + drift, maxAge, drift, nil},
		{"one second too far ahead", now + drift + 1, maxAge, drift, a1.ErrTokenNotYetValid},
		{"no drift: oldest", now - maxAge, maxAge, 0, nil},
		{"no drift: too old", now - maxAge - 1, maxAge, 0, a1.ErrTokenExpired},
		{"no drift: ahead", now + 1, maxAge, 0, a1.ErrTokenNotYetValid},
		{"no maximum: ancient", 0, 0, drift, nil},
		{"no maximum: future", math.MaxUint64, 0, drift, nil},
		{"huge max age saturates", 0, math.MaxUint64, drift, nil},
		{"epoch", 0, maxAge, drift, a1.ErrTokenExpired},
		{"far future", math.MaxUint64, maxAge, drift, a1.ErrTokenNotYetValid},
	}
	for _, c := range cases {
		tok := a1.VerifiedToken{Receipt: a1.Receipt{VerifiedAtUnix: c.at}}
		err := tok.CheckAge(now, c.max, c.drift)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v, want accepted", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		case c.want != nil && a1.ErrorCode(err) != c.want.(*a1.Kind).Code():
			t.Errorf("%s: code %q", c.name, a1.ErrorCode(err))
		}
	}
}
