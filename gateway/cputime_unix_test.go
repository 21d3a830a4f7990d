//go:build unix

package gateway_test

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user + system) of the whole process so far:
// every goroutine, the garbage collector and background workers.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports "cpu-ns/op", the process CPU time per operation since
// start, beside the wall time: on a shared, noisy machine it is the steadier
// number, and it counts work done off the benchmark goroutine.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
