#!/usr/bin/env bash
# services.sh: make sure the PostgreSQL and Redis servers the tests need are
# installed and running on 127.0.0.1. Installs them from Debian's packages
# when missing. Idempotent; safe to run on every test run.
set -euo pipefail

pg_ok() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_ok() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! pg_ok; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "services: installing PostgreSQL" >&2
    apt_install postgresql
  fi
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    as_root pg_createcluster "$ver" main >/dev/null
  fi
  conf=/etc/postgresql/$ver/main/pg_hba.conf
  if [ -f "$conf" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$conf"; then
    # Test cluster only: trust loopback connections, as the CI machines do.
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_ok && break; sleep 1; done
fi
pg_ok || { echo "services: PostgreSQL did not start" >&2; exit 1; }
if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null
fi

if ! redis_ok; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "services: installing Redis" >&2
    apt_install redis-server
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis_ok && break; sleep 0.5; done
fi
redis_ok || { echo "services: Redis did not start" >&2; exit 1; }
# PgBouncer: the store tests start their own instance (transaction pooling,
# free loopback port) from a temporary config; only the binary is needed.
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "services: installing PgBouncer" >&2
  apt_install pgbouncer
fi
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || { echo "services: PgBouncer missing" >&2; exit 1; }
echo "services: PostgreSQL, Redis and PgBouncer are up" >&2
