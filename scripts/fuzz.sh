#!/usr/bin/env bash
# fuzz.sh: a short run of every fuzz target (seconds each; default 4s).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-4s}
for target in FuzzDecodeChain FuzzVerifyMutatedChain FuzzIntent; do
  echo "fuzz: $target ($t)"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" . >/tmp/a1-fuzz-$target.log 2>&1 || { cat /tmp/a1-fuzz-$target.log; exit 1; }
  tail -1 /tmp/a1-fuzz-$target.log
done
