// Package sweep runs the background sweeper that store/memory, store/bolt,
// store/postgres and store/redis share: a goroutine deleting expired
// nonces on a ticker until the store closes.
package sweep

import (
	"context"
	"time"
)

// Start calls fn every interval on its own goroutine until stop is closed,
// then closes done. With interval <= 0 it starts nothing and closes done at
// once. fn's errors are dropped: the next tick retries, and an operation on
// a failing backend reports the failure itself.
func Start(every time.Duration, stop <-chan struct{}, done chan<- struct{}, fn func(context.Context) (int, error)) {
	if every <= 0 {
		close(done)
		return
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = fn(context.Background())
			}
		}
	}()
}
