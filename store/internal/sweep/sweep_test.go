package sweep

import (
	"context"
	"testing"
	"time"
)

func TestStartSweepsUntilStop(t *testing.T) {
	stop, done := make(chan struct{}), make(chan struct{})
	swept := make(chan struct{}, 1)
	Start(time.Millisecond, stop, done, func(context.Context) (int, error) {
		select {
		case swept <- struct{}{}:
		default:
		}
		return 0, nil
	})
	<-swept // it sweeps on its ticker
	close(stop)
	<-done // and stops when asked
}

func TestStartDisabled(t *testing.T) {
	for _, every := range []time.Duration{0, -1} {
		stop, done := make(chan struct{}), make(chan struct{})
		Start(every, stop, done, func(context.Context) (int, error) {
			t.Error("a disabled sweeper swept")
			return 0, nil
		})
		select {
		case <-done:
		default:
			t.Fatalf("interval %v: done not closed at once", every)
		}
	}
}
