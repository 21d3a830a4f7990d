package deploytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/a1-go/a1/gateway"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFile is deploy/docker-compose.yml loaded by the Compose loader,
// with the variables it interpolates and deploy/.env.example.
type composeFile struct {
	project  *types.Project
	vars     map[string]template.Variable // ${VAR...} references
	example  map[string]string            // deploy/.env.example
	image    *image
	repoRoot string
}

// loadCompose loads src as `docker compose -f deploy/docker-compose.yml`
// does (schema validation, interpolation, merge keys, path resolution,
// consistency checks), with env as the environment.
func loadCompose(ctx context.Context, dir, src string, env map[string]string) (*types.Project, error) {
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml"), Content: []byte(src)}},
		Environment: env,
	})
}

// composeVars are the variables src interpolates, read from the loader's
// model before interpolation.
func composeVars(ctx context.Context, dir, src string) (map[string]template.Variable, error) {
	model, err := loader.LoadModelWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml"), Content: []byte(src)}},
	}, func(o *loader.Options) {
		o.SkipInterpolation = true
		o.SkipValidation = true
	})
	if err != nil {
		return nil, err
	}
	vars := template.ExtractVariables(model, template.DefaultPattern)
	if len(vars) == 0 {
		return nil, errors.New("the compose file interpolates no variable")
	}
	return vars, nil
}

// exampleEnv is deploy/.env.example with each listed secret filled with its
// test value; optional entries stay empty as in the example.
func exampleEnv(example map[string]string) map[string]string {
	env := map[string]string{}
	for k := range example {
		env[k] = testSecrets[k]
	}
	return env
}

func readCompose(t testing.TB) (*composeFile, string) {
	t.Helper()
	ctx := t.Context()
	dir := repoPath(t, "deploy")
	src := readRepoFile(t, "deploy", "docker-compose.yml")
	example, err := dotenv.Read(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatalf("deploy/.env.example: %v", err)
	}
	vars, err := composeVars(ctx, dir, src)
	if err != nil {
		t.Fatalf("deploy/docker-compose.yml: %v", err)
	}
	for name, v := range vars {
		if v.Required && testSecrets[name] == "" {
			t.Fatalf("compose requires %s, and the test has no value for it", name)
		}
	}
	p, err := loadCompose(ctx, dir, src, exampleEnv(example))
	if err != nil {
		t.Fatalf("deploy/docker-compose.yml with the secrets of .env.example set: %v", err)
	}
	return &composeFile{project: p, vars: vars, example: example, image: readImageT(t), repoRoot: repoPath(t)}, src
}

var gatewayService = regexp.MustCompile(`^gateway-[0-9]+$`)

func (f *composeFile) gateways() ([]types.ServiceConfig, error) {
	var gws []types.ServiceConfig
	for _, name := range sortedKeys(f.project.Services) {
		if gatewayService.MatchString(name) {
			gws = append(gws, f.project.Services[name])
		}
	}
	if len(gws) < 2 {
		return nil, fmt.Errorf("%d gateway-N services, want several sharing one store", len(gws))
	}
	return gws, nil
}

// serviceEnv is what the container starts with: the image's ENV, then the
// service's environment (after interpolation; a variable without a value
// is unset).
func (f *composeFile) serviceEnv(s types.ServiceConfig) map[string]string {
	env := f.image.runEnv()
	for k, v := range s.Environment {
		if v == nil {
			delete(env, k)
			continue
		}
		env[k] = *v
	}
	return env
}

