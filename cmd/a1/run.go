package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the operation failed or the answer is "no" (denied, invalid)
	exitUsage = 2 // bad flags, arguments or input files
)

// env is what a command may touch: its streams, the environment and the clock.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	now    func() time.Time
}

// command is one leaf of the command tree.
type command struct {
	name  string // full name, e.g. "passport issue"
	usage string // synopsis and flags
	run   func(e *env, args []string) error
}

// commands is the explicit command table (noun verb).
var commands []*command

func register(c *command) { commands = append(commands, c) }

func findCommand(args []string) (*command, []string) {
	if len(args) >= 2 {
		two := args[0] + " " + args[1]
		for _, c := range commands {
			if c.name == two {
				return c, args[2:]
			}
		}
	}
	if len(args) >= 1 {
		for _, c := range commands {
			if c.name == args[0] {
				return c, args[1:]
			}
		}
	}
	return nil, nil
}

// nouns returns the subcommands of a noun ("passport" → issue, inspect…).
func nouns(noun string) []string {
	var out []string
	for _, c := range commands {
		if n, v, ok := strings.Cut(c.name, " "); ok && n == noun {
			out = append(out, v)
		}
	}
	return out
}

const mainUsage = `Usage: a1 COMMAND [FLAGS] [ARGS]

Keys and intents (offline):
  a1 keygen [--out FILE]                       new Ed25519 key (hex seed), prints the public key
  a1 pubkey --key KEY                          print the public key of a signing key
  a1 intent hash ACTION [KEY=VALUE ...]        print an intent hash
  a1 mask NAME...                              print a capability mask and its commitment

Passports, certs and chains (offline):
  a1 passport issue|inspect|sub|renew
  a1 cert issue                                issue a delegation cert (a root chain, or extend one)
  a1 chain build|inspect                       append a narrowed sub-cert; show a chain
  a1 verify                                    verify a chain offline, as the gateway does

Gateway:
  a1 authorize                                 authorize an intent at a gateway (with proof of possession)
  a1 revoke                                    revoke a cert (admin token or signed by an ancestor)
  a1 gateway                                   run the gateway (see docs/gateway.md)
  a1 healthcheck                               probe the local gateway (container health check)

Operations:
  a1 token verify                              check a VerifiedToken's MAC
  a1 audit verify FILE...                      check a hash-chained audit log
  a1 migrate [--pg-url URL] [--grant ROLE]     apply the PostgreSQL migrations (and grant a gateway role)
  a1 completion bash|zsh                       print a shell completion script
  a1 version                                   print the version
  a1 help [COMMAND]                            print help

Keys (--key) are signer URIs: file:PATH, hex:SEED, vault:…, awskms:…, gcpkms:…,
azurekv:…; a value without a scheme is a file path.

Exit status: 0 success (or authorized), 1 failure (or denied), 2 usage or input error.
See docs/cli.md for every flag and a walkthrough.
`

// cliError is an error with the exit code and hint lines to print.
type cliError struct {
	err   error
	hints []string
	exit  int
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageErr is a usage or input error (exit 2).
func usageErr(err error, hints ...string) error {
	return &cliError{err: err, hints: hints, exit: exitUsage}
}

// usagef formats a usage error with one hint.
func usagef(hint, format string, args ...any) error {
	var hints []string
	if hint != "" {
		hints = []string{hint}
	}
	return usageErr(fmt.Errorf(format, args...), hints...)
}

// failErr is an operational failure (exit 1).
func failErr(err error, hints ...string) error {
	return &cliError{err: err, hints: hints, exit: exitFail}
}

// exitError carries only an exit code: the command already printed its result.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, now: time.Now}
	return e.main(args)
}

func (e *env) main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, mainUsage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return e.help(args[1:])
	case "-version", "--version":
		args = []string{"version"}
	}
	c, rest := findCommand(args)
	if c == nil {
		if subs := nouns(args[0]); len(subs) > 0 {
			msg := fmt.Sprintf("%q needs a subcommand", args[0])
			if len(args) > 1 {
				msg = fmt.Sprintf("unknown command %q", args[0]+" "+args[1])
			}
			return e.report(usagef(fmt.Sprintf("one of: a1 %s %s", args[0], strings.Join(subs, "|")), "%s", msg))
		}
		return e.report(usagef("run `a1 help` for the list of commands", "unknown command %q", args[0]))
	}
	err := c.run(e, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, c.usage)
		return exitOK
	}
	return e.report(err)
}

