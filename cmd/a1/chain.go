package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"slices"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/signer"
)

const certFlags = `  --key KEY           the delegator's signing key: a file or signer URI (required)
  --delegate PKHEX    the delegate's public key (required)
  --intent A[,B…]     the intents granted; repeatable (required)
  --param K=V         a parameter of every intent given; repeatable
  --ttl DUR           lifetime: 90s, 30m, 12h, 30d, 2w, 1y (default 1h; capped at the parent's expiry)
  --max-depth N       how many certs the chain may hold below this one (default 16)
  --parent-intent A   when extending a chain whose terminal cert does not list its intents:
                      every intent of the parent scope; repeatable
  --out FILE          output chain file (default chain.json; - for stdout)
  --now UNIX          issue as of this time (default: now)
`

func init() {
	register(&command{name: "cert issue", run: cmdCertIssue, usage: `Usage: a1 cert issue --key KEY --delegate PKHEX --intent A[,B…] [--param K=V]... [--ttl 1h]
                     [--max-depth N] [--parent-chain FILE] [--out FILE]

Issues a delegation cert. Without --parent-chain it starts a new chain whose
principal (trust root) is KEY. With --parent-chain it appends a narrowed
sub-cert to that chain, as a1 chain build does: KEY must be the chain's
terminal delegate, and the intents must be within its scope.

` + certFlags + `  --parent-chain FILE the chain to extend

Example (human → orchestrator → tool):
  a1 cert issue --key human.key --delegate $(cat orch.pub) --intent trade.equity,portfolio.read --ttl 8h --out orch.json
  a1 cert issue --key orch.key --parent-chain orch.json --delegate $(cat tool.pub) --intent trade.equity --ttl 1h --out tool.json
`})
	register(&command{name: "chain build", run: cmdChainBuild, usage: `Usage: a1 chain build --chain FILE --key KEY --delegate PKHEX --intent A[,B…] [--param K=V]...
                      [--ttl 1h] [--max-depth N] [--out FILE]

Appends a sub-cert to an existing chain: KEY must be the chain's terminal
delegate; the new cert narrows its scope to the intents (with a Merkle
sub-scope proof), its capability mask when the chain carries one, its expiry
and its depth.

  --chain FILE        the chain to extend (required)
` + certFlags + `
Example:
  a1 chain build --chain chain.json --key agent.key --delegate $(cat tool.pub) --intent trade.equity --out tool.json
`})
	register(&command{name: "chain inspect", run: cmdChainInspect, usage: `Usage: a1 chain inspect FILE [--json] [--now UNIX]

Shows a chain: the principal, the chain fingerprint, and for each cert its
delegator, delegate, validity, max_depth, scope, extensions, digest (the
signature pre-image), fingerprint (the revocation key), and whether its
signature verifies and it links to its parent. Exits 0 whenever the file
parses.

Example:
  a1 chain inspect chain.json
`})
}

type certOpts struct {
	key, delegate, ttl, out string
	intents, params         stringsFlag
	parentIntents           stringsFlag
	maxDepth                uint
	now                     int64
}

func (o *certOpts) register(fs *flag.FlagSet) {
	keyFlag(fs, &o.key)
	fs.StringVar(&o.delegate, "delegate", "", "")
	fs.Var(&o.intents, "intent", "")
	fs.Var(&o.params, "param", "")
	fs.Var(&o.parentIntents, "parent-intent", "")
	fs.StringVar(&o.ttl, "ttl", "1h", "")
	fs.UintVar(&o.maxDepth, "max-depth", a1.DefaultMaxDepth, "")
	outFlag(fs, &o.out, "chain.json")
	nowFlag(fs, &o.now)
}

func cmdCertIssue(e *env, args []string) error {
	return issueCommand(e, "cert issue", "parent-chain", false, args)
}

func cmdChainBuild(e *env, args []string) error {
	return issueCommand(e, "chain build", "chain", true, args)
}

