package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/gateway"
)

func init() {
	register(&command{name: "version", run: cmdVersion, usage: `Usage: a1 version

Prints the a1 version, the Go version and the reference protocol it is
compatible with.
`})
	register(&command{name: "token verify", run: cmdTokenVerify, usage: `Usage: a1 token verify --token FILE [--mac-key HEX[,HEX…]] [--audience AUD] [--max-age DURATION [--drift SECS]] [--json]

Checks a VerifiedToken's MAC (keyed BLAKE3) against the gateway's MAC keys:
the current key first, then previous keys of a rotation. The token file is a
token ({"receipt":…,"mac":…}) or an authorize response holding one in
"token". Without --mac-key the keys come from A1_MAC_KEY_HEX and
A1_MAC_KEYS_PREVIOUS_HEX (prefer the environment: command lines are visible
to other users of the machine).

A token bound to an audience (a1 authorize --token-audience) verifies only
with --audience naming it; with --audience, an unbound token does not
verify (exit status 1, TOKEN_AUDIENCE_MISMATCH).

Tokens never expire by themselves. With --max-age (whole seconds, e.g. 5m) a
token whose MAC verifies is still refused when it was verified more than
that long ago, or later than now, beyond --drift seconds (default
A1_DRIFT_SECS, else 15), as a gateway with A1_TOKEN_MAX_AGE does
(exit status 1, TOKEN_EXPIRED or TOKEN_NOT_YET_VALID).

Exit status: 0 valid, 1 invalid, 2 usage or input error.

Example:
  A1_MAC_KEY_HEX=… a1 token verify --token token.json
`})
	register(&command{name: "audit verify", run: cmdAuditVerify, usage: `Usage: a1 audit verify [--trusted-key PKHEX]... [--require-start] [--require-final] FILE...

Checks hash-chained NDJSON audit logs end to end: every event's digest, the
chain of previous digests, sequence numbers and signed checkpoints. Give
rotated files oldest first. Prints each problem as "FILE: line N: reason",
then a summary.

  --trusted-key PKHEX  accept only checkpoints signed by this key; repeatable
  --require-start      a stream that does not start at seq 1 is a problem
  --require-final      a stream without a final signed checkpoint is a problem
                       (meaningful against a forger only with --trusted-key)

Exit status: 0 no problems, 1 problems found, 2 usage or input error.

Example:
  a1 audit verify audit.ndjson.1 audit.ndjson
`})
}

func version() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return v
}

func cmdVersion(e *env, args []string) error {
	fs := flagSet("version")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(e.stdout, "a1 %s (%s; compatible with A1 protocol %s)\n", version(), goVersion, a1.PassportMagic)
	return nil
}

// parseMACKeys parses comma-separated 32-byte hex keys.
func parseMACKeys(list string) ([][32]byte, error) {
	var keys [][32]byte
	for _, s := range a1.SplitCSV(list) {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			clear(b)
			return nil, usagef("a MAC key is 64 hex characters (32 bytes)", "--mac-key: a key is not 64 hex characters")
		}
		var k [32]byte
		copy(k[:], b)
		clear(b)
		keys = append(keys, k)
	}
	return keys, nil
}

func cmdTokenVerify(e *env, args []string) error {
	fs := flagSet("token verify")
	var path, macKeys, maxAgeFlag, driftFlag, audience string
	var asJSON bool
	fs.StringVar(&audience, "audience", "", "")
	fs.StringVar(&path, "token", "", "")
	fs.StringVar(&macKeys, "mac-key", "", "")
	fs.StringVar(&maxAgeFlag, "max-age", "", "")
	fs.StringVar(&driftFlag, "drift", "", "")
	fs.BoolVar(&asJSON, "json", false, "")
	if err := parsePathArg(fs, args, &path); err != nil {
		return err
	}
	if err := need("token verify", map[string]string{"token": path}); err != nil {
		return err
	}
	// --audience "" (an unset variable in a script) would verify as no
	// audience: unbound tokens accepted, the opposite of what was asked.
	if flagGiven(fs, "audience") {
		if err := a1.ValidateAudience(audience); err != nil {
			return usagef("the audience this service is named by: 1 to 256 bytes without control characters", "token verify: --audience %q: %v", audience, err)
		}
	}
	maxAge, drift, err := tokenAgeFlags(e, maxAgeFlag, driftFlag)
	if err != nil {
		return err
	}
	if macKeys == "" {
		macKeys = strings.Join([]string{e.getenv("A1_MAC_KEY_HEX"), e.getenv("A1_MAC_KEYS_PREVIOUS_HEX")}, ",")
	}
	keys, err := parseMACKeys(macKeys)
	if err != nil {
		return err
	}
	defer clear(keys)
	if len(keys) == 0 {
		return usagef("pass --mac-key HEX or set A1_MAC_KEY_HEX", "token verify: no MAC key")
	}
	b, err := readInput(e, "token", path)
	if err != nil {
		return err
	}
	tok, err := decodeToken(b)
	if err != nil {
		return usageErr(fmt.Errorf("token %s: %w", path, err), "a token file is the \"token\" object of an authorize response")
	}
	verr := tok.Verify(keys...)
	if verr == nil { // the binding and the age only of a genuine token
		verr = tok.CheckAudience(audience)
	}
	if verr == nil {
		verr = tok.CheckAge(uint64(max(e.now().Unix(), 0)), maxAge, drift)
	}
	r := tok.Receipt
	out := struct {
		Valid               bool   `json:"valid"`
		ChainDepth          uint64 `json:"chain_depth"`
		ChainFingerprintHex string `json:"chain_fingerprint_hex"`
		IntentHex           string `json:"intent_hex"`
		ScopeRootHex        string `json:"verified_scope_root_hex"`
		VerifiedAtUnix      uint64 `json:"verified_at_unix"`
		Namespace           string `json:"namespace,omitempty"`
		Audience            string `json:"audience,omitempty"`
		ExecutorPKHex       string `json:"executor_pk_hex,omitempty"`
		Error               string `json:"error,omitempty"`
		ErrorCode           string `json:"error_code,omitempty"`
	}{Valid: verr == nil, ChainDepth: r.ChainDepth, ChainFingerprintHex: hex.EncodeToString(r.ChainFingerprint[:]),
		IntentHex: hex.EncodeToString(r.Intent[:]), ScopeRootHex: hex.EncodeToString(r.VerifiedScopeRoot[:]),
		VerifiedAtUnix: r.VerifiedAtUnix, Namespace: r.Namespace}
	if b := tok.Binding; b != nil {
		out.Audience, out.ExecutorPKHex = b.Audience, b.ExecutorHex()
	}
	if verr != nil {
		out.Error, out.ErrorCode = verr.Error(), a1.ErrorCode(verr)
	}
	if asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else if verr == nil {
		fmt.Fprintf(e.stdout, "valid:             true\nchain depth:       %d\nchain fingerprint: %s\nintent:            %s\nverified at:       %s\n",
			out.ChainDepth, out.ChainFingerprintHex, out.IntentHex, fmtTime(out.VerifiedAtUnix))
		if out.Audience != "" {
			fmt.Fprintf(e.stdout, "audience:          %s\nexecutor:          %s\n", out.Audience, out.ExecutorPKHex)
		}
	}
	if verr != nil {
		if asJSON {
			return exitError(exitFail)
		}
		hint := "the token was modified, or MACed with a key not given (check A1_MAC_KEYS_PREVIOUS_HEX after a rotation)"
		if !errors.Is(verr, a1.ErrMACVerification) {
			hint = a1.Hint(verr)
		}
		return failErr(fmt.Errorf("token verify: INVALID (%s): %w", a1.ErrorCode(verr), verr), hint)
	}
	return nil
}

