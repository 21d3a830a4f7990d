package main

import (
	"runtime"
	"syscall"
	"time"
)

// preciseSleeper sleeps in nanosleep(2) on a thread of its own: Go's timers
// wake an idle process through epoll_wait, whose timeout is in whole
// milliseconds, so a sub-millisecond time.Sleep can last a millisecond and
// the open-loop schedule would be sent in bursts.
type preciseSleeper struct{}

func newPreciseSleeper() preciseSleeper {
	runtime.LockOSThread() // the dispatcher goroutine keeps this thread
	return preciseSleeper{}
}

func (preciseSleeper) sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var left syscall.Timespec
		err := syscall.Nanosleep(&ts, &left)
		if err != syscall.EINTR {
			return
		}
		ts = left
	}
}

func (preciseSleeper) done() { runtime.UnlockOSThread() }
