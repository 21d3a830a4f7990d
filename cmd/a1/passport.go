package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/internal/plainname"
	"github.com/a1-go/a1/signer"
)

func init() {
	register(&command{name: "passport issue", run: cmdPassportIssue, usage: `Usage: a1 passport issue --namespace NS --allow CAPS --key KEY [--ttl 30d] [--out FILE] [--now UNIX]

Issues a passport: a self-issued root cert over the capabilities, signed by
KEY (the holder), written in the reference passport file format.

  --namespace NS   passport namespace (required)
  --allow CAPS     comma-separated capabilities; repeatable (required)
  --key KEY        the holder's signing key: a file or signer URI (required)
  --ttl DUR        lifetime: 90s, 30m, 12h, 30d, 2w, 1y (default 30d)
  --out FILE       output file (default NS-passport.json; - for stdout)
  --now UNIX       issue as of this time (default: now)

Example:
  a1 passport issue --namespace trading --allow trade.equity,portfolio.read --key human.key --out passport.json
`})
	register(&command{name: "passport inspect", run: cmdPassportInspect, usage: `Usage: a1 passport inspect FILE [--json] [--now UNIX]

Shows a passport: namespace, holder, capabilities, mask, validity and status
(valid, expired, not-yet-valid, or invalid with the reason the file fails its
consistency and signature check). Exits 0 whenever the file parses.

Example:
  a1 passport inspect passport.json --json
`})
	register(&command{name: "passport sub", run: cmdPassportSub, usage: `Usage: a1 passport sub --passport FILE --key KEY --delegate PKHEX --allow CAPS [--ttl 1h] [--out FILE] [--now UNIX]

Delegates part of a passport to an agent. Writes a signed chain anchored at
the holder key: [passport root cert, sub-cert]. The sub-cert narrows the
scope (Merkle sub-scope proof) and the capability mask to CAPS, and never
outlives the passport.

  --passport FILE  the passport (required)
  --key KEY        the holder's signing key (required)
  --delegate PKHEX the agent's public key (required)
  --allow CAPS     comma-separated capabilities, a subset of the passport's (required)
  --ttl DUR        lifetime (default 1h; capped at the passport's expiry)
  --out FILE       output chain file (default NS-chain.json; - for stdout)

Example:
  a1 passport sub --passport passport.json --key human.key --delegate $(cat agent.pub) --allow trade.equity --out chain.json
`})
	register(&command{name: "passport renew", run: cmdPassportRenew, usage: `Usage: a1 passport renew --passport FILE --key KEY [--ttl 30d] [--out FILE] [--now UNIX]

Re-issues a passport with a new lifetime and the same namespace and
capabilities (a new root cert: chains issued under the old one keep working
until it expires or is revoked). Writes to --out, by default over FILE.

Example:
  a1 passport renew --passport passport.json --key human.key --ttl 90d
`})
}

func cmdPassportIssue(e *env, args []string) error {
	fs := flagSet("passport issue")
	var ns, key, ttlS, out string
	var allow stringsFlag
	var now int64
	fs.StringVar(&ns, "namespace", "", "")
	fs.Var(&allow, "allow", "")
	keyFlag(fs, &key)
	fs.StringVar(&ttlS, "ttl", "30d", "")
	outFlag(fs, &out, "")
	nowFlag(fs, &now)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := need("passport issue", map[string]string{"namespace": ns, "allow": allow.String(), "key": key}); err != nil {
		return err
	}
	caps := allow.csv()
	if len(caps) == 0 {
		return usagef("give capabilities as --allow a,b", "passport issue: --allow lists no capabilities")
	}
	ttl, err := parseTTL("ttl", ttlS)
	if err != nil {
		return err
	}
	s, _, err := openKey(e, key)
	if err != nil {
		return err
	}
	p, err := a1.IssuePassport(s, ns, caps, e.unixNow(now), ttl)
	if err != nil {
		return usageErr(fmt.Errorf("passport issue: %w", err))
	}
	if out == "" {
		out = ns + "-passport.json"
	}
	if err := writePassport(e, out, p); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(e.stdout, "passport:     %s\nnamespace:    %s\nholder:       %s\ncapabilities: %v\nmask:         %s\nexpires:      %s\n",
			out, p.Namespace, p.Holder().Hex(), p.Capabilities, p.Mask.Hex(), fmtTime(p.Cert.ExpirationUnix))
	}
	return nil
}

