// Command loadgen measures `a1 gateway` authorization throughput and
// latency over loopback HTTP, beside the in-process verify rate of the same
// 2-hop chain. It starts the gateway itself (so it can trust its own test
// principal), drives it with proof-of-possession requests (the chain stays
// reusable; every request carries a fresh, pre-signed request nonce), and
// prints one Markdown table row per run. See scripts/bench-gateway.sh.
//
// Beside rates and latencies it reports the CPU time the gateway process
// and the load generator spent per request in the saturated phase (from
// /proc/<pid>/stat and getrusage), which shows where the two shared cores
// went, and how late the open-loop phase's dispatcher sent requests
// relative to their schedule (that lateness is counted in the latency).
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/internal/cputime"
)

// Bounds of one run.
const (
	maxDuration    = 60 * time.Second
	maxConcurrency = 512
	maxPrepared    = 200_000
	// generatorMemLimit is the heap at which the generator collects
	// garbage again (its collector is otherwise off in the timed phases).
	generatorMemLimit = 1 << 30
)

func main() {
	bin := flag.String("a1", "./a1", "path to the a1 binary")
	storeName := flag.String("store", "memory", "memory | bolt | postgres | redis")
	pgURL := flag.String("pg-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL")
	redisURL := flag.String("redis-url", "redis://127.0.0.1:6379/0", "Redis URL")
	dur := flag.Duration("duration", 4*time.Second, "length of each measured phase")
	conc := flag.Int("concurrency", 32, "closed-loop clients in the saturation phase")
	header := flag.Bool("header", false, "print the table header first")
	client := flag.String("client", "raw", "raw (minimal keep-alive HTTP/1.1 client, one connection per worker) | nethttp (net/http.Client)")
	gatewayCPUs := flag.String("gateway-cpus", "", "run the gateway under taskset -c LIST (e.g. 1; run the load generator itself under taskset on the other CPUs)")
	var extraEnv envFlags
	flag.Var(&extraEnv, "gateway-env", "KEY=VALUE added to the gateway's environment (repeatable), e.g. GOGC=200")
	redisStats := flag.Bool("redis-server-stats", false, "with -store redis: CONFIG RESETSTAT before the half-rate phase, then print the server's own EVALSHA latency percentiles for it (resets the server's statistics: use on a benchmark server)")
	hiccup := flag.Duration("hiccup", 0, "instead of a benchmark, spin on one thread for this long and report the gaps longer than 1 ms it saw (the machine's own scheduling stalls; run it under taskset on each CPU)")
	flag.Parse()
	if *hiccup > 0 {
		if *hiccup > maxDuration {
			fatal("-hiccup must be at most %v", maxDuration)
		}
		fmt.Println(hiccups(*hiccup))
		return
	}
	if *dur <= 0 || *dur > maxDuration || *conc < 1 || *conc > maxConcurrency {
		fatal("duration must be in (0, %v] and concurrency in [1, %d]", maxDuration, maxConcurrency)
	}
	if *client != "raw" && *client != "nethttp" {
		fatal("-client must be raw or nethttp")
	}
	if *header {
		fmt.Println("| backend | in-process 2-hop verify/s | in-process same request/s | gateway authz/s (saturated) | p50 / p99 saturated | p50 / p99 at half rate | ratio to 2-hop verify | ratio to same request | gateway CPU / authz | loadgen CPU / req | send lag p99 (half rate) |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	}
	w := newWorkload()
	prefix = w.prefix
	chainRate := w.inProcess(*dur/2, false)
	verifyRate := w.inProcess(*dur/2, true)

	env := map[string]string{
		"A1_STORE": *storeName, "A1_TRUSTED_ROOTS": w.human.Hex(), "A1_GATEWAY_ID": "bench",
		"A1_RATE_LIMIT_RPS": "0", "A1_AUDIT_SINKS": "stdout", "A1_LOG_LEVEL": "warn",
		"A1_TENANT": "bench-" + randHex(4), "A1_DATA_DIR": mustTemp(),
	}
	switch *storeName {
	case "postgres":
		env["A1_PG_URL"], env["A1_MIGRATE"] = *pgURL, "true"
	case "redis":
		env["A1_REDIS_URL"] = *redisURL
	}
	for _, kv := range extraEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	base, pid, stop := startGateway(*bin, *gatewayCPUs, env)
	defer stop()

	bodies := w.prepare(maxPrepared)
	// The generator's own garbage collections (the ~50 MB of prepared
	// bodies is marked each cycle) take CPU and add pauses that land in
	// the gateway's latency on shared cores. The timed phases allocate
	// little (latency slices), so collection is off and only a memory
	// limit can trigger it.
	runtime.GC()
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(generatorMemLimit)
	posters := func(n int) []poster {
		out := make([]poster, n)
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxConcurrency, MaxConnsPerHost: maxConcurrency}, Timeout: 10 * time.Second}
		for i := range out {
			if *client == "nethttp" {
				out[i] = netHTTPPoster{c: c, url: base + "/v1/authorize"}
				continue
			}
			p := newRawPoster(strings.TrimPrefix(base, "http://"), "/v1/authorize")
			must(p.dial())
			out[i] = p
		}
		return out
	}
	// Warm up connections and caches.
	var next atomic.Int64
	sat := posters(*conc)
	closedLoop(sat, bodies, &next, time.Second)
	gw0, lg0 := processCPU(pid), cputime.Process()
	satRate, satLat := closedLoop(sat, bodies, &next, *dur)
	gw1, lg1 := processCPU(pid), cputime.Process()
	var rstats *redisServerStats
	if *redisStats && *storeName == "redis" {
		rstats = startRedisServerStats(*redisURL)
	}
	halfLat, lag := openLoop(posters(maxConcurrency/2), bodies, &next, satRate/2, *dur)
	n := float64(len(satLat))
	perReq := func(d0, d1 time.Duration) string {
		if d0 < 0 || d1 < 0 || n == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f µs", float64((d1-d0).Microseconds())/n)
	}
	fmt.Printf("| %s | %.0f | %.0f | %.0f | %s / %s | %s / %s | %.0f%% | %.0f%% | %s | %s | %s |\n", *storeName, chainRate, verifyRate, satRate,
		ms(pct(satLat, 50)), ms(pct(satLat, 99)), ms(pct(halfLat, 50)), ms(pct(halfLat, 99)), 100*satRate/chainRate, 100*satRate/verifyRate,
		perReq(gw0, gw1), perReq(lg0, lg1), ms(pct(lag, 99)))
	if rstats != nil {
		fmt.Println(rstats.report())
	}
}