// issueCommand parses the arguments of cert issue and chain build (the
// cert flags, and parentFlag naming the chain to extend, required when
// needParent) and issues the cert.
func issueCommand(e *env, cmd, parentFlag string, needParent bool, args []string) error {
	fs := flagSet(cmd)
	var o certOpts
	var parent string
	o.register(fs)
	fs.StringVar(&parent, parentFlag, "", "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if needParent {
		if err := need(cmd, map[string]string{parentFlag: parent}); err != nil {
			return err
		}
	}
	return issue(e, cmd, parent, &o)
}

// issueReq is a validated cert request.
type issueReq struct {
	signer   signer.Signer
	pk       a1.PublicKey
	delegate a1.PublicKey
	actions  []string
	intents  []a1.IntentHash
	parent   []a1.IntentHash // --parent-intent hashes
	ttl      uint64
	maxDepth uint8
	now      uint64
}

func issue(e *env, cmd, parentPath string, o *certOpts) error {
	if err := need(cmd, map[string]string{"key": o.key, "delegate": o.delegate, "intent": o.intents.String()}); err != nil {
		return err
	}
	r := issueReq{actions: o.intents.csv(), now: e.unixNow(o.now)}
	if len(r.actions) == 0 {
		return usagef("give intents as --intent a,b", "%s: --intent lists no intents", cmd)
	}
	if o.maxDepth > 255 {
		return usagef("max_depth is 0..255", "%s: --max-depth %d is too large", cmd, o.maxDepth)
	}
	r.maxDepth = uint8(o.maxDepth)
	var err error
	if r.delegate, err = parsePK("delegate", o.delegate); err != nil {
		return err
	}
	if r.ttl, err = parseTTL("ttl", o.ttl); err != nil {
		return err
	}
	seen := map[a1.IntentHash]bool{}
	for _, a := range r.actions {
		h, err := intentHash(a, o.params)
		if err != nil {
			return err
		}
		if !seen[h] {
			seen[h] = true
			r.intents = append(r.intents, h)
		}
	}
	for _, a := range o.parentIntents.csv() {
		h, err := intentHash(a, o.params)
		if err != nil {
			return err
		}
		r.parent = append(r.parent, h)
	}
	var sc *a1.SignedChain
	if parentPath != "" {
		if sc, err = readChain(e, parentPath); err != nil {
			return err
		}
	}
	if r.signer, r.pk, err = openKey(e, o.key); err != nil {
		return err
	}
	var c *a1.Cert
	if sc == nil {
		c, err = rootCert(&r)
		if err != nil {
			return err
		}
		sc = a1.NewChain(r.pk, c.ScopeRoot, c)
	} else {
		c, err = extendChain(cmd, sc, &r)
		if err != nil {
			return err
		}
		sc.Certs = append(sc.Certs, c)
	}
	if err := writeChain(e, o.out, sc); err != nil {
		return err
	}
	if o.out != "-" {
		fp, cfp := c.Fingerprint(), sc.Fingerprint()
		fmt.Fprintf(e.stdout, "chain:             %s (%d certs)\ndelegate:          %s\nintents:           %v\nexpires:           %s\ncert fingerprint:  %s\nchain fingerprint: %s\ntrust root:        %s\n",
			o.out, len(sc.Certs), r.delegate.Hex(), r.actions, fmtTime(c.ExpirationUnix),
			hex.EncodeToString(fp[:]), hex.EncodeToString(cfp[:]), sc.PrincipalPK.Hex())
	}
	return nil
}

