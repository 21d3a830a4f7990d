package gateway

import (
	"runtime"
	"testing"
)

// TestRaiseProcsForDisk: with the embedded store the gateway runs with at
// least two Ps (a commit's fdatasync keeps its P), unless the operator set
// GOMAXPROCS; a larger value is left alone.
func TestRaiseProcsForDisk(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	for _, tc := range []struct {
		name        string
		env         string
		start, want int
		raised      bool
	}{
		{"one P, not set", "", 1, 2, true},
		{"one P, set by the operator", "1", 1, 1, false},
		{"four Ps", "", 4, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("GOMAXPROCS", tc.env)
			}
			runtime.GOMAXPROCS(tc.start)
			if got := raiseProcsForDisk(); got != tc.raised || runtime.GOMAXPROCS(0) != tc.want {
				t.Fatalf("raised %v, GOMAXPROCS %d; want %v, %d", got, runtime.GOMAXPROCS(0), tc.raised, tc.want)
			}
		})
	}
}