// redisServerStats reads Redis's own per-command latency percentiles
// (INFO latencystats, Redis 7) for one phase: the time the server spent
// executing each authorize script, without the network or the gateway.
type redisServerStats struct{ c *goredis.Client }

func startRedisServerStats(url string) *redisServerStats {
	opt, err := goredis.ParseURL(url)
	must(err)
	c := goredis.NewClient(opt)
	must(c.ConfigResetStat(context.Background()).Err())
	return &redisServerStats{c: c}
}

func (r *redisServerStats) report() string {
	defer r.c.Close()
	info, err := r.c.Info(context.Background(), "latencystats").Result()
	if err != nil {
		return "# redis server time per EVALSHA (half-rate phase): " + err.Error()
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "latency_percentiles_usec_evalsha:"); ok {
			return "# redis server time per EVALSHA (half-rate phase), µs: " + strings.ReplaceAll(v, ",", " ")
		}
	}
	return "# redis server time per EVALSHA (half-rate phase): not reported (Redis 7 with latency-tracking yes is needed)"
}

// envFlags collects repeated -gateway-env flags.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, ",") }

func (e *envFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// processCPU is the user + system CPU time of process pid so far, from
// /proc/<pid>/stat, or -1 where that is not available.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) may contain spaces: fields are counted
	// after its closing parenthesis; utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * clockTick
}

type workload struct {
	human, tool a1.PublicKey
	toolKey     ed25519.PrivateKey
	chain       *a1.SignedChain
	intent      a1.IntentHash
	prefix      []byte
}

