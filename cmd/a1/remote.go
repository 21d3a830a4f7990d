package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
	"github.com/a1-go/a1/client"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/a1-go/a1/store/postgres"
)

// defaultGateway is used when neither --gateway nor A1_GATEWAY_URL is set.
const defaultGateway = "http://localhost:8080"

// defaultRemoteTimeout bounds one gateway or database call.
const defaultRemoteTimeout = 10 * time.Second

func init() {
	register(&command{name: "authorize", run: cmdAuthorize, usage: `Usage: a1 authorize --chain FILE --intent ACTION [--param K=V]... --key AGENTKEY
                    [--gateway URL] [--no-pop] [--token-out FILE [--token-audience AUD]]
                    [--request-id ID]
                    [--timeout DUR] [--json]

Asks a gateway to authorize an intent (POST /v1/authorize). The request
carries a proof of possession signed by AGENTKEY for the gateway id found in
/.well-known/a1-configuration (DESIGN.md §3a), so the chain stays reusable and
a copy of it is useless to anyone else.

  --gateway URL      the gateway (default $A1_GATEWAY_URL, else http://localhost:8080)
  --chain FILE       the signed chain (required)
  --intent ACTION    the intent (required); --param K=V adds parameters
  --key AGENTKEY     the executing agent's key: a file or signer URI (required)
  --no-pop           send no proof (the terminal cert's nonce is consumed: single use)
  --token-out FILE   ask for a VerifiedToken and write it to FILE
  --token-audience AUD
                     bind that token to AUD, the service meant to accept it, and
                     to the executor (docs/spec.md §3.3): it then verifies only
                     for AUD (a1 token verify --audience AUD)
  --request-id ID    correlation id: echoed and recorded in the gateway's audit
                     event (1-128 visible ASCII characters)
  --timeout DUR      request timeout (default 10s)
  --json             print the gateway's answer as JSON

Exit status: 0 authorized, 1 denied or gateway error, 2 usage or input error.

Example:
  a1 authorize --gateway https://a1.example.com --chain chain.json --intent trade.equity --key agent.key
`})
	register(&command{name: "revoke", run: cmdRevoke, usage: `Usage: a1 revoke [--gateway URL] --fingerprint FPHEX [--admin-token T] [--reason R]
       a1 revoke [--gateway URL] --chain FILE --index I --key KEY [--reason R]
       (both: [--request-id ID] [--timeout DUR])

Revokes a cert at a gateway (POST /v1/cert/revoke), either with the admin
token (default $A1_ADMIN_TOKEN; prefer the environment to the command line),
or without it by signing the revocation with the key of the chain's
principal or of a delegator of certs 0..I (DESIGN.md §3a).

  --fingerprint FPHEX  the cert fingerprint (a1 chain inspect shows it)
  --admin-token T      the gateway's admin token
  --chain FILE         the chain holding the cert
  --index I            the cert's index in the chain (0 = first)
  --key KEY            the revoker's key
  --reason R           why (recorded in the audit log)
  --request-id ID      correlation id, recorded in the gateway's audit event
  --timeout DUR        request timeout (default 10s)

Example:
  a1 revoke --chain chain.json --index 1 --key human.key --reason "agent decommissioned"
`})
	register(&command{name: "migrate", run: cmdMigrate, usage: `Usage: a1 migrate [--pg-url URL] [--grant ROLE] [--timeout DUR]

Applies the embedded PostgreSQL migrations (idempotent; safe to run from
several replicas at once). Run it as the schema's owner.

  --pg-url URL   the database (default $A1_PG_URL, else $DATABASE_URL)
  --grant ROLE   then give the existing role ROLE exactly what a gateway
                 needs (no DDL; revocations and audit rows append-only),
                 in one transaction; the gateway then connects as ROLE
                 (docs/storage.md, "Least-privilege role")
  --timeout DUR  overall timeout (default 10s)

Example:
  a1 migrate --pg-url postgres://owner@db:5432/a1?sslmode=verify-full --grant a1_gateway
`})
}

// requestIDFlag registers --request-id.
func requestIDFlag(fs *flag.FlagSet) *string {
	return fs.String("request-id", "", "")
}

// checkRequestID applies the gateway's rule for correlation ids
// (api.ValidRequestIDHeader), or accepts none.
func checkRequestID(cmd, id string) error {
	if id != "" && !api.ValidRequestIDHeader(id) {
		return usagef(fmt.Sprintf("use 1 to %d visible ASCII characters, no spaces", api.MaxRequestIDLen), "%s: invalid --request-id", cmd)
	}
	return nil
}

func (e *env) gatewayClient(url string, timeout time.Duration, opts ...client.Option) (*client.Client, error) {
	if url == "" {
		url = e.getenv("A1_GATEWAY_URL")
	}
	if url == "" {
		url = defaultGateway
	}
	c, err := client.New(url, append([]client.Option{client.WithTimeout(timeout)}, opts...)...)
	if err != nil {
		return nil, usageErr(err, "--gateway is http(s)://host[:port]")
	}
	return c, nil
}

