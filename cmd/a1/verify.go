package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
)

func init() {
	register(&command{name: "verify", run: cmdVerify, usage: `Usage: a1 verify --chain FILE --intent ACTION [--param K=V]... --executor PKHEX
                 (--trust-root PKHEX... | --trust-any) [--now UNIX] [--drift SECS]
                 [--revoked FPHEX]... [--merkle-proof FILE] [--nonce-mode terminal|all]

Verifies a chain offline with the gateway's checks (trust anchor, linkage,
validity windows, depth, scope proofs, capability masks, signatures, the
executor, the intent) and then revocation, and prints JSON:

  {"authorized": bool, "error_code": string|null, "hop": int|null,
   "chain_depth": int, "chain_fingerprint_hex": string, "message": string}

  --chain FILE         the signed chain (required; - for stdin)
  --intent ACTION      the intent's action (required)
  --param K=V          an intent parameter; repeatable
  --executor PKHEX     the agent asking to act: must be the terminal delegate (required)
  --trust-root PKHEX   a trusted principal key; repeatable (at least one, or --trust-any)
  --trust-any          trust every principal key (UNSAFE: anyone can forge such a chain)
  --now UNIX           verify as of this time (default: now)
  --drift SECS         clock drift tolerance (default 15)
  --revoked FPHEX      a revoked cert fingerprint; repeatable
  --merkle-proof FILE  the intent's inclusion proof in the terminal scope (JSON)
  --nonce-mode MODE    terminal (default) or all: which cert nonces a gateway would consume

Exit status: 0 authorized, 1 denied, 2 usage or input error.

Example:
  a1 verify --chain chain.json --intent trade.equity --executor $(cat agent.pub) --trust-root $(cat human.pub)
`})
}

// verifyOutput is the JSON a1 verify prints.
type verifyOutput struct {
	Authorized          bool    `json:"authorized"`
	ErrorCode           *string `json:"error_code"`
	Hop                 *int    `json:"hop"`
	ChainDepth          int     `json:"chain_depth"`
	ChainFingerprintHex string  `json:"chain_fingerprint_hex"`
	Message             string  `json:"message"`
}

func cmdVerify(e *env, args []string) error {
	fs := flagSet("verify")
	var chainPath, intent, executor, proofPath, nonceMode string
	var params, roots, revoked stringsFlag
	var now int64
	var drift uint64
	var trustAny bool
	fs.StringVar(&chainPath, "chain", "", "")
	fs.StringVar(&intent, "intent", "", "")
	fs.Var(&params, "param", "")
	fs.StringVar(&executor, "executor", "", "")
	fs.Var(&roots, "trust-root", "")
	fs.BoolVar(&trustAny, "trust-any", false, "")
	nowFlag(fs, &now)
	fs.Uint64Var(&drift, "drift", a1.DefaultDriftSecs, "")
	fs.Var(&revoked, "revoked", "")
	fs.StringVar(&proofPath, "merkle-proof", "", "")
	fs.StringVar(&nonceMode, "nonce-mode", "terminal", "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := need("verify", map[string]string{"chain": chainPath, "intent": intent, "executor": executor}); err != nil {
		return err
	}
	if len(roots) == 0 && !trustAny {
		return usagef("pass the principal's public key with --trust-root PKHEX (or --trust-any, which is unsafe)",
			"verify: no trust root given")
	}
	if drift > 3600 {
		return usagef("the drift tolerance is in seconds; the default is 15", "verify: --drift %d is more than an hour", drift)
	}
	mode, err := a1.ParseNonceMode(nonceMode)
	if err != nil {
		return usageErr(err)
	}
	exec, err := parsePK("executor", executor)
	if err != nil {
		return err
	}
	var anchors a1.TrustAnchors
	if trustAny {
		fmt.Fprintln(e.stderr, "a1: warning: UNSAFE: --trust-any accepts chains rooted at ANY key; anyone can self-sign such a chain. Never rely on this result for access decisions.")
		anchors = a1.TrustAnyRoot{}
	} else {
		rs := a1.NewRootSet()
		for _, r := range roots.csv() {
			pk, err := parsePK("trust-root", r)
			if err != nil {
				return err
			}
			rs.Add(pk, "")
		}
		anchors = rs
	}
	var revs []store.Revocation
	for _, r := range revoked.csv() {
		var fp [32]byte
		b, err := hex.DecodeString(strings.TrimSpace(r))
		if err != nil || len(b) != 32 {
			return usagef("a fingerprint is 64 hex characters, as printed by `a1 chain inspect`", "--revoked: invalid fingerprint %q", r)
		}
		copy(fp[:], b)
		revs = append(revs, store.Revocation{Fingerprint: fp, Reason: "a1 verify --revoked"})
	}
	h, err := intentHash(intent, params)
	if err != nil {
		return err
	}
	sc, err := readChain(e, chainPath)
	if err != nil {
		return err
	}
	req := &a1.Request{Chain: sc, Executor: exec, Intent: h, Action: intent}
	if proofPath != "" {
		b, err := readInput(e, "merkle proof", proofPath)
		if err != nil {
			return err
		}
		var p a1.MerkleProof
		if err := json.Unmarshal(b, &p); err != nil {
			return usageErr(fmt.Errorf("merkle proof %s: %w", proofPath, err))
		}
		req.Proof = &p
	}
	t := e.unixNow(now)
	v := a1.NewVerifier(anchors, a1.WithDrift(drift), a1.WithNonceMode(mode),
		a1.WithClock(func() time.Time { return time.Unix(int64(min(t, 1<<62)), 0) }))

	res, verr := v.Verify(req)
	if verr == nil {
		// Revocation: the same atomic step the gateway runs, on an in-memory store.
		st := memory.New(memory.Options{SweepInterval: -1, Now: func() time.Time { return time.Unix(int64(min(t, 1<<62)), 0) }})
		defer st.Close()
		if len(revs) > 0 {
			if _, err := st.Revoke(e.ctx, "", revs); err != nil {
				return failErr(fmt.Errorf("verify: revocation store: %w", err))
			}
		}
		verr = a1.Consume(e.ctx, st, "", res)
	}
	fp := sc.Fingerprint()
	out := verifyOutput{Authorized: verr == nil, ChainDepth: len(sc.Certs), ChainFingerprintHex: hex.EncodeToString(fp[:]), Message: "authorized"}
	if verr != nil {
		code := a1.ErrorCode(verr)
		out.ErrorCode = &code
		if hop, ok := a1.HopOf(verr); ok {
			out.Hop = &hop
		}
		out.Message = verr.Error()
	}
	if err := writeJSON(e.stdout, out); err != nil {
		return err
	}
	if verr != nil {
		if h := a1.Hint(verr); h != "" {
			fmt.Fprintf(e.stderr, "a1: hint: %s\n", h)
		}
		return exitError(exitFail)
	}
	return nil
}
