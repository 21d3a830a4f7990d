package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/a1-go/a1"
)

// Limits of the command line's own inputs.
const (
	// maxInputFile bounds any JSON file the CLI reads (chains, passports,
	// proofs, tokens): the protocol's own chain limit.
	maxInputFile = a1.MaxChainJSONBytes
	// maxTTL bounds --ttl (ten years).
	maxTTL = 10 * 365 * 24 * time.Hour
)

func init() {
	register(&command{name: "intent hash", run: cmdIntentHash, usage: `Usage: a1 intent hash ACTION [KEY=VALUE ...]

Prints the intent hash (lowercase hex) of ACTION with parameters. Keys and
values are trimmed and lower-cased as the protocol requires.

Example:
  a1 intent hash trade.equity symbol=AAPL
`})
	register(&command{name: "mask", run: cmdMask, usage: `Usage: a1 mask NAME...

Prints the capability mask of the named capabilities and its commitment as
JSON: {"mask_hex": …, "commitment_hex": …}.

Example:
  a1 mask trade.equity portfolio.read
`})
}

func cmdIntentHash(e *env, args []string) error {
	fs := flagSet("intent hash")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("run `a1 help intent hash`", "intent hash: ACTION is required")
	}
	h, err := intentHash(pos[0], pos[1:])
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, h.Hex())
	return nil
}

// parseParams parses KEY=VALUE pairs, rejecting keys that collide after
// normalization.
func parseParams(kvs []string) (map[string]string, error) {
	params := make(map[string]string, len(kvs))
	seen := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, usagef("parameters are KEY=VALUE", "parameter %q has no '='", kv)
		}
		n := a1.NormalizeParam(k)
		if prev, dup := seen[n]; dup {
			return nil, usagef("give each parameter once", "parameters %q and %q are the same key after normalization", prev, k)
		}
		seen[n] = k
		params[k] = v
	}
	return params, nil
}

func intentHash(action string, kvs []string) (a1.IntentHash, error) {
	params, err := parseParams(kvs)
	if err != nil {
		return a1.IntentHash{}, err
	}
	h, err := a1.HashIntent(action, params)
	if err != nil {
		return h, usageErr(fmt.Errorf("intent: %w", err))
	}
	return h, nil
}

func cmdMask(e *env, args []string) error {
	fs := flagSet("mask")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("run `a1 help mask`", "mask: at least one NAME is required")
	}
	m := a1.MaskOf(pos...)
	c := m.Commitment()
	return writeJSON(e.stdout, struct {
		MaskHex       string `json:"mask_hex"`
		CommitmentHex string `json:"commitment_hex"`
	}{m.Hex(), hex.EncodeToString(c[:])})
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return failErr(err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// parseTTL parses a duration: a number of seconds, or a number with one of
// the suffixes s, m, h, d, w, y (365 days).
func parseTTL(name, v string) (uint64, error) {
	hint := "a TTL is a number with a unit: 90s, 30m, 12h, 30d, 2w, 1y (plain numbers are seconds)"
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, usagef(hint, "--%s: empty", name)
	}
	unit := time.Second
	num := v
	switch v[len(v)-1] {
	case 's':
		num = v[:len(v)-1]
	case 'm':
		unit, num = time.Minute, v[:len(v)-1]
	case 'h':
		unit, num = time.Hour, v[:len(v)-1]
	case 'd':
		unit, num = 24*time.Hour, v[:len(v)-1]
	case 'w':
		unit, num = 7*24*time.Hour, v[:len(v)-1]
	case 'y':
		unit, num = 365*24*time.Hour, v[:len(v)-1]
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, usagef(hint, "--%s: invalid duration %q", name, v)
	}
	if n == 0 {
		return 0, usagef(hint, "--%s: must be positive", name)
	}
	if n > uint64(maxTTL/unit) {
		return 0, usagef(hint, "--%s: %q is longer than the maximum of %d days", name, v, int(maxTTL.Hours()/24))
	}
	return n * uint64(unit/time.Second), nil
}

// readInput reads a bounded input file ("-" is stdin).
func readInput(e *env, what, path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErr(fmt.Errorf("%s: %w", what, err))
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInputFile+1))
	if err != nil {
		return nil, usageErr(fmt.Errorf("%s: %w", what, err))
	}
	if len(b) > maxInputFile {
		return nil, usagef("", "%s: %s is larger than %d bytes", what, path, maxInputFile)
	}
	return b, nil
}

// readChain reads and decodes a signed chain file.
func readChain(e *env, path string) (*a1.SignedChain, error) {
	b, err := readInput(e, "chain", path)
	if err != nil {
		return nil, err
	}
	sc, err := a1.DecodeSignedChain(b)
	if err != nil {
		return nil, usageErr(fmt.Errorf("chain %s: %w", path, err),
			"a chain file is a SignedChain as written by `a1 passport sub`, `a1 cert issue` or `a1 chain build`")
	}
	return sc, nil
}

// readPassport reads and decodes a passport file (without Check).
func readPassport(e *env, path string) (*a1.Passport, error) {
	b, err := readInput(e, "passport", path)
	if err != nil {
		return nil, err
	}
	p, err := a1.ParsePassportFile(b)
	if err != nil {
		return nil, usageErr(fmt.Errorf("passport %s: %w", path, err), "a passport file is written by `a1 passport issue`")
	}
	return p, nil
}

// writeOutput writes b to path ("-" is stdout) with a trailing newline.
func writeOutput(e *env, path string, b []byte) error {
	b = append(b, '\n')
	if path == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return failErr(fmt.Errorf("writing %s: %w", path, err))
	}
	return nil
}

// writeChain writes a chain in its indented reference form to path ("-" is
// stdout).
func writeChain(e *env, path string, sc *a1.SignedChain) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return failErr(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return failErr(err)
	}
	return writeOutput(e, path, out.Bytes())
}

// writePassport writes a passport in the reference passport file format to
// path ("-" is stdout).
func writePassport(e *env, path string, p *a1.Passport) error {
	b, err := p.MarshalFile()
	if err != nil {
		return failErr(err)
	}
	return writeOutput(e, path, b)
}

// unixNow returns --now when given (non-zero), else the clock.
func (e *env) unixNow(now int64) uint64 {
	if now > 0 {
		return uint64(now)
	}
	return uint64(max(e.now().Unix(), 0))
}
