#!/usr/bin/env bash
# bench-gateway.sh: authorizations/s and p50/p99 of `a1 gateway` over
# loopback for the memory, embedded (bbolt), Redis and PostgreSQL backends,
# beside two in-process rates measured in the same run: the protocol core's
# 2-hop chain verify (BenchmarkVerifyChain2Hop, the issue's target) and the
# gateway's own request verified in-process with warm caches (stricter).
#
#   scripts/bench-gateway.sh [duration] [concurrency]     (defaults 4s, 32)
#
# It prints two tables: "shared", the gateway and the load generator on the
# same cores (what a single-box test gives), and, on a machine with 2 or
# more CPUs, "core for core": the gateway pinned to CPU 1 and the load
# generator (with its in-process phases) and the local storage servers to
# CPU 0, so nothing steals the gateway's CPU, as with separate machines.
# Set A1_BENCH_MODES=shared (or pinned) to run one, and A1_BENCH_STORES
# (e.g. "redis postgres") to run some of the backends.
#
# Each backend runs a warm-up (1s), a closed-loop saturation phase and an
# open-loop phase at half the saturated rate (latency from the scheduled
# send time). The table also gives the CPU time the gateway process and the
# load generator used per request in the saturated phase, and how late the
# open-loop dispatcher was (p99). PostgreSQL and Redis come from
# A1_TEST_PG_URL / A1_TEST_REDIS_URL (defaults: the local test servers); an
# unreachable one is skipped. Extra loadgen flags can be passed in
# A1_LOADGEN_FLAGS (e.g. "-client nethttp" or "-gateway-env GOGC=200").
# Total time is bounded: about 2 x 4 x (3 x duration + 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-4s}
conc=${2:-32}
pg=${A1_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
redis=${A1_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a) # before the builds
tmp=$(mktemp -d)
# Core for core also moves local storage servers (redis-server, postgres) to
# CPU 0, beside the load generator, so CPU 1 is the gateway's alone, as on
# a machine of its own; their affinity is restored on exit.
storage_pids() { pgrep -x redis-server 2>/dev/null; pgrep -x postgres 2>/dev/null; true; }
restore_storage() { for p in $(storage_pids); do taskset -a -p -c "0-$(($(nproc) - 1))" "$p" >/dev/null 2>&1 || true; done; }
trap 'restore_storage; rm -rf "$tmp"' EXIT
go build -o "$tmp/a1" ./cmd/a1
go build -o "$tmp/loadgen" ./gateway/internal/loadgen
echo "# a1 gateway benchmark: $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%F), duration $dur, concurrency $conc, load average $load0 before building, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a) after"
modes=${A1_BENCH_MODES:-shared pinned}
[ "$(nproc)" -ge 2 ] || modes=shared
for mode in $modes; do
header=-header
pin=()
gwcpus=()
if [ "$mode" = pinned ]; then
  pin=(taskset -c 0)
  gwcpus=(-gateway-cpus 1)
  moved=0
  for p in $(storage_pids); do taskset -a -p -c 0 "$p" >/dev/null 2>&1 && moved=$((moved + 1)); done
  echo "## core for core: gateway on CPU 1; load generator, in-process phases and local storage servers ($moved processes moved) on CPU 0"
else
  restore_storage
  echo "## shared: gateway, load generator and storage servers on all $(nproc) CPUs"
fi
# The machine's own stalls: a thread spinning alone on each CPU, before
# anything else of this mode runs. Gaps it sees land in every latency
# below, whatever the backend.
for cpu in $(seq 0 $(($(nproc) - 1))); do
  taskset -c "$cpu" "$tmp/loadgen" -hiccup 5s | sed "s/^/# machine hiccups, CPU $cpu alone (5 s spin): /" &
done
wait
for store in ${A1_BENCH_STORES:-memory bolt redis postgres}; do
  case $store in
    redis) host=$(echo "$redis" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]+).*#\2#') ;;
    postgres) host=$(echo "$pg" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]+).*#\2#') ;;
    *) host= ;;
  esac
  if [ -n "$host" ] && ! timeout 2 bash -c "exec 3<>/dev/tcp/${host%:*}/${host##*:}" 2>/dev/null; then
    echo "| $store | skipped: $host unreachable | | | | | | | | | |"
    continue
  fi
  # On a local Redis, also print the server's own time per authorize
  # script in the half-rate phase (this resets that server's statistics).
  extra=
  case "$store:$host" in redis:127.0.0.1:*|redis:localhost:*|redis:\[::1\]:*) extra=-redis-server-stats ;; esac
  timeout 120 ${pin[@]+"${pin[@]}"} "$tmp/loadgen" ${gwcpus[@]+"${gwcpus[@]}"} -a1 "$tmp/a1" -store "$store" -pg-url "$pg" -redis-url "$redis" \
    -duration "$dur" -concurrency "$conc" $header $extra ${A1_LOADGEN_FLAGS:-} 2>"$tmp/$store.err" || { echo "| $store | failed: $(tail -1 "$tmp/$store.err") | | | | | | | | | |"; }
  header=
done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
