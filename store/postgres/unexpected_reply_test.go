package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

// scratchSchema creates an empty schema, dropped (with everything in it)
// when the test ends, and returns an admin connection, the schema name and
// the URL of a connection whose search_path is that schema alone.
func scratchSchema(t *testing.T) (*pgx.Conn, string, string) {
	t.Helper()
	base := dbURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	schema := "unexp_" + strings.TrimSuffix(storetest.RandomPrefix(), "-")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop scratch schema: %v", err)
		}
		conn.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return conn, schema, u.String()
}

// notADecision fails unless err is ErrUnavailable and nothing else: not a
// revocation or replay decision, and not the server missing the fake
// object (which would make the row pass for the wrong reason).
func notADecision(t *testing.T, err error, cause string) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v (%T), want ErrUnavailable", err, err)
	}
	var rev *store.RevokedError
	var rep *store.ReplayError
	if errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrReplay) || errors.As(err, &rev) || errors.As(err, &rep) {
		t.Fatalf("err = %v: a decision as well as ErrUnavailable", err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "42883" || pg.Code == "42P01" || pg.Code == "42703") {
		t.Fatalf("the fake object was not reached: %v", err)
	}
	if !strings.Contains(err.Error(), cause) {
		t.Fatalf("err = %v, want a cause containing %q", err, cause)
	}
}