func fmtTime(u uint64) string {
	if u > 1<<62 {
		return fmt.Sprintf("%d", u)
	}
	return fmt.Sprintf("%d (%s)", u, time.Unix(int64(u), 0).UTC().Format(time.RFC3339))
}

// passportStatus evaluates a passport at now: "valid", "expired",
// "not-yet-valid" or "invalid", with the reason for the last one.
func passportStatus(p *a1.Passport, now uint64) (string, error) {
	if err := p.Check(); err != nil {
		return "invalid", err
	}
	switch {
	case p.Cert.ExpirationUnix < now:
		return "expired", nil
	case p.Cert.IssuedAt > now+a1.DefaultDriftSecs:
		return "not-yet-valid", nil
	}
	return "valid", nil
}

func cmdPassportInspect(e *env, args []string) error {
	path, asJSON, now, err := parseInspectArgs(e, "passport inspect", args)
	if err != nil {
		return err
	}
	p, err := readPassport(e, path)
	if err != nil {
		return err
	}
	status, cerr := passportStatus(p, now)
	fp := p.Cert.Fingerprint()
	commit := p.Mask.Commitment()
	if asJSON {
		type out struct {
			Namespace      string   `json:"namespace"`
			HolderPK       string   `json:"holder_pk_hex"`
			Capabilities   []string `json:"capabilities"`
			MaskHex        string   `json:"capability_mask_hex"`
			CommitmentHex  string   `json:"narrowing_commitment_hex"`
			ScopeRootHex   string   `json:"scope_root_hex"`
			FingerprintHex string   `json:"fingerprint_hex"`
			IssuedAt       uint64   `json:"issued_at"`
			ExpiresAt      uint64   `json:"expiration_unix"`
			MaxDepth       uint8    `json:"max_depth"`
			Status         string   `json:"status"`
			Problem        *string  `json:"problem"`
		}
		o := out{p.Namespace, p.Holder().Hex(), p.Capabilities, p.Mask.Hex(), hex.EncodeToString(commit[:]),
			hex.EncodeToString(p.Cert.ScopeRoot[:]), hex.EncodeToString(fp[:]), p.Cert.IssuedAt, p.Cert.ExpirationUnix,
			p.Cert.MaxDepth, status, nil}
		if cerr != nil {
			msg := cerr.Error()
			o.Problem = &msg
		}
		if o.Capabilities == nil {
			o.Capabilities = []string{}
		}
		return writeJSON(e.stdout, o)
	}
	w := e.stdout
	fmt.Fprintf(w, "namespace:       %s\n", p.Namespace)
	fmt.Fprintf(w, "holder:          %s\n", p.Holder().Hex())
	fmt.Fprintf(w, "capabilities:    %v\n", p.Capabilities)
	fmt.Fprintf(w, "capability mask: %s\n", p.Mask.Hex())
	fmt.Fprintf(w, "commitment:      %s\n", hex.EncodeToString(commit[:]))
	fmt.Fprintf(w, "scope root:      %s\n", hex.EncodeToString(p.Cert.ScopeRoot[:]))
	fmt.Fprintf(w, "fingerprint:     %s\n", hex.EncodeToString(fp[:]))
	fmt.Fprintf(w, "issued at:       %s\n", fmtTime(p.Cert.IssuedAt))
	fmt.Fprintf(w, "expires at:      %s\n", fmtTime(p.Cert.ExpirationUnix))
	if cerr != nil {
		fmt.Fprintf(w, "status:          invalid: %v\n", cerr)
	} else {
		fmt.Fprintf(w, "status:          %s\n", status)
	}
	return nil
}

// loadHeldPassport reads a passport, checks it, and opens the holder key.
func loadHeldPassport(e *env, cmd, path, key string) (*a1.Passport, signer.Signer, error) {
	p, err := readPassport(e, path)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Check(); err != nil {
		return nil, nil, usageErr(fmt.Errorf("%s: passport %s fails its check: %w", cmd, path, err),
			"the passport file was modified or corrupted; issue a new one")
	}
	s, pk, err := openKey(e, key)
	if err != nil {
		return nil, nil, err
	}
	if pk != p.Holder() {
		return nil, nil, usagef(fmt.Sprintf("use the key the passport was issued with (holder %s)", p.Holder().Hex()),
			"%s: --key %s is not the passport holder's key", cmd, pk.Hex())
	}
	return p, s, nil
}

