package gateway

import (
	"os"
	"strings"
	"testing"
)

// TestEveryVariableDocumented: each variable the gateway reads has a row in
// docs/gateway.md's configuration table, with its flag when it has one, and
// the table names no variable the gateway does not read.
func TestEveryVariableDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "| `A1_"); ok {
			if i := strings.IndexByte(name, '`'); i > 0 {
				rows["A1_"+name[:i]] = line
			}
		}
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
		row, ok := rows[s.env]
		if !ok {
			t.Errorf("%s has no row in docs/gateway.md", s.env)
			continue
		}
		if s.flag != "" && !strings.Contains(row, "`-"+s.flag+"`") {
			t.Errorf("%s: the row does not name the flag -%s", s.env, s.flag)
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("docs/gateway.md documents %s, which the gateway does not read", name)
		}
	}
}
