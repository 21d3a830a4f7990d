package deploytest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/a1-go/a1/audit/sinks"
	"github.com/a1-go/a1/gateway"
)

// testSecrets stand in for the operator's secrets: the Kubernetes Secret
// created by the kubectl command documented in the manifest, and the values
// of deploy/.env for Compose.
var testSecrets = map[string]string{
	"A1_SIGNING_KEY_HEX": strings.Repeat("11", 32),
	"A1_MAC_KEY_HEX":     strings.Repeat("22", 32),
	"A1_ADMIN_TOKEN":     "deploy-test-admin-token-0123456789",
	"A1_PG_PASSWORD":     "deploy-test-pg-password",
	"A1_REDIS_PASSWORD":  "deploy-test-redis-password",
	"A1_PG_URL":          "postgres://a1_gateway:pw@pgbouncer:6432/a1?sslmode=verify-full",
}

// otherSecrets stand in for the Kubernetes Secrets other than the
// gateway's, by name: the migration Job's owner credentials.
var otherSecrets = map[string]map[string]string{
	"a1-migrate": {"A1_PG_URL": "postgres://a1_owner:pw@postgres:5432/a1?sslmode=verify-full"},
}

// repoPath is a path inside the repository; the tests run in
// deploy/deploytest.
func repoPath(t testing.TB, rel ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", ".."}, rel...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readRepoFile(t testing.TB, rel ...string) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, rel...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gatewayVars are the A1_* variables `a1 gateway` reads.
type gatewayVars struct {
	known   map[string]bool // every variable the gateway reads
	envOnly map[string]bool // secrets LoadConfig takes from the environment only
}

// loadGatewayVars collects the variables from the gateway itself, since
// LoadConfig ignores variables it does not know and the gateway exports no
// list of them: the names LoadConfig and the audit sink configuration
// (sinks.FromEnv, read by gateway.NewServer) ask their getenv for, and the
// names `a1 gateway -h` documents, which also marks the environment-only
// secrets.
var loadGatewayVars = sync.OnceValues(func() (gatewayVars, error) {
	v := gatewayVars{known: map[string]bool{}, envOnly: map[string]bool{}}
	record := func(k string) string {
		v.known[k] = true
		return ""
	}
	if _, err := gateway.LoadConfig(nil, record, io.Discard); err != nil {
		return v, fmt.Errorf("LoadConfig with an empty environment: %w", err)
	}
	if _, err := sinks.FromEnv(record); err != nil {
		return v, fmt.Errorf("sinks.FromEnv with an empty environment: %w", err)
	}

	var usage bytes.Buffer
	if _, err := gateway.LoadConfig([]string{"-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		return v, fmt.Errorf("a1 gateway -h: want flag.ErrHelp, got %v", err)
	}
	text := usage.String()
	for _, m := range regexp.MustCompile(`\(env (A1_[A-Z0-9_]+)\)`).FindAllStringSubmatch(text, -1) {
		v.known[m[1]] = true
	}
	// The secrets section: "...environment only:" then one "  A1_X  help"
	// line each, up to a blank line.
	_, secrets, ok := strings.Cut(text, "environment only:\n")
	if !ok {
		return v, fmt.Errorf("a1 gateway -h lists no environment-only secrets:\n%s", text)
	}
	secrets, _, _ = strings.Cut(secrets, "\n\n")
	for _, m := range regexp.MustCompile(`(?m)^\s+(A1_[A-Z0-9_]+)\s`).FindAllStringSubmatch(secrets, -1) {
		v.envOnly[m[1]] = true
		v.known[m[1]] = true
	}
	// Guard the extraction itself: a change of the help format must fail
	// here, not silently accept every variable or none.
	for _, k := range []string{"A1_LISTEN", "A1_STORE", "A1_SHUTDOWN_TIMEOUT", "A1_AUDIT_SINKS", "A1_AUDIT_QUEUE_SIZE", "A1_DD_API_KEY"} {
		if !v.known[k] {
			return v, fmt.Errorf("the collected gateway variables lack %s: %v", k, sortedKeys(v.known))
		}
	}
	for _, k := range []string{"A1_SIGNING_KEY_HEX", "A1_MAC_KEY_HEX", "A1_ADMIN_TOKEN"} {
		if !v.envOnly[k] {
			return v, fmt.Errorf("a1 gateway -h does not list %s as an environment-only secret: %v", k, sortedKeys(v.envOnly))
		}
	}
	return v, nil
})

func mustGatewayVars(t testing.TB) gatewayVars {
	t.Helper()
	v, err := loadGatewayVars()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// gatewayConfig is what `a1 gateway` makes of env: every A1_* variable must
// be one the gateway reads (LoadConfig silently ignores the others, so a
// misspelt setting would otherwise fall back to its default), and LoadConfig
// and the audit sink configuration must accept the values.
func gatewayConfig(env map[string]string) (*gateway.Config, error) {
	vars, err := loadGatewayVars()
	if err != nil {
		return nil, err
	}
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, "A1_") && !vars.known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("a1 gateway does not read %s (misspelt? it would be ignored)", strings.Join(unknown, ", "))
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := gateway.LoadConfig(nil, getenv, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("gateway.LoadConfig refuses the environment: %w", err)
	}
	if _, err := sinks.FromEnv(getenv); err != nil {
		return nil, fmt.Errorf("the audit sink configuration is refused: %w", err)
	}
	return cfg, nil
}

// listenPort is the port of a validated A1_LISTEN.
func listenPort(cfg *gateway.Config) (int, error) {
	i := strings.LastIndexByte(cfg.Listen, ':')
	p, err := strconv.Atoi(cfg.Listen[i+1:])
	if i < 0 || err != nil || p == 0 {
		return 0, fmt.Errorf("A1_LISTEN %q has no fixed port", cfg.Listen)
	}
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestGatewayVariables(t *testing.T) {
	vars := mustGatewayVars(t)
	if len(vars.known) < 40 {
		t.Fatalf("only %d gateway variables collected: %v", len(vars.known), sortedKeys(vars.known))
	}
	t.Logf("%d variables, environment-only secrets %v", len(vars.known), sortedKeys(vars.envOnly))
}

// TestGatewayConfigRejects shows that gatewayConfig, used by every check of
// a deployment's environment, rejects what the gateway would ignore or
// refuse.
func TestGatewayConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"misspelt variable", map[string]string{"A1_SHUTDOWN_TIMEOT": "10s"}, "A1_SHUTDOWN_TIMEOT"},
		{"bad value", map[string]string{"A1_STORE": "mysql"}, "A1_STORE"},
		{"bad audit value", map[string]string{"A1_AUDIT_QUEUE_SIZE": "many"}, "A1_AUDIT_QUEUE_SIZE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gatewayConfig(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %s, got %v", tc.want, err)
			}
		})
	}
	if _, err := gatewayConfig(map[string]string{"A1_STORE": "memory", "PATH": "/bin"}); err != nil {
		t.Fatalf("a valid environment is refused: %v", err)
	}
}

// check is one named property of a decoded deployment file.
type check[T any] struct {
	name  string
	check func(*T) error
}

// runChecks runs every check on v as a subtest.
func runChecks[T any](t *testing.T, checks []check[T], v *T) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(v); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// mustReject runs the check called name on v, a deliberately broken file,
// and fails the test unless the check reports it.
func mustReject[T any](t *testing.T, checks []check[T], name string, v *T) {
	t.Helper()
	i := slices.IndexFunc(checks, func(c check[T]) bool { return c.name == name })
	if i < 0 {
		t.Fatalf("no check %q", name)
	}
	err := checks[i].check(v)
	if err == nil {
		t.Fatalf("check %q accepts the broken file", name)
	}
	t.Log(err)
}