// rootCert issues the first cert of a chain. With several intents it
// carries a sub-scope proof listing all of them against its own scope, so
// the chain says which intents it holds: later hops can be narrowed from it
// and a gateway can derive the inclusion proof of any one of them.
func rootCert(r *issueReq) (*a1.Cert, error) {
	c, err := a1.NewCert(r.delegate, r.intents, r.now, r.ttl)
	if err != nil {
		return nil, usageErr(err)
	}
	if len(r.intents) > 1 {
		tree, err := a1.NewIntentTree(r.intents)
		if err != nil {
			return nil, usageErr(err)
		}
		if c.ScopeProof, err = a1.BuildSubScopeProof(tree, r.intents); err != nil {
			return nil, failErr(err)
		}
	}
	c.MaxDepth = r.maxDepth
	if err := c.Sign(r.signer); err != nil {
		return nil, failErr(fmt.Errorf("signing: %w", err))
	}
	return c, nil
}

// scopeLeaves finds the intents of the chain's terminal scope: the nearest
// cert (walking up through pass-through certs) that lists its subset
// intents, or a passport root's capabilities. It returns nil when the chain
// does not say.
func scopeLeaves(sc *a1.SignedChain) []a1.IntentHash {
	n := len(sc.Certs)
	scope := sc.Certs[n-1].ScopeRoot
	for i := n - 1; i >= 0; i-- {
		c := sc.Certs[i]
		if len(c.ScopeProof.SubsetIntents) > 0 {
			if root, err := a1.TreeRoot(c.ScopeProof.SubsetIntents); err == nil && root == scope {
				return c.ScopeProof.SubsetIntents
			}
			return nil
		}
		if v, ok := c.Extensions.Get(a1.ExtPassportCaps); ok && v.Kind == a1.ExtStrings {
			var leaves []a1.IntentHash
			for _, name := range v.Strings {
				h, err := a1.HashIntent(name, nil)
				if err != nil {
					return nil
				}
				leaves = append(leaves, h)
			}
			if root, err := a1.TreeRoot(leaves); err == nil && root == scope {
				return leaves
			}
		}
	}
	return nil
}

// chainMask returns the effective capability mask and namespace of a chain.
func chainMask(sc *a1.SignedChain) (a1.Mask, string, bool) {
	var m a1.Mask
	var ns string
	found := false
	for _, c := range sc.Certs {
		if cm, ok, err := c.Extensions.PassportMask(); err == nil && ok {
			m, found = cm, true
			if n := c.Extensions.PassportNamespace(); n != "" {
				ns = n
			}
		}
	}
	return m, ns, found
}

