// Command a1 is the a1 command line: offline key, passport and chain tools,
// the verifier, gateway clients, and the gateway itself (`a1 gateway`).
//
// See docs/cli.md for every command, flag and exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/a1-go/a1/gateway"
)

func main() {
	os.Exit(mainExit())
}

func mainExit() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "gateway" {
		return gateway.Main(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	}
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