func newWorkload() *workload {
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	_, ok, _ := ed25519.GenerateKey(rand.Reader)
	_, tk, _ := ed25519.GenerateKey(rand.Reader)
	w := &workload{human: pk(hk), tool: pk(tk), toolKey: tk}
	var leaves []a1.IntentHash
	for _, s := range []string{"AAPL", "MSFT", "GOOG", "AMZN"} {
		h, _ := a1.HashIntent("trade.equity", map[string]string{"symbol": s})
		leaves = append(leaves, h)
	}
	w.intent = leaves[0]
	tree, _ := a1.NewIntentTree(leaves)
	now := uint64(time.Now().Unix())
	c1, _ := a1.NewCert(pk(ok), leaves, now-5, 3600)
	c1.MaxDepth = 8
	must(c1.Sign(hk))
	c2, _ := a1.NewSubCert(w.tool, tree, leaves[:1], now-5, 3600)
	c2.MaxDepth = 0
	must(c2.Sign(ok))
	w.chain = a1.NewChain(w.human, c1.ScopeRoot, c1, c2)
	chainJSON, _ := json.Marshal(w.chain)
	w.prefix = fmt.Appendf(nil, `{"chain":%s,"intent_name":"trade.equity","intent_params":{"symbol":"AAPL"},"executor_pk_hex":"%s","proof":`, chainJSON, w.tool.Hex())
	return w
}

// prepare signs n proofs of possession (fresh nonces) and returns their
// JSON; a request body is prefix ‖ proof ‖ "}".
func (w *workload) prepare(n int) [][]byte {
	out := make([][]byte, n)
	fp := w.chain.Fingerprint()
	var wg sync.WaitGroup
	per := (n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	for s := 0; s < n; s += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				p, err := a1.SignPoP(w.toolKey, "bench", fp, w.intent, uint64(time.Now().Unix()))
				must(err)
				out[i], _ = json.Marshal(p.JSON())
			}
		}(s, min(s+per, n))
	}
	wg.Wait()
	return out
}

// inProcess measures the verifier on all cores, in one of two states.
//
// With sameRequest false it is the protocol core's 2-hop chain verify, as
// in BenchmarkVerifyChain2Hop (docs/benchmarks.md): the chain decoded once,
// the delegator keys in the key cache, no signature cache, no PoP, so both
// certificate signatures are verified on every call. This is "the
// in-process 2-hop verify throughput" of the gateway issue's target.
//
// With sameRequest true it is the gateway's own request in the state the
// gateway is in after its warm-up: both certificate signatures and keys
// are cache hits and each call verifies one PoP signature (20,000 distinct
// pre-signed PoPs, never cached): "2-hop chain, cached cert signatures, one
// PoP Ed25519 verify". The gateway additionally decodes the chain JSON,
// consumes the nonce, signs a receipt, emits an audit event and speaks
// HTTP. This stricter comparison is reported beside the first.
func (w *workload) inProcess(d time.Duration, sameRequest bool) float64 {
	v := a1.NewVerifier(a1.NewRootSet(w.human), a1.WithAudience("bench"))
	pops := []*a1.PoP{nil}
	if sameRequest {
		fp := w.chain.Fingerprint()
		pops = make([]*a1.PoP, 20000)
		for i := range pops {
			pops[i], _ = a1.SignPoP(w.toolKey, "bench", fp, w.intent, uint64(time.Now().Unix()))
		}
	} else {
		v = a1.NewVerifier(a1.NewRootSet(w.human), a1.WithAudience("bench"), a1.WithSigCache(nil))
	}
	var total atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			n := 0
			for i := g; time.Now().Before(deadline); i++ {
				_, err := v.Verify(&a1.Request{Chain: w.chain, Executor: w.tool, Intent: w.intent, Action: "trade.equity", PoP: pops[i%len(pops)]})
				must(err)
				n++
			}
			total.Add(int64(n))
		}(g)
	}
	wg.Wait()
	return float64(total.Load()) / d.Seconds()
}

// prefix is the request body up to the proof.
var prefix []byte

// closeBrace ends every request body.
var closeBrace = []byte("}")

// send posts prefix ‖ pop ‖ "}" without copying the body (the PoPs are
// signed before the timed phases, so the load generator only does HTTP).
func send(c *http.Client, url string, pop []byte) bool {
	req, err := http.NewRequest(http.MethodPost, url,
		io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(pop), bytes.NewReader(closeBrace)))
	if err != nil {
		return false
	}
	req.ContentLength = int64(len(prefix) + len(pop) + len(closeBrace))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 200
}