func extendChain(cmd string, sc *a1.SignedChain, r *issueReq) (*a1.Cert, error) {
	n := len(sc.Certs)
	if n == 0 {
		return nil, usagef("", "%s: the parent chain has no certs", cmd)
	}
	term := sc.Certs[n-1]
	if term.DelegatePK != r.pk {
		return nil, usagef(fmt.Sprintf("sign with the key of the chain's terminal delegate %s", term.DelegatePK.Hex()),
			"%s: --key %s is not the chain's terminal delegate", cmd, r.pk.Hex())
	}
	budget := 255
	for _, c := range sc.Certs {
		budget = min(budget, int(c.MaxDepth))
	}
	if n+1 > budget {
		return nil, usageErr(fmt.Errorf("%s: the chain's max_depth (%d) allows no further hop", cmd, budget),
			"ask the delegator for a cert with a larger --max-depth")
	}
	if term.ExpirationUnix <= r.now {
		return nil, failErr(fmt.Errorf("%s: the parent chain expired at %s", cmd, fmtTime(term.ExpirationUnix)),
			"ask the delegator for a fresh cert")
	}
	parentScope := term.ScopeRoot
	leaves := scopeLeaves(sc)
	if len(r.parent) > 0 {
		root, err := a1.TreeRoot(r.parent)
		if err != nil || root != parentScope {
			return nil, usagef("give every intent of the parent cert (with the same --param values), or none",
				"%s: the --parent-intent list does not match the parent scope", cmd)
		}
		leaves = r.parent
	}
	childRoot, err := a1.TreeRoot(r.intents)
	if err != nil {
		return nil, usageErr(err)
	}
	var c *a1.Cert
	switch {
	case leaves != nil:
		tree, err := a1.NewIntentTree(leaves)
		if err != nil {
			return nil, usageErr(err)
		}
		c, err = a1.NewSubCert(r.delegate, tree, r.intents, r.now, r.ttl)
		if err != nil {
			if errors.Is(err, a1.ErrIntentNotFound) {
				return nil, usageErr(fmt.Errorf("%s: an intent is not within the parent scope (a cert may only narrow its parent)", cmd),
					"run `a1 chain inspect` to see the parent's intents; check --param values too")
			}
			return nil, usageErr(err)
		}
	case childRoot == parentScope:
		if c, err = a1.NewCert(r.delegate, r.intents, r.now, r.ttl); err != nil {
			return nil, usageErr(err)
		}
	default:
		return nil, usageErr(fmt.Errorf("%s: the parent cert does not list its intents, so a narrower sub-cert cannot be proven", cmd),
			"pass every intent of the parent scope with --parent-intent, or grant the parent's exact intents")
	}
	c.ExpirationUnix = min(c.ExpirationUnix, term.ExpirationUnix)
	c.MaxDepth = r.maxDepth
	if m, ns, ok := chainMask(sc); ok {
		child := a1.MaskOf(r.actions...)
		if err := a1.EnforceNarrowing(child, m); err != nil {
			return nil, usageErr(fmt.Errorf("%s: %w", cmd, err), "the intents must be capabilities of the parent's mask")
		}
		if err := c.Extensions.Set(a1.ExtPassportVersion, a1.U64Value(1)); err != nil {
			return nil, failErr(err)
		}
		if ns != "" {
			if err := c.Extensions.Set(a1.ExtPassportNamespace, a1.StrValue(ns)); err != nil {
				return nil, failErr(err)
			}
		}
		if err := c.Extensions.Set(a1.ExtPassportMask, a1.StrValue(child.Hex())); err != nil {
			return nil, failErr(err)
		}
	}
	if err := c.Sign(r.signer); err != nil {
		return nil, failErr(fmt.Errorf("signing: %w", err))
	}
	return c, nil
}

type certInfo struct {
	Index          int               `json:"index"`
	DelegatorPK    string            `json:"delegator_pk_hex"`
	DelegatePK     string            `json:"delegate_pk_hex"`
	IssuedAt       uint64            `json:"issued_at"`
	ExpiresAt      uint64            `json:"expiration_unix"`
	MaxDepth       uint8             `json:"max_depth"`
	ScopeRoot      string            `json:"scope_root_hex"`
	SubsetIntents  []string          `json:"subset_intents_hex"`
	NonceHex       string            `json:"nonce_hex"`
	Extensions     map[string]string `json:"extensions"`
	DigestHex      string            `json:"digest_hex"`
	FingerprintHex string            `json:"fingerprint_hex"`
	SignatureValid bool              `json:"signature_valid"`
	LinkageOK      bool              `json:"linkage_ok"`
	Status         string            `json:"status"`
}

type chainInfo struct {
	Version             uint8      `json:"version"`
	PrincipalPK         string     `json:"principal_pk_hex"`
	PrincipalScope      string     `json:"principal_scope_hex"`
	ChainFingerprintHex string     `json:"chain_fingerprint_hex"`
	Depth               int        `json:"chain_depth"`
	Certs               []certInfo `json:"certs"`
}

