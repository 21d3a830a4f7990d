package deploytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mattn/go-shellwords"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // first source line
	cmd  string // keyword, upper case
	args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	from, name string
	instrs     []instruction
}

type dockerfile struct {
	stages []stage
}

var escapeDirective = regexp.MustCompile(`^#\s*escape\s*=\s*(\S*)`)

// parseDockerfile splits a Dockerfile into stages and instructions: comment
// and blank lines are dropped (also inside a continuation, as BuildKit
// does), a line ending in a backslash continues on the next one. It knows
// only the default escape character.
func parseDockerfile(src string) (*dockerfile, error) {
	lines := strings.Split(src, "\n")
	df := &dockerfile{}
	skip := func(s string) bool {
		s = strings.TrimSpace(s)
		return s == "" || strings.HasPrefix(s, "#")
	}
	for i := 0; i < len(lines); i++ {
		if m := escapeDirective.FindStringSubmatch(strings.TrimSpace(lines[i])); m != nil && len(df.stages) == 0 && m[1] != `\` {
			return nil, fmt.Errorf("line %d: escape character %q is not supported by this parser", i+1, m[1])
		}
		if skip(lines[i]) {
			continue
		}
		start := i + 1
		text := strings.TrimRight(lines[i], " \t\r")
		for strings.HasSuffix(text, `\`) {
			text = strings.TrimSuffix(text, `\`)
			i++
			for i < len(lines) && skip(lines[i]) {
				i++
			}
			if i == len(lines) {
				return nil, fmt.Errorf("line %d: the continuation runs past the end of the file", start)
			}
			text += strings.TrimRight(lines[i], " \t\r")
		}
		text = strings.TrimSpace(text)
		cmd, args := text, ""
		if j := strings.IndexAny(text, " \t"); j >= 0 {
			cmd, args = text[:j], strings.TrimSpace(text[j+1:])
		}
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: args}
		switch {
		case in.cmd == "FROM":
			var words []string
			for _, w := range strings.Fields(args) {
				if !strings.HasPrefix(w, "--") { // --platform=...
					words = append(words, w)
				}
			}
			st := stage{}
			switch {
			case len(words) == 1:
				st.from = words[0]
			case len(words) == 3 && strings.EqualFold(words[1], "AS"):
				st.from, st.name = words[0], words[2]
			default:
				return nil, fmt.Errorf("line %d: cannot read FROM %s", start, args)
			}
			df.stages = append(df.stages, st)
		case len(df.stages) == 0:
			if in.cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", start, in.cmd)
			}
		default:
			df.stages[len(df.stages)-1].instrs = append(df.stages[len(df.stages)-1].instrs, in)
		}
	}
	if len(df.stages) == 0 {
		return nil, errors.New("no FROM")
	}
	return df, nil
}

func (df *dockerfile) final() *stage { return &df.stages[len(df.stages)-1] }

func (df *dockerfile) stageNamed(name string) *stage {
	for i := range df.stages {
		if df.stages[i].name == name {
			return &df.stages[i]
		}
	}
	return nil
}

func (s *stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last is the instruction that takes effect for USER, WORKDIR, ENTRYPOINT
// and CMD.
func (s *stage) last(cmd string) *instruction {
	all := s.all(cmd)
	if len(all) == 0 {
		return nil
	}
	return &all[len(all)-1]
}

// healthCmd reads HEALTHCHECK [--option=value…] CMD ["exec", "form"].
func healthCmd(in *instruction) ([]string, error) {
	w := in.args
	for strings.HasPrefix(w, "--") {
		i := strings.IndexAny(w, " \t")
		if i < 0 {
			return nil, fmt.Errorf("line %d: HEALTHCHECK has options but no CMD", in.line)
		}
		w = strings.TrimSpace(w[i+1:])
	}
	rest, ok := strings.CutPrefix(w, "CMD ")
	if !ok {
		return nil, fmt.Errorf("line %d: HEALTHCHECK %s: want CMD [...]", in.line, in.args)
	}
	return execForm(&instruction{line: in.line, cmd: "HEALTHCHECK", args: strings.TrimSpace(rest)})
}

// execForm reads the JSON (exec) form of ENTRYPOINT or CMD. The shell form
// runs /bin/sh, which a distroless image does not have.
func execForm(in *instruction) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	var argv []string
	if !strings.HasPrefix(in.args, "[") || json.Unmarshal([]byte(in.args), &argv) != nil {
		return nil, fmt.Errorf("line %d: %s %s is not in the exec (JSON array) form; the shell form needs /bin/sh", in.line, in.cmd, in.args)
	}
	return argv, nil
}

// words splits shell words; it refuses lists and redirections.
func words(s string) ([]string, error) {
	p := shellwords.NewParser()
	w, err := p.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	if p.Position >= 0 {
		return nil, fmt.Errorf("%q is not a single simple command", s)
	}
	return w, nil
}

// env is the environment the stage's ENV instructions set, in order.
func (s *stage) env() (map[string]string, error) {
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		w, err := words(in.args)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", in.line, err)
		}
		if len(w) > 0 && !strings.Contains(w[0], "=") { // legacy ENV key value
			_, v, _ := strings.Cut(in.args, w[0])
			env[w[0]] = strings.TrimSpace(v)
			continue
		}
		for _, kv := range w {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d: ENV %q is not key=value", in.line, kv)
			}
			env[k] = v
		}
	}
	return env, nil
}

// user is the numeric uid and gid of the stage's last USER.
func (s *stage) user() (uid, gid int, err error) {
	in := s.last("USER")
	if in == nil {
		return 0, 0, errors.New("no USER: the container runs as root")
	}
	u, g, hasGroup := strings.Cut(in.args, ":")
	uid, err = strconv.Atoi(u)
	if err != nil {
		return 0, 0, fmt.Errorf("line %d: USER %s is not numeric; Kubernetes runAsNonRoot can verify only a numeric uid", in.line, in.args)
	}
	gid = uid
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("line %d: USER group %q is not numeric", in.line, g)
		}
	}
	if uid <= 0 || gid <= 0 {
		return 0, 0, fmt.Errorf("line %d: USER %s is root or invalid", in.line, in.args)
	}
	return uid, gid, nil
}

// goBuild is the build stage's `go build` RUN line.
type goBuild struct {
	line   int
	env    map[string]string // leading NAME=value assignments
	argv   []string          // go build ...
	output string            // -o
}

func (s *stage) goBuild() (*goBuild, error) {
	var found *goBuild
	for _, in := range s.all("RUN") {
		w, err := words(in.args)
		if err != nil {
			if strings.Contains(in.args, "go build") {
				return nil, fmt.Errorf("line %d: %w", in.line, err)
			}
			continue
		}
		b := &goBuild{line: in.line, env: map[string]string{}}
		for len(w) > 0 {
			k, v, ok := strings.Cut(w[0], "=")
			if !ok || !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k) {
				break
			}
			b.env[k] = v
			w = w[1:]
		}
		if len(w) < 2 || w[0] != "go" || w[1] != "build" {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("lines %d and %d both run go build", found.line, in.line)
		}
		b.argv = w
		for i, a := range w {
			if a == "-o" && i+1 < len(w) {
				b.output = w[i+1]
			} else if o, ok := strings.CutPrefix(a, "-o="); ok {
				b.output = o
			}
		}
		found = b
	}
	if found == nil {
		return nil, errors.New("no RUN go build in the build stage")
	}
	if found.output == "" {
		return nil, fmt.Errorf("line %d: go build has no -o", found.line)
	}
	return found, nil
}

// image is what the Dockerfile makes: the runtime settings of the final
// stage and how its binary is built.
type image struct {
	df         *dockerfile
	uid, gid   int
	argv       []string // ENTRYPOINT + CMD
	health     []string // HEALTHCHECK CMD, exec form; nil when absent
	env        map[string]string
	workdir    string
	volumes    []string
	exposed    []string
	build      *goBuild
	buildStage *stage
	goMod      string // the main module's go.mod
}

// readImage reads the parts of the Dockerfile the checks use; each error is
// a check failing.
func readImage(src, goMod string) (*image, error) {
	df, err := parseDockerfile(src)
	if err != nil {
		return nil, err
	}
	img := &image{df: df, workdir: "/", goMod: goMod}
	fin := df.final()
	if img.uid, img.gid, err = fin.user(); err != nil {
		return nil, err
	}
	ep, err := execForm(fin.last("ENTRYPOINT"))
	if err != nil {
		return nil, err
	}
	cmd, err := execForm(fin.last("CMD"))
	if err != nil {
		return nil, err
	}
	img.argv = append(ep, cmd...)
	if len(img.argv) == 0 {
		return nil, errors.New("the final stage has no ENTRYPOINT or CMD")
	}
	if img.env, err = fin.env(); err != nil {
		return nil, err
	}
	if in := fin.last("HEALTHCHECK"); in != nil {
		if img.health, err = healthCmd(in); err != nil {
			return nil, err
		}
	}
	if in := fin.last("WORKDIR"); in != nil {
		img.workdir = in.args
	}
	for _, in := range fin.all("VOLUME") {
		var v []string
		if json.Unmarshal([]byte(in.args), &v) != nil {
			v = strings.Fields(in.args)
		}
		img.volumes = append(img.volumes, v...)
	}
	for _, in := range fin.all("EXPOSE") {
		img.exposed = append(img.exposed, strings.Fields(in.args)...)
	}
	// The binary the entrypoint runs is copied from the stage that builds it.
	for _, in := range fin.all("COPY") {
		w := strings.Fields(in.args)
		var from string
		for len(w) > 0 && strings.HasPrefix(w[0], "--") {
			if f, ok := strings.CutPrefix(w[0], "--from="); ok {
				from = f
			}
			w = w[1:]
		}
		if from == "" || len(w) != 2 || w[1] != img.argv[0] {
			continue
		}
		if img.buildStage = df.stageNamed(from); img.buildStage == nil {
			return nil, fmt.Errorf("line %d: COPY --from=%s names no stage", in.line, from)
		}
		if img.build, err = img.buildStage.goBuild(); err != nil {
			return nil, err
		}
		if w[0] != img.build.output {
			return nil, fmt.Errorf("line %d: COPY takes %s but go build writes %s", in.line, w[0], img.build.output)
		}
	}
	if img.build == nil {
		return nil, fmt.Errorf("no COPY --from=<stage> puts the entrypoint %s into the final stage", img.argv[0])
	}
	return img, nil
}

// runEnv is the environment the container starts with: the image's ENV.
// Docker adds PATH from the base image config.
func (img *image) runEnv() map[string]string {
	env := maps.Clone(img.env)
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return env
}

var imageChecks = []check[image]{
	// distroless has no shell or curl: the binary probes itself, and on
	// /livez, since a storage-dependent probe would mark every container
	// unhealthy (and have Swarm restart them) during a database outage.
	{"health check", func(img *image) error {
		h := img.health
		if len(h) < 2 || h[0] != img.argv[0] || h[1] != "healthcheck" {
			return fmt.Errorf("HEALTHCHECK runs %q, want [%s healthcheck …]", h, img.argv[0])
		}
		for i, a := range h {
			if (a == "--path" && i+1 < len(h) && h[i+1] != "/livez") || (strings.HasPrefix(a, "--path=") && a != "--path=/livez") || a == "--url" || strings.HasPrefix(a, "--url=") {
				return fmt.Errorf("HEALTHCHECK %q: probe the local /livez (the default)", h)
			}
		}
		return nil
	}},
	{"runs a1 gateway", func(img *image) error {
		if path.Base(img.argv[0]) != "a1" || !slices.Equal(img.argv[1:], []string{"gateway"}) {
			return fmt.Errorf("ENTRYPOINT+CMD run %q, want [.../a1 gateway]", img.argv)
		}
		return nil
	}},
	{"static build", func(img *image) error {
		b := img.build
		if b.env["CGO_ENABLED"] != "0" {
			return fmt.Errorf("line %d: go build without CGO_ENABLED=0: the binary would need the libc the distroless static image lacks", b.line)
		}
		if !slices.Contains(b.argv, "./cmd/a1") {
			return fmt.Errorf("line %d: go build does not build ./cmd/a1: %q", b.line, b.argv)
		}
		return nil
	}},
	{"gateway config", func(img *image) error {
		cfg, err := gatewayConfig(img.runEnv())
		if err != nil {
			return err
		}
		// Without a database URL the gateway uses the embedded store in
		// A1_DATA_DIR: it must be a volume, the root filesystem is read-only.
		if cfg.Store == "bolt" && !slices.Contains(img.volumes, cfg.DataDir) {
			return fmt.Errorf("A1_DATA_DIR %s is not a VOLUME (volumes %q)", cfg.DataDir, img.volumes)
		}
		port, err := listenPort(cfg)
		if err != nil {
			return err
		}
		if !slices.Contains(img.exposed, strconv.Itoa(port)) && !slices.Contains(img.exposed, strconv.Itoa(port)+"/tcp") {
			return fmt.Errorf("EXPOSE %q does not include the A1_LISTEN port %d", img.exposed, port)
		}
		return nil
	}},
	{"toolchain", func(img *image) error {
		// The golang image must be at least the go.mod language version.
		m := regexp.MustCompile(`^(?:docker\.io/)?(?:library/)?golang:(\d+)\.(\d+)`).FindStringSubmatch(img.buildStage.from)
		if m == nil {
			return fmt.Errorf("the build stage %q is not a golang:X.Y image", img.buildStage.from)
		}
		gomod := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(img.goMod)
		if gomod == nil {
			return errors.New("go.mod has no go directive")
		}
		if cmpVersion(m[1:], gomod[1:]) < 0 {
			return fmt.Errorf("build image %s is older than go.mod's go %s.%s", img.buildStage.from, gomod[1], gomod[2])
		}
		return nil
	}},
}

// cmpVersion compares dotted numeric versions split into parts.
func cmpVersion(a, b []string) int {
	for i := range min(len(a), len(b)) {
		x, _ := strconv.Atoi(a[i])
		y, _ := strconv.Atoi(b[i])
		if c := x - y; c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func readImageT(t testing.TB) *image {
	t.Helper()
	img, err := readImage(readRepoFile(t, "deploy", "Dockerfile"), readRepoFile(t, "go.mod"))
	if err != nil {
		t.Fatalf("deploy/Dockerfile: %v", err)
	}
	return img
}

func TestDockerfile(t *testing.T) {
	img := readImageT(t)
	if img.uid == 0 {
		t.Fatal("runs as root")
	}
	runChecks(t, imageChecks, img)
}

// TestDockerfileRejects mutates the Dockerfile and requires the reading or
// one named check to fail: every check can fail.
func TestDockerfileRejects(t *testing.T) {
	src := readRepoFile(t, "deploy", "Dockerfile")
	goMod := readRepoFile(t, "go.mod")
	for _, tc := range []struct {
		name, old, new string
		check          string // "" when reading the file must fail
	}{
		{"root user", "USER 65532:65532", "USER 0:0", ""},
		{"named user", "USER 65532:65532", "USER nonroot", ""},
		{"no user", "USER 65532:65532", "", ""},
		{"shell entrypoint", `ENTRYPOINT ["/usr/local/bin/a1"]`, "ENTRYPOINT /usr/local/bin/a1", ""},
		{"copy elsewhere", "COPY --from=build /out/a1 /usr/local/bin/a1", "COPY --from=build /out/a1 /bin/a1", ""},
		{"copy other file", "COPY --from=build /out/a1 /usr/local/bin/a1", "COPY --from=build /out/a2 /usr/local/bin/a1", ""},
		{"other command", `CMD ["gateway"]`, `CMD ["version"]`, "runs a1 gateway"},
		{"cgo", "CGO_ENABLED=0 go build", "CGO_ENABLED=1 go build", "static build"},
		{"no CGO_ENABLED", "CGO_ENABLED=0 go build", "go build", "static build"},
		{"misspelt env", "A1_LOG_FORMAT=json", "A1_LOG_FORMT=json", "gateway config"},
		{"bad env", "A1_LOG_FORMAT=json", "A1_LOG_FORMAT=xml", "gateway config"},
		{"no volume", `VOLUME ["/data"]`, "", "gateway config"},
		{"other port", "EXPOSE 8080", "EXPOSE 9090", "gateway config"},
		{"old toolchain", "golang:1.26-bookworm", "golang:1.21-bookworm", "toolchain"},
		{"no health check", `HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/a1", "healthcheck"]`, "", "health check"},
		{"health check runs another command", `CMD ["/usr/local/bin/a1", "healthcheck"]`, `CMD ["/usr/local/bin/a1", "version"]`, "health check"},
		{"shell health check", `CMD ["/usr/local/bin/a1", "healthcheck"]`, `CMD curl -f http://localhost:8080/livez`, ""},
		{"storage probe", `CMD ["/usr/local/bin/a1", "healthcheck"]`, `CMD ["/usr/local/bin/a1", "healthcheck", "--path", "/healthz"]`, "health check"},
		{"other binary", `CMD ["/usr/local/bin/a1", "healthcheck"]`, `CMD ["/bin/a1", "healthcheck"]`, "health check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, tc.old) {
				t.Fatalf("the Dockerfile no longer contains %q: update this test", tc.old)
			}
			img, err := readImage(strings.Replace(src, tc.old, tc.new, 1), goMod)
			if tc.check == "" {
				if err == nil {
					t.Fatal("the mutated Dockerfile was read without error")
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("reading the mutated Dockerfile: %v", err)
			}
			mustReject(t, imageChecks, tc.check, img)
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	src := `# syntax=docker/dockerfile:1
ARG GO=1.26
FROM golang:${GO} AS build
RUN CGO_ENABLED=0 \
  # a comment inside the continuation
  go build -ldflags="-s -w" \

  -o /out/a1 ./cmd/a1
from scratch
ENV A=1 B="two words"
ENV LEGACY value with spaces
USER 10:20
CMD ["x"]
`
	df, err := parseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) != 2 || df.stages[0].name != "build" || df.stages[1].from != "scratch" {
		t.Fatalf("stages: %+v", df.stages)
	}
	b, err := df.stages[0].goBuild()
	if err != nil {
		t.Fatal(err)
	}
	if b.line != 4 || b.env["CGO_ENABLED"] != "0" || b.output != "/out/a1" ||
		!slices.Equal(b.argv, []string{"go", "build", "-ldflags=-s -w", "-o", "/out/a1", "./cmd/a1"}) {
		t.Fatalf("go build: %+v", b)
	}
	env, err := df.final().env()
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(env, map[string]string{"A": "1", "B": "two words", "LEGACY": "value with spaces"}) {
		t.Fatalf("env: %q", env)
	}
	if uid, gid, err := df.final().user(); err != nil || uid != 10 || gid != 20 {
		t.Fatalf("user: %d %d %v", uid, gid, err)
	}
	for _, bad := range []string{
		"RUN x\n",                     // before FROM
		"FROM a\nRUN x \\\n",          // continuation past the end
		"# escape=`\nFROM a\n",        // other escape character
		"FROM a b c d\n",              // unreadable FROM
		"",                            // empty
		"FROM a\nRUN a && go build\n", // not one command, but readable
	} {
		df, err := parseDockerfile(bad)
		if err == nil && strings.Contains(bad, "&&") {
			_, err = df.final().goBuild()
		}
		if err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
