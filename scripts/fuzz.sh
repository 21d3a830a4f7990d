#!/usr/bin/env bash
# fuzz.sh: a short run of every fuzz target (seconds each; default 4s).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-4s}
# package:target[:parallel]. The gateway target runs one worker: each worker
# process starts an in-process gateway, and a second one gains nothing in a
# few seconds on two cores.
for spec in .:FuzzDecodeChain .:FuzzVerifyMutatedChain .:FuzzIntent ./audit:FuzzAppendUnsealed \
  ./gateway:FuzzScanJSON:1 ./gateway:FuzzFastAuthorize:1 ./gateway:FuzzHandler:1; do
  IFS=: read -r pkg target par <<<"$spec"
  echo "fuzz: $pkg $target ($t)"
  log=/tmp/a1-fuzz-$target.log
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" ${par:+-parallel "$par"} "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
  tail -1 "$log"
done