func inspectChain(sc *a1.SignedChain, now uint64) chainInfo {
	fp := sc.Fingerprint()
	ci := chainInfo{Version: sc.Version, PrincipalPK: sc.PrincipalPK.Hex(), PrincipalScope: hex.EncodeToString(sc.PrincipalScope[:]),
		ChainFingerprintHex: hex.EncodeToString(fp[:]), Depth: len(sc.Certs), Certs: []certInfo{}}
	expected := sc.PrincipalPK
	for i, c := range sc.Certs {
		d, f := c.Digest(), c.Fingerprint()
		info := certInfo{Index: i, DelegatorPK: c.DelegatorPK.Hex(), DelegatePK: c.DelegatePK.Hex(), IssuedAt: c.IssuedAt,
			ExpiresAt: c.ExpirationUnix, MaxDepth: c.MaxDepth, ScopeRoot: hex.EncodeToString(c.ScopeRoot[:]),
			SubsetIntents: []string{}, NonceHex: hex.EncodeToString(c.Nonce[:]), Extensions: map[string]string{},
			DigestHex: hex.EncodeToString(d[:]), FingerprintHex: hex.EncodeToString(f[:]),
			SignatureValid: c.VerifySignature() == nil, LinkageOK: c.DelegatorPK == expected}
		for _, h := range c.ScopeProof.SubsetIntents {
			info.SubsetIntents = append(info.SubsetIntents, h.Hex())
		}
		for _, k := range c.Extensions.Keys() {
			v, _ := c.Extensions.Get(k)
			info.Extensions[k] = v.String()
		}
		switch {
		case c.IssuedAt >= c.ExpirationUnix:
			info.Status = "invalid-validity"
		case c.ExpirationUnix < now:
			info.Status = "expired"
		case c.IssuedAt > now+a1.DefaultDriftSecs:
			info.Status = "not-yet-valid"
		default:
			info.Status = "valid"
		}
		ci.Certs = append(ci.Certs, info)
		expected = c.DelegatePK
	}
	return ci
}

func cmdChainInspect(e *env, args []string) error {
	path, asJSON, now, err := parseInspectArgs(e, "chain inspect", args)
	if err != nil {
		return err
	}
	sc, err := readChain(e, path)
	if err != nil {
		return err
	}
	ci := inspectChain(sc, now)
	if asJSON {
		return writeJSON(e.stdout, ci)
	}
	w := e.stdout
	fmt.Fprintf(w, "chain fingerprint: %s\n", ci.ChainFingerprintHex)
	fmt.Fprintf(w, "principal:         %s\n", ci.PrincipalPK)
	fmt.Fprintf(w, "principal scope:   %s\n", ci.PrincipalScope)
	fmt.Fprintf(w, "depth:             %d\n", ci.Depth)
	for _, c := range ci.Certs {
		fmt.Fprintf(w, "cert %d:\n", c.Index)
		fmt.Fprintf(w, "  delegator:   %s\n", c.DelegatorPK)
		fmt.Fprintf(w, "  delegate:    %s\n", c.DelegatePK)
		fmt.Fprintf(w, "  issued at:   %s\n", fmtTime(c.IssuedAt))
		fmt.Fprintf(w, "  expires at:  %s\n", fmtTime(c.ExpiresAt))
		fmt.Fprintf(w, "  max depth:   %d\n", c.MaxDepth)
		fmt.Fprintf(w, "  scope root:  %s\n", c.ScopeRoot)
		if len(c.SubsetIntents) == 0 {
			fmt.Fprintf(w, "  scope proof: pass-through\n")
		} else {
			fmt.Fprintf(w, "  scope proof: %d subset intents\n", len(c.SubsetIntents))
			for _, h := range c.SubsetIntents {
				fmt.Fprintf(w, "    %s\n", h)
			}
		}
		for _, k := range sortedKeys(c.Extensions) {
			fmt.Fprintf(w, "  extension:   %s = %s\n", k, c.Extensions[k])
		}
		fmt.Fprintf(w, "  digest:      %s\n", c.DigestHex)
		fmt.Fprintf(w, "  fingerprint: %s\n", c.FingerprintHex)
		fmt.Fprintf(w, "  signature:   %s\n", okBad(c.SignatureValid, "valid", "INVALID"))
		fmt.Fprintf(w, "  linkage:     %s\n", okBad(c.LinkageOK, "ok", "BROKEN"))
		fmt.Fprintf(w, "  status:      %s\n", c.Status)
	}
	return nil
}

func okBad(ok bool, good, bad string) string {
	if ok {
		return good
	}
	return bad
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
