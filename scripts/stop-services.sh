#!/usr/bin/env bash
# Stops the Kafka broker that scripts/services.sh started (found by its pid file). PostgreSQL,
# Redis and RabbitMQ are system services shared with the rest of the machine and are left alone.
set -euo pipefail

EL_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/eventloom"
KAFKA_PIDFILE="$EL_CACHE/kafka-data/kafka.pid"
STOP_TIMEOUT=30

log() { printf '[stop-services] %s\n' "$*"; }

mkdir -p "$EL_CACHE"
exec 9>"$EL_CACHE/services.lock"
flock -w 600 9 || { log "ERROR: timed out waiting for a running services.sh to finish" >&2; exit 1; }

pid="$(cat "$KAFKA_PIDFILE" 2>/dev/null || true)"
if [ -z "$pid" ]; then
  log "Kafka: no pid file ($KAFKA_PIDFILE); nothing to stop"
  exit 0
fi
if ! kill -0 "$pid" 2>/dev/null || ! grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
  log "Kafka: pid $pid is not a running broker; removing stale pid file"
  rm -f "$KAFKA_PIDFILE"
  exit 0
fi

log "Kafka: stopping broker pid $pid (SIGTERM, max ${STOP_TIMEOUT}s)"
kill -TERM "$pid"
start=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  if (( SECONDS - start >= STOP_TIMEOUT )); then
    log "Kafka: pid $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.5
done
rm -f "$KAFKA_PIDFILE"
log "Kafka: stopped after $((SECONDS - start))s"
