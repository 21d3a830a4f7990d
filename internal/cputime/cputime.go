// Package cputime measures the CPU time of the whole process, for
// benchmarks that report CPU per operation beside wall time: on a shared,
// noisy machine it is the steadier number, and it counts work done off the
// benchmark goroutine (background workers, the garbage collector).
package cputime

import (
	"testing"
	"time"
)

// Report reports "cpu-ns/op", the process CPU time per operation since
// start (a Process() reading), beside the benchmark's wall time. It reports
// nothing where the CPU time is not available.
func Report(b *testing.B, start time.Duration) {
	if start > 0 {
		b.ReportMetric(float64(Process()-start)/float64(b.N), "cpu-ns/op")
	}
}
