//go:build unix

package bolt

import (
	"os"
	"syscall"
)

// unlock releases bbolt's flock on f. Closing f alone does not when
// bbolt's memory map of it is still in place (the map holds the open
// file), which is the case after a panic inside bbolt.Open.
func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