var composeChecks = []check[composeFile]{
	{"gateway hardening", func(f *composeFile) error {
		gws, err := f.gateways()
		if err != nil {
			return err
		}
		var errs []error
		for _, s := range gws {
			if !s.ReadOnly {
				errs = append(errs, fmt.Errorf("%s: read_only is not true", s.Name))
			}
			if !slices.Contains(s.CapDrop, "ALL") || len(s.CapAdd) > 0 {
				errs = append(errs, fmt.Errorf("%s: cap_drop %q, cap_add %q: want cap_drop [ALL] only", s.Name, s.CapDrop, s.CapAdd))
			}
			if !slices.ContainsFunc(s.SecurityOpt, func(o string) bool {
				return o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true"
			}) {
				errs = append(errs, fmt.Errorf("%s: security_opt %q lacks no-new-privileges:true", s.Name, s.SecurityOpt))
			}
			if s.Privileged {
				errs = append(errs, fmt.Errorf("%s: privileged", s.Name))
			}
			if s.User != "" {
				if uid, err := strconv.Atoi(strings.Split(s.User, ":")[0]); err != nil || uid == 0 {
					errs = append(errs, fmt.Errorf("%s: user %q is not a numeric non-root uid", s.Name, s.User))
				}
			}
		}
		return errors.Join(errs...)
	}},
	{"gateway image", func(f *composeFile) error {
		gws, err := f.gateways()
		if err != nil {
			return err
		}
		first := gws[0]
		if first.Build == nil || first.Image == "" {
			return fmt.Errorf("%s: want both build and image", first.Name)
		}
		// The build is deploy/Dockerfile with the repository as context.
		if first.Build.Context != f.repoRoot {
			return fmt.Errorf("%s: build context %s, want the repository root %s", first.Name, first.Build.Context, f.repoRoot)
		}
		if df := filepath.Join(first.Build.Context, first.Build.Dockerfile); df != filepath.Join(f.repoRoot, "deploy", "Dockerfile") {
			return fmt.Errorf("%s: builds %s, want deploy/Dockerfile", first.Name, df)
		}
		for _, s := range gws[1:] {
			if s.Image != first.Image || s.Build == nil || s.Build.Context != first.Build.Context || s.Build.Dockerfile != first.Build.Dockerfile {
				return fmt.Errorf("%s runs image %q built from %+v, %s runs %q from %+v", s.Name, s.Image, s.Build, first.Name, first.Image, first.Build)
			}
		}
		return nil
	}},
	{"host ports", func(f *composeFile) error {
		type published struct{ service, ip, port string }
		var all []published
		for _, name := range sortedKeys(f.project.Services) {
			for _, p := range f.project.Services[name].Ports {
				if p.Published == "" {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = "tcp"
				}
				all = append(all, published{name, p.HostIP, p.Published + "/" + proto})
			}
		}
		any := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
		for i, a := range all {
			for _, b := range all[:i] {
				if a.port == b.port && (a.ip == b.ip || any(a.ip) || any(b.ip)) {
					return fmt.Errorf("%s and %s both publish host port %s (addresses %q, %q)", b.service, a.service, a.port, b.ip, a.ip)
				}
			}
		}
		if len(all) == 0 {
			return errors.New("no service publishes a port")
		}
		return nil
	}},
	{"depends_on", func(f *composeFile) error {
		for _, name := range sortedKeys(f.project.Services) {
			for dep := range f.project.Services[name].DependsOn {
				if _, ok := f.project.Services[dep]; !ok {
					return fmt.Errorf("%s depends on %s, which is no service", name, dep)
				}
			}
		}
		return nil
	}},
	{"env example", func(f *composeFile) error {
		var errs []error
		for _, name := range sortedKeys(f.vars) {
			if _, ok := f.example[name]; f.vars[name].Required && !ok {
				errs = append(errs, fmt.Errorf("compose requires %s, which .env.example does not list", name))
			}
		}
		for _, name := range sortedKeys(f.example) {
			if _, ok := f.vars[name]; !ok {
				errs = append(errs, fmt.Errorf(".env.example lists %s, which compose does not use", name))
			}
		}
		return errors.Join(errs...)
	}},
	{"gateway config", func(f *composeFile) error {
		gws, err := f.gateways()
		if err != nil {
			return err
		}
		for _, s := range gws {
			cfg, err := gatewayConfig(f.serviceEnv(s))
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			if cfg.Store != gateway.StorePostgres || cfg.PGURL == "" || !cfg.Migrate {
				return fmt.Errorf("%s: store %q, migrate %v: want postgres with migrations", s.Name, cfg.Store, cfg.Migrate)
			}
			if strings.Contains(cfg.PGURL, "${") || strings.Contains(cfg.RedisURL, "${") {
				return fmt.Errorf("%s: a URL is not interpolated", s.Name)
			}
			port, err := listenPort(cfg)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			if len(s.Ports) == 0 {
				return fmt.Errorf("%s publishes no port", s.Name)
			}
			for _, p := range s.Ports {
				if int(p.Target) != port {
					return fmt.Errorf("%s publishes container port %d, the gateway listens on %d", s.Name, p.Target, port)
				}
			}
		}
		return nil
	}},
}

func TestCompose(t *testing.T) {
	mustGatewayVars(t)
	f, _ := readCompose(t)
	runChecks(t, composeChecks, f)
	// The interpolated secrets reach the gateways.
	gws, err := f.gateways()
	if err != nil {
		t.Fatal(err)
	}
	env := f.serviceEnv(gws[0])
	if env["A1_ADMIN_TOKEN"] != testSecrets["A1_ADMIN_TOKEN"] || !strings.Contains(env["A1_PG_URL"], testSecrets["A1_PG_PASSWORD"]) {
		t.Fatalf("the secrets are not interpolated into the gateway environment: %v", env)
	}
}

// TestComposeRequiresSecrets removes, then empties, each variable compose
// requires: loading must fail and name it.
func TestComposeRequiresSecrets(t *testing.T) {
	f, src := readCompose(t)
	dir := repoPath(t, "deploy")
	n := 0
	for _, name := range sortedKeys(f.vars) {
		if !f.vars[name].Required {
			continue
		}
		n++
		for _, empty := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/empty=%v", name, empty), func(t *testing.T) {
				env := exampleEnv(f.example)
				delete(env, name)
				if empty {
					env[name] = ""
				}
				_, err := loadCompose(t.Context(), dir, src, env)
				if err == nil || !strings.Contains(err.Error(), name) {
					t.Fatalf("want an error naming %s, got %v", name, err)
				}
			})
		}
	}
	if n < 5 {
		t.Fatalf("only %d required variables: %v", n, f.vars)
	}
}

