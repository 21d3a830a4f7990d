package gateway_test

import (
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/a1-go/a1/gateway"
)

// The deployment files cannot be run here (no container registry), but the
// gateway configuration they carry can: these tests read the A1_* settings
// out of deploy/ as the orchestrator would hand them to the process and
// check that LoadConfig accepts them, so a renamed variable or a bad value in
// a deployment file fails CI.

var (
	// compose: `    A1_X: value` in the gateway environment block.
	composeEnv = regexp.MustCompile(`(?m)^    (A1_[A-Z0-9_]+): *(.*)$`)
	// k8s ConfigMap data: `  A1_X: value`.
	k8sData = regexp.MustCompile(`(?m)^  (A1_[A-Z0-9_]+): *(.*)$`)
	// k8s container env: `- { name: A1_X, value: "v" }`.
	k8sEnv = regexp.MustCompile(`\{ *name: *(A1_[A-Z0-9_]+), *value: *"?([^"}]*)"? *\}`)
	// k8s secret keys from the documented kubectl command.
	k8sSecret = regexp.MustCompile(`--from-literal=(A1_[A-Z0-9_]+)=`)
	// compose interpolation: ${VAR:?msg} (required) or ${VAR:-default}.
	interp = regexp.MustCompile(`\$\{([A-Z0-9_]+):([?-])([^}]*)\}`)
)

// deploySecrets stands in for the operator's secrets.
var deploySecrets = map[string]string{
	"A1_SIGNING_KEY_HEX": strings.Repeat("11", 32),
	"A1_MAC_KEY_HEX":     strings.Repeat("22", 32),
	"A1_ADMIN_TOKEN":     "deploy-test-admin-token-0123456789",
	"A1_PG_PASSWORD":     "pw",
	"A1_REDIS_PASSWORD":  "pw",
	"A1_PG_URL":          "postgres://a1:pw@pgbouncer:6432/a1?sslmode=verify-full",
}

func readDeploy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadDeployConfig(t *testing.T, env map[string]string) *gateway.Config {
	t.Helper()
	cfg, err := gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the deployment's configuration is refused: %v\nenv: %v", err, env)
	}
	return cfg
}

func TestDeployComposeConfig(t *testing.T) {
	src := uncommented(readDeploy(t, "docker-compose.yml"))
	env := map[string]string{}
	for _, m := range composeEnv.FindAllStringSubmatch(src, -1) {
		v := strings.Trim(m[2], `"`)
		v = interp.ReplaceAllStringFunc(v, func(s string) string {
			p := interp.FindStringSubmatch(s)
			if p[2] == "-" {
				return p[3]
			}
			sec, ok := deploySecrets[p[1]]
			if !ok {
				t.Fatalf("compose requires %s, which .env.example does not list", p[1])
			}
			return sec
		})
		env[m[1]] = v
	}
	if len(env) < 8 || env["A1_STORE"] != "postgres" {
		t.Fatalf("gateway environment not found in docker-compose.yml: %v", env)
	}
	cfg := loadDeployConfig(t, env)
	if cfg.Store != "postgres" || cfg.PGURL == "" || !cfg.Migrate {
		t.Fatalf("compose config: store %q, pg %q, migrate %v", cfg.Store, cfg.PGURL, cfg.Migrate)
	}

	// Every secret compose requires is listed in .env.example.
	example := readDeploy(t, ".env.example")
	for _, m := range interp.FindAllStringSubmatch(src, -1) {
		if m[2] == "?" && !strings.Contains(example, "\n"+m[1]+"=") {
			t.Errorf("compose requires %s but .env.example does not list it", m[1])
		}
	}
}

func TestDeployKubernetesConfig(t *testing.T) {
	src := readDeploy(t, "k8s/a1-gateway.yaml")
	env := map[string]string{}
	for _, m := range k8sData.FindAllStringSubmatch(src, -1) {
		env[m[1]] = strings.Trim(m[2], `"`)
	}
	for _, m := range k8sEnv.FindAllStringSubmatch(src, -1) {
		env[m[1]] = m[2]
	}
	for _, m := range k8sSecret.FindAllStringSubmatch(src, -1) {
		sec, ok := deploySecrets[m[1]]
		if !ok {
			t.Fatalf("no test value for secret key %s", m[1])
		}
		env[m[1]] = sec
	}
	if env["A1_STORE"] == "" || env["A1_ADMIN_TOKEN"] == "" || env["A1_SHUTDOWN_TIMEOUT"] == "" {
		t.Fatalf("gateway settings not found in the manifest: %v", env)
	}
	cfg := loadDeployConfig(t, env)
	if cfg.ProxyMode != "x-forwarded-for" || len(cfg.TrustedProxies) == 0 {
		t.Fatalf("k8s config: proxy mode %q, trusted proxies %v", cfg.ProxyMode, cfg.TrustedProxies)
	}
	// The pod must finish its shutdown (preStop, drain, audit flush) within
	// the grace period, or the kubelet kills it before the audit is flushed.
	grace := regexp.MustCompile(`terminationGracePeriodSeconds: *(\d+)`).FindStringSubmatch(src)
	preStop := regexp.MustCompile(`preStop: *\{ *sleep: *\{ *seconds: *(\d+)`).FindStringSubmatch(src)
	if grace == nil || preStop == nil {
		t.Fatal("terminationGracePeriodSeconds or the preStop sleep is missing")
	}
	need := atoiT(t, preStop[1]) + 2*int(cfg.ShutdownTimeout.Seconds())
	if need > atoiT(t, grace[1]) {
		t.Fatalf("preStop %ss + drain and audit flush 2x%v = %ds exceeds terminationGracePeriodSeconds %s",
			preStop[1], cfg.ShutdownTimeout, need, grace[1])
	}
}

func atoiT(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// uncommented drops YAML comment lines.
func uncommented(src string) string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