// TestAuthorizeUnexpectedReply: an a1_authorize that answers something
// outside its contract (an index beyond the request, NULL, another type,
// no row, an error) makes Authorize fail closed with ErrUnavailable, never
// a revocation or replay decision. The function is a fake in a scratch
// schema the store reaches through search_path; control rows prove the
// fake is the function called. Every row runs in three query exec modes
// (text and binary results).
func TestAuthorizeUnexpectedReply(t *testing.T) {
	admin, schema, scratchURL := scratchSchema(t)
	ctx := context.Background()
	fp0, fp1 := storetest.Rand32(), storetest.Rand32()
	exp := time.Now().Add(time.Hour)
	two := store.AuthorizeRequest{Tenant: "t", Fingerprints: [][32]byte{fp0, fp1},
		Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: exp}, {Key: storetest.Rand32(), ExpiresAt: exp}}}
	none := store.AuthorizeRequest{Tenant: "t"}
	fpsOnly := store.AuthorizeRequest{Tenant: "t", Fingerprints: [][32]byte{fp0}}
	noncesOnly := store.AuthorizeRequest{Tenant: "t", Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: exp}}}

	const sqlInt = "RETURNS integer LANGUAGE sql AS $$ SELECT %s $$"
	rows := []struct {
		name string
		fn   string // everything after the signature in CREATE FUNCTION
		req  store.AuthorizeRequest
		// cause is a fragment of the error; "" for a control row, whose
		// outcome check judges instead.
		cause string
		check func(error) error
	}{
		// Controls: the fake answers reach Authorize as decisions.
		{name: "control 0 allows", fn: fmt.Sprintf(sqlInt, "0"), req: two, check: func(err error) error {
			if err != nil {
				return fmt.Errorf("want nil, got %v", err)
			}
			return nil
		}},
		{name: "control 2 revokes hop 1", fn: fmt.Sprintf(sqlInt, "2"), req: two, check: func(err error) error {
			var rev *store.RevokedError
			if !errors.As(err, &rev) || rev.Index != 1 || rev.Fingerprint != fp1 || errors.Is(err, store.ErrUnavailable) {
				return fmt.Errorf("want RevokedError at index 1, got %v", err)
			}
			return nil
		}},
		{name: "control -2 replays nonce 1", fn: fmt.Sprintf(sqlInt, "-2"), req: two, check: func(err error) error {
			var rep *store.ReplayError
			if !errors.As(err, &rep) || rep.Index != 1 || errors.Is(err, store.ErrUnavailable) {
				return fmt.Errorf("want ReplayError at index 1, got %v", err)
			}
			return nil
		}},

		// Integers outside the request.
		{name: "index past the fingerprints", fn: fmt.Sprintf(sqlInt, "3"), req: two, cause: "a1_authorize returned 3"},
		{name: "index past the nonces", fn: fmt.Sprintf(sqlInt, "-3"), req: two, cause: "a1_authorize returned -3"},
		{name: "revocation without fingerprints", fn: fmt.Sprintf(sqlInt, "1"), req: noncesOnly, cause: "a1_authorize returned 1"},
		{name: "replay without nonces", fn: fmt.Sprintf(sqlInt, "-1"), req: fpsOnly, cause: "a1_authorize returned -1"},
		{name: "answer to an empty request", fn: fmt.Sprintf(sqlInt, "1"), req: none, cause: "a1_authorize returned 1"},
		{name: "max int32", fn: fmt.Sprintf(sqlInt, "2147483647"), req: two, cause: "a1_authorize returned 2147483647"},
		// -MinInt32 overflows int32 back to MinInt32: it must not pass
		// the nonce-range check as a negative index.
		{name: "min int32", fn: fmt.Sprintf(sqlInt, "(-2147483648)::integer"), req: two, cause: "a1_authorize returned -2147483648"},

		// Other types and shapes.
		{name: "NULL", fn: fmt.Sprintf(sqlInt, "NULL::integer"), req: two, cause: "authorize"},
		{name: "bigint beyond int32 (low bits 1)", fn: "RETURNS bigint LANGUAGE sql AS $$ SELECT 4294967297::bigint $$", req: two, cause: "authorize"},
		{name: "bigint beyond int32 (low bits -1)", fn: "RETURNS bigint LANGUAGE sql AS $$ SELECT (-4294967297)::bigint $$", req: two, cause: "authorize"},
		{name: "numeric fraction", fn: "RETURNS numeric LANGUAGE sql AS $$ SELECT 1.5 $$", req: two, cause: "authorize"},
		{name: "text", fn: "RETURNS text LANGUAGE sql AS $$ SELECT 'revoked' $$", req: two, cause: "authorize"},
		{name: "boolean", fn: "RETURNS boolean LANGUAGE sql AS $$ SELECT true $$", req: two, cause: "authorize"},
		{name: "bytea", fn: "RETURNS bytea LANGUAGE sql AS $$ SELECT '\\x01'::bytea $$", req: two, cause: "authorize"},
		{name: "integer array", fn: "RETURNS integer[] LANGUAGE sql AS $$ SELECT ARRAY[1] $$", req: two, cause: "authorize"},
		{name: "record", fn: "RETURNS TABLE(a integer, b integer) LANGUAGE sql AS $$ SELECT 1, 2 $$", req: two, cause: "authorize"},
		{name: "no row", fn: "RETURNS SETOF integer LANGUAGE sql AS $$ SELECT 1 WHERE false $$", req: two, cause: "no rows"},
		{name: "raises", fn: "RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'fake failure'; END $$", req: two, cause: "fake failure"},
	}
	sig := schema + ".a1_authorize(text, bytea[], bytea[], timestamptz[])"
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if _, err := admin.Exec(ctx, "DROP FUNCTION IF EXISTS "+sig); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Exec(ctx, "CREATE FUNCTION "+sig+" "+r.fn); err != nil {
				t.Fatalf("create fake: %v", err)
			}
			for _, mode := range []string{"exec", "cache_statement", "simple_protocol"} {
				s := open(t, postgres.Config{URL: scratchURL, QueryExecMode: mode, Timeout: 10 * time.Second})
				err := s.Authorize(ctx, r.req)
				s.Close()
				t.Run(mode, func(t *testing.T) {
					if r.check != nil {
						if cerr := r.check(err); cerr != nil {
							t.Fatal(cerr)
						}
						return
					}
					notADecision(t, err, r.cause)
				})
			}
		})
	}
}

