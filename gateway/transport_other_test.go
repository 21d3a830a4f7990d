//go:build !unix

package gateway

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
