package gateway

import (
	"os"
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
		{"one P, set empty (ignored by the runtime)", "", 1, 2, true},
		{"one P, set to 0 (ignored by the runtime)", "0", 1, 2, true},
		{"one P, not a number (ignored by the runtime)", "many", 1, 2, true},
		{"four Ps", "", 4, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env) // restored afterwards
			if tc.name == "one P, not set" {
				os.Unsetenv("GOMAXPROCS") // whatever the test process's environment
			}
			runtime.GOMAXPROCS(tc.start)
			if got := raiseProcsForDisk(); got != tc.raised || runtime.GOMAXPROCS(0) != tc.want {
				t.Fatalf("raised %v, GOMAXPROCS %d; want %v, %d", got, runtime.GOMAXPROCS(0), tc.raised, tc.want)
			}
		})
	}
}