// TestListUnexpectedRows: a stored fingerprint or root key that is not 32
// bytes, or a NULL where the schema has NOT NULL, makes the listing fail
// with ErrUnavailable instead of returning a truncated or zero-padded key.
// The tables are fakes without the real constraints, in a scratch schema;
// a well-formed tenant proves the fakes are the tables read.
func TestListUnexpectedRows(t *testing.T) {
	admin, schema, scratchURL := scratchSchema(t)
	ctx := context.Background()
	good := storetest.Rand32()
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, q := range []string{
		`CREATE TABLE ` + schema + `.a1_revocation (tenant text, fingerprint bytea, reason text, actor text, revoked_at timestamptz)`,
		`CREATE TABLE ` + schema + `.a1_root (tenant text, public_key bytea, label text, added_by text, added_at timestamptz)`,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	type bad struct {
		tenant string
		key    []byte
		text   *string // reason / label; nil stores NULL
		cause  string
	}
	str := func(s string) *string { return &s }
	rows := []bad{
		{"short", good[:31], str("r"), "of 31 bytes"},
		{"long", append(good[:], 0), str("r"), "of 33 bytes"},
		{"one", []byte{1}, str("r"), "of 1 bytes"},
		{"nulltext", good[:], nil, "list"},
		{"nullkey", nil, str("r"), "list"},
		{"good", good[:], str("r"), ""},
	}
	for _, r := range rows {
		if _, err := admin.Exec(ctx, `INSERT INTO `+schema+`.a1_revocation VALUES ($1, $2, $3, 'actor', $4)`, r.tenant, r.key, r.text, at); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `INSERT INTO `+schema+`.a1_root VALUES ($1, $2, $3, 'admin', $4)`, r.tenant, r.key, r.text, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []string{"exec", "cache_statement"} {
		s := open(t, postgres.Config{URL: scratchURL, QueryExecMode: mode, Timeout: 10 * time.Second})
		for _, r := range rows {
			t.Run(mode+"/"+r.tenant, func(t *testing.T) {
				revs, cursor, rerr := s.ListRevocations(ctx, r.tenant, store.Page{Limit: 10})
				roots, oerr := s.ListRoots(ctx, r.tenant)
				if r.tenant == "nullkey" {
					// A NULL key matches no `fingerprint > ''` bound: the
					// revocation list is empty; the root list reads it.
					if rerr != nil || len(revs) != 0 {
						t.Errorf("ListRevocations = %v, %v; want none", revs, rerr)
					}
					notADecision(t, oerr, "list roots")
					return
				}
				if r.cause == "" {
					if rerr != nil || len(revs) != 1 || revs[0].Fingerprint != good || revs[0].Reason != "r" || !revs[0].RevokedAt.Equal(at) || cursor != "" {
						t.Errorf("ListRevocations = %+v, %q, %v", revs, cursor, rerr)
					}
					if oerr != nil || len(roots) != 1 || roots[0].PublicKey != good || roots[0].Label != "r" {
						t.Errorf("ListRoots = %+v, %v", roots, oerr)
					}
					rev, ok, err := s.RevocationStatus(ctx, r.tenant, good)
					if err != nil || !ok || rev.Fingerprint != good {
						t.Errorf("RevocationStatus = %+v, %v, %v", rev, ok, err)
					}
					return
				}
				if revs != nil || roots != nil {
					t.Errorf("rows returned with the error: %v %v", revs, roots)
				}
				notADecision(t, rerr, r.cause)
				notADecision(t, oerr, r.cause)
				if r.tenant == "nulltext" {
					// The fingerprint is well formed, so the status lookup
					// finds the row and must fail on its NULL reason.
					_, ok, err := s.RevocationStatus(ctx, r.tenant, good)
					if ok {
						t.Errorf("RevocationStatus reported a revocation with the error")
					}
					notADecision(t, err, "revocation status")
				}
			})
		}
		s.Close()
	}
}
