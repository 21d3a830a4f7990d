#!/usr/bin/env bash
# walkthrough.sh: runs the README's five-minute walkthrough against a real
# `a1 gateway` process on a free loopback port and checks every outcome.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
gw_pid=
cleanup() { [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
(cd "$root" && go build -o "$tmp/a1" ./cmd/a1)

fail() { echo "walkthrough: FAIL: $*" >&2; [ -f gw.err ] && tail -5 gw.err >&2; exit 1; }
expect() { # expect EXIT_CODE PATTERN -- command...
  local want=$1 pat=$2; shift 3
  set +e; out=$("$@" 2>&1); rc=$?; set -e
  [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $out"
  grep -q -- "$pat" <<<"$out" || fail "$*: output lacks '$pat': $out"
  echo "ok: $pat"
}

./a1 keygen --out human.key > human.pub
./a1 keygen --out agent.key > agent.pub
openssl rand -hex 32 > admin.token 2>/dev/null || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > admin.token

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
G=http://127.0.0.1:$port
A1_LISTEN=127.0.0.1:$port A1_TRUSTED_ROOTS=$(cat human.pub) A1_ADMIN_TOKEN=$(cat admin.token) A1_DATA_DIR=./a1-demo \
  ./a1 gateway >gw.out 2>gw.err &
gw_pid=$!
for _ in $(seq 1 50); do curl -sf "$G/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
expect 0 '"storage":"ok"' -- curl -sf "$G/healthz"

./a1 passport issue --namespace trading --allow trade.equity,portfolio.read --ttl 30d --key human.key --out passport.json >/dev/null
./a1 passport sub --passport passport.json --key human.key --delegate "$(cat agent.pub)" --allow trade.equity --ttl 1h --out chain.json >/dev/null
expect 0 'signature:   valid' -- ./a1 chain inspect chain.json

expect 0 'authorized:        true' -- ./a1 authorize --gateway "$G" --chain chain.json --intent trade.equity --key agent.key
expect 0 'authorized:        true' -- ./a1 authorize --gateway "$G" --chain chain.json --intent trade.equity --key agent.key
expect 1 'SCOPE_VIOLATION' -- ./a1 authorize --gateway "$G" --chain chain.json --intent portfolio.read --key agent.key
expect 0 'authorized:        true' -- ./a1 authorize --gateway "$G" --chain chain.json --intent trade.equity --key agent.key --no-pop
expect 1 'NONCE_REPLAY' -- ./a1 authorize --gateway "$G" --chain chain.json --intent trade.equity --key agent.key --no-pop
expect 1 'UNAUTHORIZED_EXECUTOR\|INVALID_PROOF' -- ./a1 authorize --gateway "$G" --chain chain.json --intent trade.equity --key human.key
expect 0 '^revoked: [0-9a-f]\{64\}$' -- ./a1 revoke --gateway "$G" --chain chain.json --index 1 --key human.key --reason "demo over"
fp1=${out#revoked: }
expect 1 'CERT_REVOKED' -- ./a1 authorize --gateway "$G" --chain chain.json --intent trade.equity --key agent.key
expect 0 "^already revoked: $fp1\$" -- env A1_ADMIN_TOKEN="$(cat admin.token)" ./a1 revoke --gateway "$G" --fingerprint "$fp1"
# Offline there is no revocation list unless given.
expect 0 '"authorized": true' -- ./a1 verify --chain chain.json --intent trade.equity --executor "$(cat agent.pub)" --trust-root "$(cat human.pub)"
expect 1 '"error_code": "CERT_REVOKED"' -- ./a1 verify --chain chain.json --intent trade.equity --executor "$(cat agent.pub)" --trust-root "$(cat human.pub)" --revoked "$fp1"

kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; gw_pid=
grep -q '"decision":"deny"' gw.out || fail "no deny audit event on the gateway's stdout"
expect 0 'OK\|ok' -- ./a1 audit verify gw.out
echo "walkthrough: all steps behaved as the README says"