// gatewayErr turns a client error into a CLI error with the gateway's hint.
func gatewayErr(what string, err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		var hints []string
		if ce.Hint != "" {
			hints = append(hints, ce.Hint)
		}
		if ce.RetryAfter > 0 {
			hints = append(hints, fmt.Sprintf("retry after %s", ce.RetryAfter))
		}
		return failErr(fmt.Errorf("%s: %w", what, err), hints...)
	}
	return failErr(fmt.Errorf("%s: %w", what, err), "check --gateway and that the gateway is running")
}

func cmdAuthorize(e *env, args []string) error {
	fs := flagSet("authorize")
	var gw, chainPath, intent, key, tokenOut, tokenAudience string
	var params stringsFlag
	var noPoP, asJSON bool
	var timeout time.Duration
	fs.StringVar(&tokenAudience, "token-audience", "", "")
	fs.StringVar(&gw, "gateway", "", "")
	fs.StringVar(&chainPath, "chain", "", "")
	fs.StringVar(&intent, "intent", "", "")
	fs.Var(&params, "param", "")
	keyFlag(fs, &key)
	fs.BoolVar(&noPoP, "no-pop", false, "")
	fs.StringVar(&tokenOut, "token-out", "", "")
	fs.DurationVar(&timeout, "timeout", defaultRemoteTimeout, "")
	fs.BoolVar(&asJSON, "json", false, "")
	requestID := requestIDFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkRequestID("authorize", *requestID); err != nil {
		return err
	}
	if err := checkTimeout("authorize", timeout); err != nil {
		return err
	}
	if err := need("authorize", map[string]string{"chain": chainPath, "intent": intent, "key": key}); err != nil {
		return err
	}
	if flagGiven(fs, "token-audience") {
		if tokenOut == "" {
			return usagef("--token-audience binds the token written by --token-out", "authorize: --token-audience without --token-out")
		}
		if err := a1.ValidateAudience(tokenAudience); err != nil {
			return usagef("1 to 256 bytes without control characters", "authorize: --token-audience: %v", err)
		}
	}
	pm, err := parseParams(params)
	if err != nil {
		return err
	}
	if _, err := intentHash(intent, params); err != nil {
		return err
	}
	sc, err := readChain(e, chainPath)
	if err != nil {
		return err
	}
	s, pk, err := openKey(e, key)
	if err != nil {
		return err
	}
	c, err := e.gatewayClient(gw, timeout)
	if err != nil {
		return err
	}
	req := &client.AuthorizeRequest{Chain: sc, Intent: intent, Params: pm, ReturnToken: tokenOut != "", TokenAudience: tokenAudience, RequestID: *requestID}
	if noPoP {
		req.Executor = pk
	} else {
		req.Agent = s
	}
	res, err := c.Authorize(e.ctx, req)
	if err != nil {
		var ce *client.Error
		if asJSON && errors.As(err, &ce) {
			out := map[string]any{"authorized": false, "status": ce.Status, "error": ce.Message, "error_code": ce.Code, "hint": ce.Hint}
			if ce.HasHop {
				out["hop"] = ce.Hop
			}
			if werr := writeJSON(e.stdout, out); werr != nil {
				return werr
			}
		}
		return gatewayErr("authorize", err)
	}
	if tokenOut != "" && res.Token != nil {
		b, err := json.MarshalIndent(res.Token, "", "  ")
		if err != nil {
			return failErr(err)
		}
		if err := writeOutput(e, tokenOut, b); err != nil {
			return err
		}
	}
	if asJSON {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "authorized:        %v\nchain depth:       %d\nchain fingerprint: %s\nverified at:       %s\n",
		res.Authorized, res.ChainDepth, res.ChainFingerprint, fmtTime(res.VerifiedAtUnix))
	if res.Receipt.PassportNamespace != "" {
		fmt.Fprintf(e.stdout, "namespace:         %s\n", res.Receipt.PassportNamespace)
	}
	if !res.Authorized {
		return exitError(exitFail)
	}
	return nil
}