// TestComposeRejects breaks the compose file, in its text or in the loaded
// project, and requires loading or the named check to fail.
func TestComposeRejects(t *testing.T) {
	mustGatewayVars(t)
	f, src := readCompose(t)
	dir := repoPath(t, "deploy")
	svc := func(t *testing.T, p *types.Project, name string, mut func(*types.ServiceConfig)) {
		t.Helper()
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s: update this test", name)
		}
		mut(&s)
		p.Services[name] = s
	}
	for _, tc := range []struct {
		name, check string // check "" when loading must fail
		old, new    string // text mutation
		proj        func(*testing.T, *types.Project)
		example     func(map[string]string)
	}{
		{name: "unknown field", old: "  read_only: true", new: "  read_only: true\n  readonly: true"},
		{name: "undefined dependency", old: "pgbouncer: { condition: service_started }", new: "pgbouncr: { condition: service_started }"},
		{name: "bad port", old: `"127.0.0.1:8082:8080"`, new: `"127.0.0.1:80x2:8080"`},

		{name: "writable", check: "gateway hardening", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-2", func(s *types.ServiceConfig) { s.ReadOnly = false })
		}},
		{name: "capabilities", check: "gateway hardening", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-1", func(s *types.ServiceConfig) { s.CapDrop = nil })
		}},
		{name: "cap_add", check: "gateway hardening", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-1", func(s *types.ServiceConfig) { s.CapAdd = []string{"NET_ADMIN"} })
		}},
		{name: "new privileges", check: "gateway hardening", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-3", func(s *types.ServiceConfig) { s.SecurityOpt = nil })
		}},
		{name: "root user", check: "gateway hardening", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-3", func(s *types.ServiceConfig) { s.User = "0" })
		}},
		{name: "one gateway", check: "gateway hardening", proj: func(t *testing.T, p *types.Project) {
			delete(p.Services, "gateway-2")
			delete(p.Services, "gateway-3")
		}},
		{name: "other image", check: "gateway image", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-2", func(s *types.ServiceConfig) { s.Image = "a1:old" })
		}},
		{name: "other dockerfile", check: "gateway image", old: "dockerfile: deploy/Dockerfile", new: "dockerfile: Dockerfile"},
		{name: "other context", check: "gateway image", old: "context: ..,", new: "context: .,"},
		{name: "same host port", check: "host ports", old: `"127.0.0.1:8082:8080"`, new: `"127.0.0.1:8081:8080"`},
		{name: "port on all addresses", check: "host ports", old: `"127.0.0.1:8082:8080"`, new: `"8081:8080"`},
		{name: "dangling dependency", check: "depends_on", proj: func(t *testing.T, p *types.Project) {
			svc(t, p, "gateway-1", func(s *types.ServiceConfig) {
				s.DependsOn["vault"] = types.ServiceDependency{Condition: "service_started", Required: true}
			})
		}},
		{name: "unlisted secret", check: "env example", example: func(e map[string]string) { delete(e, "A1_ADMIN_TOKEN") }},
		{name: "stale example", check: "env example", example: func(e map[string]string) { e["A1_VAULT_TOKEN"] = "" }},
		{name: "misspelt setting", check: "gateway config", old: "A1_LOG_FORMAT: json", new: "A1_LOG_FORMT: json"},
		{name: "bad setting", check: "gateway config", old: "A1_TRUSTED_PROXY_MODE: none", new: "A1_TRUSTED_PROXY_MODE: forwarded"},
		{name: "no migrations", check: "gateway config", old: `A1_MIGRATE: "true"`, new: `A1_MIGRATE: "false"`},
		{name: "redis store", check: "gateway config", old: "${A1_STORE:-postgres}", new: "${A1_STORE:-redis}"},
		{name: "other container port", check: "gateway config", old: `"127.0.0.1:8083:8080"`, new: `"127.0.0.1:8083:9090"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := src
			if tc.old != "" {
				if !strings.Contains(src, tc.old) {
					t.Fatalf("the compose file no longer contains %q: update this test", tc.old)
				}
				text = strings.Replace(src, tc.old, tc.new, 1)
			}
			p, err := loadCompose(t.Context(), dir, text, exampleEnv(f.example))
			if tc.check == "" {
				if err == nil {
					t.Fatal("the broken compose file loads without error")
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := *f
			g.project = p
			if tc.proj != nil {
				tc.proj(t, p)
			}
			if tc.example != nil {
				g.example = maps.Clone(f.example)
				tc.example(g.example)
			}
			mustReject(t, composeChecks, tc.check, &g)
		})
	}
}