func closedLoop(posters []poster, bodies [][]byte, next *atomic.Int64, d time.Duration) (float64, []time.Duration) {
	deadline := time.Now().Add(d)
	lats := make([][]time.Duration, len(posters))
	var fails atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g, p := range posters {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if int(i) >= len(bodies) {
					return
				}
				t0 := time.Now()
				if !p.post(bodies[i]) {
					fails.Add(1)
				}
				lats[g] = append(lats[g], time.Since(t0))
			}
		}(g)
	}
	wg.Wait()
	el := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if f := fails.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d requests not authorized\n", f)
	}
	return float64(len(all)) / el.Seconds(), all
}

// openLoop sends at a fixed rate; latency counts from the scheduled send
// time, so a stalled server is not hidden (no coordinated omission), and
// neither is a late generator. It also returns how late the dispatcher
// handed each request to a worker, which is part of the latency: Go's
// timers can wake an idle process up to ~1 ms late (epoll_wait's timeout is
// in milliseconds). Sleeping in nanosleep(2) on a locked thread instead
// made the lag smaller but the latency worse: the sleeping thread keeps its
// P until sysmon retakes it, and the workers wait for it.
func openLoop(posters []poster, bodies [][]byte, next *atomic.Int64, rate float64, d time.Duration) (lats, lag []time.Duration) {
	if rate < 1 {
		rate = 1
	}
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d / interval)
	jobs := make(chan time.Time, 4096)
	var mu sync.Mutex
	var fails atomic.Int64
	var wg sync.WaitGroup
	for _, p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for sched := range jobs {
				i := next.Add(1)
				if int(i) >= len(bodies) {
					continue
				}
				if !p.post(bodies[i]) {
					fails.Add(1)
				}
				mine = append(mine, time.Since(sched))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	lag = make([]time.Duration, 0, total)
	start := time.Now()
	for k := 0; k < total; k++ {
		sched := start.Add(time.Duration(k) * interval)
		if dl := time.Until(sched); dl > 0 {
			time.Sleep(dl)
		}
		jobs <- sched
		lag = append(lag, time.Since(sched))
	}
	close(jobs)
	wg.Wait()
	if f := fails.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d requests not authorized (open loop)\n", f)
	}
	return lats, lag
}

// hiccups spins on a locked OS thread for d, reading the clock, and
// describes the gaps longer than 1 ms between two readings: the time the
// thread was not running although it never blocked (host preemption,
// kernel work, other tasks on the CPU). With nothing else running, these
// are the machine's own latency floor.
func hiccups(d time.Duration) string {
	runtime.LockOSThread()
	start := time.Now()
	end, last := start.Add(d), start
	var over1, over2, over5 int
	var worst, lost time.Duration
	for now := start; now.Before(end); now = time.Now() {
		if g := now.Sub(last); g > time.Millisecond {
			over1++
			lost += g
			worst = max(worst, g)
			if g > 2*time.Millisecond {
				over2++
			}
			if g > 5*time.Millisecond {
				over5++
			}
		}
		last = now
	}
	return fmt.Sprintf("%d gaps > 1 ms (%d > 2 ms, %d > 5 ms), longest %s, %.2f%% of %v lost", over1, over2, over5, ms(worst), 100*lost.Seconds()/d.Seconds(), d)
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, int(float64(len(l))*p/100))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func startGateway(bin, cpus string, env map[string]string) (string, int, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "gateway")
	if cpus != "" {
		// taskset execs the gateway: the pid stays the gateway's.
		cmd = exec.Command("taskset", "-c", cpus, bin, "gateway")
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "A1_LISTEN=" + addr}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	base := "http://" + addr
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, cmd.Process.Pid, stop
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	fatal("gateway did not become ready")
	return "", 0, nil
}

func pk(k ed25519.PrivateKey) a1.PublicKey { return a1.PublicKey(k.Public().(ed25519.PublicKey)) }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func mustTemp() string {
	d, err := os.MkdirTemp("", "a1-bench-")
	must(err)
	return d
}

func must(err error) {
	if err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}