// flagGiven reports whether the flag name was on the command line, even
// with an empty value.
func flagGiven(fs *flag.FlagSet, name string) (given bool) {
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// tokenAgeFlags parses --max-age (a whole number of seconds, 0 when not
// given: no maximum) and --drift (default A1_DRIFT_SECS, else
// a1.DefaultDriftSecs).
func tokenAgeFlags(e *env, maxAgeFlag, driftFlag string) (maxAge, drift uint64, err error) {
	if driftFlag != "" && maxAgeFlag == "" {
		return 0, 0, usagef("--drift only bounds --max-age", "token verify: --drift without --max-age")
	}
	if maxAgeFlag == "" {
		return 0, 0, nil
	}
	d, perr := time.ParseDuration(maxAgeFlag)
	if perr != nil || d < time.Second || d%time.Second != 0 {
		return 0, 0, usagef("a whole number of seconds with a unit: 90s, 5m, 24h", "token verify: --max-age %q", maxAgeFlag)
	}
	src := driftFlag
	if src == "" {
		src = e.getenv("A1_DRIFT_SECS")
	}
	drift = a1.DefaultDriftSecs
	if src != "" {
		if drift, perr = strconv.ParseUint(src, 10, 32); perr != nil || drift > gateway.MaxDriftSecs {
			return 0, 0, usagef(fmt.Sprintf("seconds in [0, %d], as A1_DRIFT_SECS", gateway.MaxDriftSecs), "token verify: drift %q", src)
		}
	}
	return uint64(d / time.Second), drift, nil
}

// decodeToken accepts a bare token or an object with a "token" field.
func decodeToken(b []byte) (*a1.VerifiedToken, error) {
	var tok a1.VerifiedToken
	err := json.Unmarshal(b, &tok)
	if err == nil {
		return &tok, nil
	}
	var wrapped struct {
		Token json.RawMessage `json:"token"`
	}
	if json.Unmarshal(b, &wrapped) == nil && len(wrapped.Token) > 0 {
		if err2 := json.Unmarshal(wrapped.Token, &tok); err2 == nil {
			return &tok, nil
		}
	}
	return nil, err
}

func cmdAuditVerify(e *env, args []string) error {
	fs := flagSet("audit verify")
	var keys stringsFlag
	var opts audit.VerifyOptions
	fs.Var(&keys, "trusted-key", "")
	fs.BoolVar(&opts.RequireStart, "require-start", false, "")
	fs.BoolVar(&opts.RequireFinal, "require-final", false, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("run `a1 help audit verify`", "audit verify: at least one FILE is required")
	}
	for _, k := range keys.csv() {
		pk, err := parsePK("trusted-key", k)
		if err != nil {
			return err
		}
		opts.TrustedKeys = append(opts.TrustedKeys, ed25519.PublicKey(pk[:]))
	}
	if len(opts.TrustedKeys) == 0 && opts.RequireFinal {
		fmt.Fprintln(e.stderr, "a1: warning: --require-final without --trusted-key accepts a final checkpoint signed by ANY key: whoever can write the log can cut its tail and re-sign it. Pass the gateway's receipt public key with --trusted-key.")
	}
	rep, err := audit.VerifyFiles(pos, opts)
	if err != nil {
		return usageErr(err)
	}
	fmt.Fprint(e.stdout, rep.String())
	if !rep.OK {
		return failErr(errors.New("audit verify: the audit log failed verification"),
			"the log was modified, truncated or reordered at the lines listed above")
	}
	return nil
}
