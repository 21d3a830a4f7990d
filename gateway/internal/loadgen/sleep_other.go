//go:build !linux

package main

import "time"

// preciseSleeper falls back to time.Sleep off Linux.
type preciseSleeper struct{}

func newPreciseSleeper() preciseSleeper { return preciseSleeper{} }

func (preciseSleeper) sleep(d time.Duration) { time.Sleep(d) }

func (preciseSleeper) done() {}