func (e *env) help(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stdout, mainUsage)
		return exitOK
	}
	if len(args) == 1 && args[0] == "gateway" { // run by main before the CLI
		gateway.Usage(e.stdout)
		return exitOK
	}
	if c, _ := findCommand(args); c != nil {
		fmt.Fprint(e.stdout, c.usage)
		return exitOK
	}
	if subs := nouns(args[0]); len(subs) > 0 {
		for _, s := range subs {
			c, _ := findCommand([]string{args[0], s})
			fmt.Fprint(e.stdout, c.usage, "\n")
		}
		return exitOK
	}
	return e.report(usagef("run `a1 help` for the list of commands", "unknown command %q", strings.Join(args, " ")))
}

// report prints err as "a1: error: …" plus hint lines and returns the exit code.
func (e *env) report(err error) int {
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return int(ee)
	}
	code := exitFail
	var hints []string
	var ce *cliError
	if errors.As(err, &ce) {
		code = ce.exit
		hints = ce.hints
	}
	fmt.Fprintf(e.stderr, "a1: error: %v\n", err)
	if len(hints) == 0 {
		if h := a1.Hint(err); h != "" {
			hints = []string{h}
		}
	}
	for _, h := range hints {
		fmt.Fprintf(e.stderr, "a1: hint: %s\n", h)
	}
	return code
}

// flagSet returns a FlagSet for c that reports errors to the caller.
func flagSet(c string) *flag.FlagSet {
	fs := flag.NewFlagSet(c, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses flags interspersed with positional arguments ("FILE
// --json" works as well as "--json FILE"); "--" ends flag parsing.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef(fmt.Sprintf("run `a1 help %s`", fs.Name()), "%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag.Parse consumed a "--" terminator iff it is just before rest.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// csv returns the values split on commas, trimmed, empties dropped.
func (s stringsFlag) csv() []string {
	var out []string
	for _, v := range s {
		out = append(out, a1.SplitCSV(v)...)
	}
	return out
}

// need reports the first missing required flag.
func need(cmd string, flags map[string]string) error {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if flags[n] == "" {
			return usagef(fmt.Sprintf("run `a1 help %s`", cmd), "%s: --%s is required", cmd, n)
		}
	}
	return nil
}

func noArgs(cmd string, pos []string) error {
	if len(pos) > 0 {
		return usagef(fmt.Sprintf("run `a1 help %s`", cmd), "%s: unexpected argument %q", cmd, pos[0])
	}
	return nil
}

// parseNoArgs parses the flags of a command that takes no positional
// argument.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return noArgs(fs.Name(), pos)
}

// parsePathArg parses the flags of a command whose FILE is given either by
// a flag (path) or as its one positional argument.
func parsePathArg(fs *flag.FlagSet, args []string, path *string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *path == "" {
		*path, pos = pos[0], nil
	}
	return noArgs(fs.Name(), pos)
}

// parseInspectArgs parses the arguments of an inspect command: exactly one
// FILE, --json and --now. It returns the file, --json and the time to
// inspect at.
func parseInspectArgs(e *env, cmd string, args []string) (path string, asJSON bool, now uint64, err error) {
	fs := flagSet(cmd)
	var unix int64
	fs.BoolVar(&asJSON, "json", false, "")
	nowFlag(fs, &unix)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", false, 0, err
	}
	if len(pos) != 1 {
		return "", false, 0, usagef(fmt.Sprintf("run `a1 help %s`", cmd), "%s: exactly one FILE is required", cmd)
	}
	return pos[0], asJSON, e.unixNow(unix), nil
}

// keyFlag registers --key and its short form -k.
func keyFlag(fs *flag.FlagSet, key *string) {
	fs.StringVar(key, "key", "", "")
	fs.StringVar(key, "k", "", "")
}

// outFlag registers --out and its short form -o, both defaulting to def.
func outFlag(fs *flag.FlagSet, out *string, def string) {
	fs.StringVar(out, "out", def, "")
	fs.StringVar(out, "o", def, "")
}

// unixFlag is a Unix time in seconds: a non-negative integer.
type unixFlag int64

func (u *unixFlag) String() string { return strconv.FormatInt(int64(*u), 10) }
func (u *unixFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return errors.New("want Unix seconds (a non-negative integer)")
	}
	*u = unixFlag(n)
	return nil
}

// nowFlag registers --now (Unix seconds; 0 or absent: the clock).
func nowFlag(fs *flag.FlagSet, now *int64) {
	fs.Var((*unixFlag)(now), "now", "")
}

// checkTimeout rejects a --timeout that would bound nothing (0 or
// negative means no timeout to net/http).
func checkTimeout(cmd string, d time.Duration) error {
	if d <= 0 {
		return usagef("use a positive duration such as 10s or 1m", "%s: --timeout must be positive", cmd)
	}
	return nil
}
