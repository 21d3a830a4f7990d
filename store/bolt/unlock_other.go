//go:build !unix

package bolt

import "os"

// unlock is a no-op where bbolt's lock is released by closing the file.
func unlock(*os.File) {}
