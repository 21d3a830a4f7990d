package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"a1": main})
}

func TestScript(t *testing.T) {
	gw := newTestGateway()
	t.Cleanup(gw.Close)
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("A1_GATEWAY_URL", gw.URL)
			e.Setenv("TEST_ADMIN_TOKEN", testAdminToken)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// setenvfile VAR FILE: set VAR to FILE's trimmed contents.
			"setenvfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: setenvfile VAR FILE")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			},
			// setjson VAR FILE PATH: set VAR to the JSON value at PATH
			// (dot-separated keys and array indexes) in FILE.
			"setjson": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 {
					ts.Fatalf("usage: setjson VAR FILE PATH")
				}
				var v any
				dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[1])))
				dec.UseNumber()
				ts.Check(dec.Decode(&v))
				for _, k := range strings.Split(args[2], ".") {
					switch x := v.(type) {
					case map[string]any:
						v = x[k]
					case []any:
						i, err := strconv.Atoi(k)
						ts.Check(err)
						v = x[i]
					default:
						ts.Fatalf("setjson: %s: no key %q", args[2], k)
					}
				}
				ts.Setenv(args[0], fmt.Sprint(v))
			},
			// perm FILE MODE: FILE's permission bits are MODE (octal).
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: perm FILE MODE")
				}
				st, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				want, err := strconv.ParseUint(args[1], 8, 32)
				ts.Check(err)
				if got := uint64(st.Mode().Perm()); (got == want) == neg {
					ts.Fatalf("%s has mode %#o, want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
				}
			},
			// chmod MODE FILE.
			"chmod": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: chmod MODE FILE")
				}
				m, err := strconv.ParseUint(args[0], 8, 32)
				ts.Check(err)
				ts.Check(os.Chmod(ts.MkAbs(args[1]), os.FileMode(m)))
			},
		},
	})
}

// runWith runs the CLI with args and the given environment; it returns the
// exit code and stderr.
func runWith(t *testing.T, vars map[string]string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return vars[k] }, now: time.Now}
	return e.main(args), errb.String()
}
