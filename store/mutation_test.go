package store_test

// Rejecting tests for checks a mutation review found unguarded: each test
// fails when the check it names is removed or weakened.

import (
	"errors"
	"testing"

	"github.com/a1-go/a1/store"
)

// TestCheckRateBelowMinimum guards the lower bound ratePerSec >=
// MinRatePerSec: a slower rate makes burst × interval overflow int64
// nanoseconds in the GCRA arithmetic (ratePerSec > 0 alone is not enough).
func TestCheckRateBelowMinimum(t *testing.T) {
	for _, rate := range []float64{store.MinRatePerSec / 2, store.MinRatePerSec * 0.999, 1e-9} {
		if err := store.CheckRate("k", rate, store.MaxRateBurst); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CheckRate(rate %v) = %v, want ErrInvalid", rate, err)
		}
	}
}
