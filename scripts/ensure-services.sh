#!/usr/bin/env bash
# Start PostgreSQL and Redis on 127.0.0.1 if they are not already answering.
set -euo pipefail

wait_for() {  # wait_for "what" command...
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then echo "$what: ready"; return 0; fi
    sleep 0.5
  done
  echo "$what: did not become ready" >&2
  return 1
}

if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  echo "postgresql: already running"
else
  echo "postgresql: starting"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  wait_for postgresql pg_isready -h 127.0.0.1 -p 5432
fi

if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "redis: already running"
else
  echo "redis: starting"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis bash -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
fi
