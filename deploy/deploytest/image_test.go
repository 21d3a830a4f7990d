//go:build linux

package deploytest

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1/api"
)

// TestImageRun stands in for `docker build -f deploy/Dockerfile` and
// `docker run` of the image, which need a container engine this machine
// does not have: it builds ./cmd/a1 as the Dockerfile's RUN line does,
// checks that the binary runs without a libc or loader (the distroless
// static image has neither), and starts it with the final stage's
// ENTRYPOINT, CMD, ENV, numeric USER and working directory. The image's
// read-only root filesystem, its /data volume mount and its missing shell
// are not reproduced.
func TestImageRun(t *testing.T) {
	img := readImageT(t)
	bin := buildAsDockerfile(t, img)
	if err := checkStaticELF(bin); err != nil {
		t.Fatalf("the binary the Dockerfile builds: %v", err)
	}
	runAsImage(t, img, bin)
}

// buildAsDockerfile runs the Dockerfile's go build, with its environment
// assignments and flags, from the repository root (the build stage copies
// the repository into its WORKDIR), writing the binary into a temporary
// directory instead of its -o path.
func buildAsDockerfile(t *testing.T, img *image) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), path.Base(img.build.output))
	args := slices.Clone(img.build.argv[1:])
	for i, a := range args {
		if a == "-o" {
			args[i+1] = out
		} else if strings.HasPrefix(a, "-o=") {
			args[i] = "-o=" + out
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, args...)
	cmd.Dir = repoPath(t)
	cmd.Env = os.Environ()
	for _, k := range sortedKeys(img.build.env) {
		cmd.Env = append(cmd.Env, k+"="+img.build.env[k])
	}
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q (Dockerfile line %d): %v\n%s", img.build.env, cmd.Args, img.build.line, err, b)
	}
	t.Logf("built %s %q in %v", img.build.env, cmd.Args[1:], time.Since(start).Round(time.Millisecond))
	return out
}

// checkStaticELF fails for an executable that needs a program interpreter
// (the dynamic loader) or shared libraries.
func checkStaticELF(name string) error {
	f, err := elf.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s has a PT_INTERP program header: it is dynamically linked", name)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: reading DT_NEEDED: %w", name, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %q", name, libs)
	}
	return nil
}

func TestCheckStaticELFRejectsDynamic(t *testing.T) {
	var checked int
	for _, name := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		f, err := elf.Open(name)
		if err != nil {
			continue
		}
		dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if !dynamic {
			continue
		}
		checked++
		err = checkStaticELF(name)
		if err == nil {
			t.Errorf("%s is dynamically linked, and checkStaticELF accepts it", name)
		}
		t.Log(err)
	}
	if checked == 0 {
		t.Fatal("no dynamically linked executable found to check against")
	}
	if err := checkStaticELF("elf_test_missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writableBy reports whether uid (with primary group gid and no
// supplementary groups) may write to dir.
func writableBy(dir string, uid, gid int) (bool, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("%s: no owner information", dir)
	}
	perm := fi.Mode().Perm()
	switch {
	case uid == 0:
		return true, nil
	case int(st.Uid) == uid:
		return perm&0o200 != 0, nil
	case int(st.Gid) == gid:
		return perm&0o020 != 0, nil
	default:
		return perm&0o002 != 0, nil
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func runAsImage(t *testing.T, img *image, bin string) {
	dataDir := t.TempDir()
	port := freePort(t)
	env := img.runEnv()
	env["A1_LISTEN"] = "127.0.0.1:" + strconv.Itoa(port)
	env["A1_DATA_DIR"] = dataDir
	// The keys an operator passes with `docker run -e`.
	for _, k := range []string{"A1_SIGNING_KEY_HEX", "A1_MAC_KEY_HEX", "A1_ADMIN_TOKEN"} {
		env[k] = testSecrets[k]
	}

	cmd := &exec.Cmd{Path: bin, Args: img.argv, Dir: img.workdir}
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		// As the image's USER. It must reach the binary and own the data
		// directory, as it owns the /data volume in the image.
		uid, gid = img.uid, img.gid
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, dir := range []string{filepath.Dir(filepath.Dir(bin)), filepath.Dir(bin), filepath.Dir(dataDir)} {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(dataDir, uid, gid); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("not root: running as uid %d, not as the image's USER %d", uid, img.uid)
	}
	if w, err := writableBy(cmd.Dir, uid, gid); err != nil || w {
		t.Fatalf("the working directory %s is writable by uid %d (%v); the image's is not", cmd.Dir, uid, err)
	}
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	finished := false // set once exited has been received from
	t.Cleanup(func() {
		if !finished {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	logs := func() string { return "stderr:\n" + stderr.String() + "\nstdout:\n" + stdout.String() }

	base := "http://" + env["A1_LISTEN"]
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(p string) (int, []byte, error) {
		resp, err := client.Get(base + p)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes(), err
	}
	start := time.Now()
	for {
		select {
		case err := <-exited:
			finished = true
			t.Fatalf("a1 gateway exited before it was ready: %v\n%s", err, logs())
		default:
		}
		code, _, err := get("/readyz")
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("GET /readyz: %d %v after %v\n%s", code, err, time.Since(start), logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("ready after %v", time.Since(start).Round(time.Millisecond))

	code, body, err := get("/healthz")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /healthz: %d %v %s", code, err, body)
	}
	var health api.Health
	if err := json.Unmarshal(body, &health); err != nil {
		t.Fatalf("GET /healthz: %v: %s", err, body)
	}
	// Without a database URL the image uses the embedded store in
	// A1_DATA_DIR; the keys given are used, none is generated.
	if health.StorageBackend != "bolt" || health.Storage != "ok" || len(health.EphemeralKeys) > 0 {
		t.Fatalf("GET /healthz: %s", body)
	}
	// The Kubernetes manifest's liveness probe (readiness is /healthz).
	if code, body, err := get("/livez"); err != nil || code != http.StatusOK {
		t.Fatalf("GET /livez: %d %v %s", code, err, body)
	}
	// The image's HEALTHCHECK, run as Docker runs it: the same binary and
	// environment, inside the container.
	if len(img.health) > 0 {
		hc := &exec.Cmd{Path: bin, Args: img.health, Dir: img.workdir, Env: cmd.Env, SysProcAttr: &syscall.SysProcAttr{Credential: cmd.SysProcAttr.Credential}}
		if out, err := hc.CombinedOutput(); err != nil {
			t.Fatalf("HEALTHCHECK %q: %v\n%s", img.health, err, out)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		finished = true
		if err != nil {
			t.Fatalf("after SIGTERM: %v, want exit status 0\n%s", err, logs())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM\n%s", logs())
	}

	// A1_LOG_FORMAT from the image: every log line is a JSON object.
	var lines int
	for line := range strings.Lines(stderr.String()) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("stderr line is not a JSON object (A1_LOG_FORMAT=%s): %q", env["A1_LOG_FORMAT"], line)
		}
		lines++
	}
	if lines == 0 {
		t.Error("the gateway logged nothing")
	}
	// The store was written in the data directory, as the image's user.
	entries, err := os.ReadDir(dataDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("the data directory %s is empty (%v)", dataDir, err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if owner := int(fi.Sys().(*syscall.Stat_t).Uid); owner != uid {
			t.Errorf("%s is owned by uid %d, want %d", e.Name(), owner, uid)
		}
	}
}