func cmdRevoke(e *env, args []string) error {
	fs := flagSet("revoke")
	var gw, fpS, token, chainPath, key, reason string
	var index int
	var timeout time.Duration
	fs.StringVar(&gw, "gateway", "", "")
	fs.StringVar(&fpS, "fingerprint", "", "")
	fs.StringVar(&token, "admin-token", "", "")
	fs.StringVar(&chainPath, "chain", "", "")
	fs.IntVar(&index, "index", -1, "")
	keyFlag(fs, &key)
	fs.StringVar(&reason, "reason", "", "")
	fs.DurationVar(&timeout, "timeout", defaultRemoteTimeout, "")
	requestID := requestIDFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkRequestID("revoke", *requestID); err != nil {
		return err
	}
	if err := checkTimeout("revoke", timeout); err != nil {
		return err
	}
	if *requestID != "" {
		e.ctx = client.ContextWithRequestID(e.ctx, *requestID)
	}
	if len(reason) > a1.MaxRevocationReasonLen {
		return usagef("", "revoke: --reason is longer than %d bytes", a1.MaxRevocationReasonLen)
	}
	both := "use either --fingerprint with the admin token, or --chain --index --key (a signed revocation)"
	var res *client.RevokeResponse
	switch {
	case fpS != "" && chainPath != "":
		return usagef(both, "revoke: --fingerprint and --chain are exclusive")
	case fpS != "":
		b, err := hex.DecodeString(strings.TrimSpace(fpS))
		if err != nil || len(b) != 32 {
			return usagef("a fingerprint is 64 hex characters, as printed by `a1 chain inspect`", "revoke: invalid --fingerprint")
		}
		if token == "" {
			token = e.getenv("A1_ADMIN_TOKEN")
		}
		if token == "" {
			return usagef("pass --admin-token or set A1_ADMIN_TOKEN; or sign the revocation with --chain --index --key", "revoke: no admin token")
		}
		c, err := e.gatewayClient(gw, timeout, client.WithAdminToken(token))
		if err != nil {
			return err
		}
		if res, err = c.Revoke(e.ctx, [32]byte(b), reason); err != nil {
			return gatewayErr("revoke", err)
		}
	case chainPath != "":
		if err := need("revoke", map[string]string{"key": key}); err != nil {
			return err
		}
		indexSet := false
		fs.Visit(func(f *flag.Flag) { indexSet = indexSet || f.Name == "index" })
		if !indexSet {
			return usagef("give the cert's index: 0 is the first cert (a1 chain inspect lists them)", "revoke: --index is required with --chain")
		}
		sc, err := readChain(e, chainPath)
		if err != nil {
			return err
		}
		if index < 0 || index >= len(sc.Certs) {
			return usagef(fmt.Sprintf("--index is 0..%d for this chain (a1 chain inspect lists the certs)", len(sc.Certs)-1),
				"revoke: --index %d is out of range", index)
		}
		s, _, err := openKey(e, key)
		if err != nil {
			return err
		}
		c, err := e.gatewayClient(gw, timeout)
		if err != nil {
			return err
		}
		if res, err = c.RevokeSigned(e.ctx, sc, index, reason, s); err != nil {
			return gatewayErr("revoke", err)
		}
	default:
		return usagef(both, "revoke: nothing to revoke")
	}
	state := "revoked"
	if !res.NewlyRevoked {
		state = "already revoked"
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", state, res.FingerprintHex)
	return nil
}

func cmdMigrate(e *env, args []string) error {
	fs := flagSet("migrate")
	var url string
	var timeout time.Duration
	var role string
	fs.StringVar(&url, "pg-url", "", "")
	fs.StringVar(&role, "grant", "", "")
	fs.DurationVar(&timeout, "timeout", defaultRemoteTimeout, "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkTimeout("migrate", timeout); err != nil {
		return err
	}
	granting := false
	fs.Visit(func(f *flag.Flag) { granting = granting || f.Name == "grant" })
	if granting && (role == "" || len(role) > maxRoleLen) {
		return usagef(fmt.Sprintf("name an existing role of at most %d bytes", maxRoleLen), "migrate: invalid --grant")
	}
	for _, v := range []string{"A1_PG_URL", "DATABASE_URL"} {
		if url == "" {
			url = e.getenv(v)
		}
	}
	if url == "" {
		return usagef("pass --pg-url or set A1_PG_URL", "migrate: no database URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can echo the URL, password included: don't.
		return usagef("the URL is postgres://user@host:5432/db?sslmode=…", "migrate: invalid --pg-url")
	}
	ctx, cancel := contextWithTimeout(e, timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return failErr(fmt.Errorf("migrate: %w", err))
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool); err != nil {
		return failErr(fmt.Errorf("migrate: %w", err), "check that the database is reachable and the user may create tables")
	}
	ms, err := postgres.Migrations()
	if err != nil {
		return failErr(err)
	}
	fmt.Fprintf(e.stdout, "migrations applied: schema at version %d\n", ms[len(ms)-1].Version)
	if role == "" {
		return nil
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, q := range postgres.Grants(role) {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return failErr(fmt.Errorf("migrate: grant: %w", err), "create the role first (CREATE ROLE "+role+" LOGIN ...) and run this as the schema's owner")
	}
	fmt.Fprintf(e.stdout, "granted %s what a gateway needs\n", role)
	return nil
}

// maxRoleLen is PostgreSQL's identifier limit (NAMEDATALEN - 1).
const maxRoleLen = 63