func cmdPassportSub(e *env, args []string) error {
	fs := flagSet("passport sub")
	var path, key, delegate, ttlS, out string
	var allow stringsFlag
	var now int64
	fs.StringVar(&path, "passport", "", "")
	keyFlag(fs, &key)
	fs.StringVar(&delegate, "delegate", "", "")
	fs.Var(&allow, "allow", "")
	fs.StringVar(&ttlS, "ttl", "1h", "")
	outFlag(fs, &out, "")
	nowFlag(fs, &now)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := need("passport sub", map[string]string{"passport": path, "key": key, "delegate": delegate, "allow": allow.String()}); err != nil {
		return err
	}
	dpk, err := parsePK("delegate", delegate)
	if err != nil {
		return err
	}
	ttl, err := parseTTL("ttl", ttlS)
	if err != nil {
		return err
	}
	t := e.unixNow(now)
	p, sk, err := loadHeldPassport(e, "passport sub", path, key)
	if err != nil {
		return err
	}
	if p.Cert.ExpirationUnix <= t {
		return failErr(fmt.Errorf("passport sub: the passport expired at %s", fmtTime(p.Cert.ExpirationUnix)),
			"renew it with `a1 passport renew`")
	}
	caps := allow.csv()
	sub, err := p.IssueBoundSub(sk, dpk, caps, t, ttl)
	if err != nil {
		hint := "--allow must name capabilities of the passport: " + fmt.Sprint(p.Capabilities)
		if errors.Is(err, a1.ErrNarrowingViolation) || errors.Is(err, a1.ErrIntentNotFound) {
			return usageErr(fmt.Errorf("passport sub: %w", err), hint)
		}
		return usageErr(fmt.Errorf("passport sub: %w", err))
	}
	sc := a1.NewChain(p.Holder(), p.Cert.ScopeRoot, p.Cert, sub)
	if out == "" {
		// The default file is named after the namespace: only a plain
		// name may become a file in the current directory.
		if _, ok := plainname.Check(p.Namespace); !ok || p.Namespace == "" || strings.HasPrefix(p.Namespace, "-") {
			return usagef("pass --out FILE", "passport sub: the namespace %q cannot name the default output file", p.Namespace)
		}
		out = p.Namespace + "-chain.json"
	}
	if err := writeChain(e, out, sc); err != nil {
		return err
	}
	if out != "-" {
		fp := sub.Fingerprint()
		cfp := sc.Fingerprint()
		fmt.Fprintf(e.stdout, "chain:             %s\ndelegate:          %s\ncapabilities:      %v\nexpires:           %s\ncert fingerprint:  %s\nchain fingerprint: %s\ntrust root:        %s\n",
			out, dpk.Hex(), caps, fmtTime(sub.ExpirationUnix), hex.EncodeToString(fp[:]), hex.EncodeToString(cfp[:]), p.Holder().Hex())
	}
	return nil
}

func cmdPassportRenew(e *env, args []string) error {
	fs := flagSet("passport renew")
	var path, key, ttlS, out string
	var now int64
	fs.StringVar(&path, "passport", "", "")
	keyFlag(fs, &key)
	fs.StringVar(&ttlS, "ttl", "30d", "")
	outFlag(fs, &out, "")
	nowFlag(fs, &now)
	if err := parsePathArg(fs, args, &path); err != nil {
		return err
	}
	if err := need("passport renew", map[string]string{"passport": path, "key": key}); err != nil {
		return err
	}
	ttl, err := parseTTL("ttl", ttlS)
	if err != nil {
		return err
	}
	t := e.unixNow(now)
	p, sk, err := loadHeldPassport(e, "passport renew", path, key)
	if err != nil {
		return err
	}
	np, err := a1.IssuePassport(sk, p.Namespace, p.Capabilities, t, ttl)
	if err != nil {
		return usageErr(fmt.Errorf("passport renew: %w", err))
	}
	if out == "" {
		out = path
	}
	if err := writePassport(e, out, np); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(e.stdout, "passport:  %s\nnamespace: %s\nexpires:   %s\n", out, np.Namespace, fmtTime(np.Cert.ExpirationUnix))
	}
	return nil
}
