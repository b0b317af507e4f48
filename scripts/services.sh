#!/usr/bin/env bash
# Makes sure the local services Eventloom's integration and e2e tests talk to are up, on loopback:
#   PostgreSQL 127.0.0.1:5432 (trust auth, database eventloom_test), Redis 127.0.0.1:6379,
#   RabbitMQ 127.0.0.1:5672 (guest/guest), Kafka 3.9 (KRaft, single node) 127.0.0.1:9092,
#   and Debian's Chromium at /usr/bin/chromium for Playwright.
# Idempotent: each service is checked first and only installed/started when it does not answer,
# so a run with everything up takes a couple of seconds. Every wait is time-bounded.
# The Kafka broker runs from Maven Central jars cached under ${XDG_CACHE_HOME:-~/.cache}/eventloom;
# scripts/stop-services.sh stops it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EL_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/eventloom"

PG_HOST=127.0.0.1 PG_PORT=5432 PG_DB=eventloom_test
REDIS_PORT=6379
RABBIT_PORT=5672
KAFKA_VERSION="${EVENTLOOM_KAFKA_VERSION:-3.9.2}"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT="${EVENTLOOM_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HOME="$EL_CACHE/kafka-$KAFKA_VERSION"   # pom + libs/ (downloaded once)
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_DIR="$EL_CACHE/kafka-data"               # config, data, logs, pid file
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

KAFKA_TIMEOUT=120 SERVICE_TIMEOUT=60

T0=$SECONDS
log() { printf '[services %3ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[services %3ds] ERROR: %s\n' "$((SECONDS - T0))" "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
fi

# --- helpers -------------------------------------------------------------------------------------

# All commands that may leave a daemon behind run with fd 9 (the lock below) closed, so the daemon
# does not keep the lock held forever.
APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq 9>&- || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" 9>&- >/dev/null \
    || die "apt-get install $* failed"
}

port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# wait_for NAME TIMEOUT_S CMD... : runs CMD every second until it succeeds, or dies naming NAME.
wait_for() {
  local name=$1 limit=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || die "$name did not answer within ${limit}s"
    sleep 1
  done
}

# pid of the process listening on 127.0.0.1:PORT (empty when unknown)
port_owner_pid() {
  command -v ss >/dev/null 2>&1 || return 0
  $SUDO ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}
describe_pid() { [ -n "$1" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | cut -c1-200; }

# --- one run at a time ---------------------------------------------------------------------------
mkdir -p "$EL_CACHE"
exec 9>"$EL_CACHE/services.lock"
if ! flock -n 9; then
  log "another services.sh run holds $EL_CACHE/services.lock; waiting (max 600s)"
  flock -w 600 9 || die "timed out waiting for another services.sh run to finish"
fi

# --- PostgreSQL ----------------------------------------------------------------------------------
pg_psql() { PGCONNECT_TIMEOUT=3 psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U postgres "$@"; }
pg_ready() {
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 && [ "$(pg_psql -d postgres -Atc 'select 1' 2>/dev/null)" = 1 ]
}
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n1; }

pg_trust_loopback() {  # fresh Debian installs use scram for TCP; the tests connect with trust
  local hba="/etc/postgresql/$1/main/pg_hba.conf"
  [ -f "$hba" ] || return 0
  if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    log "PostgreSQL: enabling trust auth for 127.0.0.1 and ::1 in $hba"
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$1" main reload 9>&- || true
  fi
}

ensure_postgres() {
  if command -v pg_isready >/dev/null 2>&1 && pg_ready; then
    log "PostgreSQL: up on $PG_HOST:$PG_PORT"
  else
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
      apt_install postgresql
    fi
    local ver; ver="$(pg_version)"
    if [ -z "$ver" ] || [ ! -d "/etc/postgresql/$ver/main" ]; then
      ver="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
      log "PostgreSQL: creating cluster $ver/main"
      $SUDO pg_createcluster "$ver" main 9>&- >/dev/null
    fi
    pg_trust_loopback "$ver"
    if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
      log "PostgreSQL: cluster $ver/main is running; waiting for it to accept connections"
    else
      log "PostgreSQL: starting cluster $ver/main"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 9>&- \
        || die "PostgreSQL: pg_ctlcluster $ver main start failed (see /var/log/postgresql/postgresql-$ver-main.log)"
    fi
    wait_for "PostgreSQL ($PG_HOST:$PG_PORT, psql -U postgres with trust auth)" "$SERVICE_TIMEOUT" pg_ready
    log "PostgreSQL: up on $PG_HOST:$PG_PORT"
  fi
  if [ "$(pg_psql -d postgres -Atc "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    log "PostgreSQL: creating database $PG_DB"
    pg_psql -d postgres -c "create database $PG_DB" >/dev/null
  fi
}

# --- Redis ---------------------------------------------------------------------------------------
redis_ready() { [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
  if command -v redis-cli >/dev/null 2>&1 && redis_ready; then
    log "Redis: up on 127.0.0.1:$REDIS_PORT"; return
  fi
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server
  fi
  if ! redis_ready; then  # (the package's postinst may have started it)
    log "Redis: starting"
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log 9>&- || die "Redis: redis-server failed to start"
    wait_for "Redis (127.0.0.1:$REDIS_PORT, see /var/log/redis/ci.log)" "$SERVICE_TIMEOUT" redis_ready
  fi
  log "Redis: up on 127.0.0.1:$REDIS_PORT"
}

# --- RabbitMQ ------------------------------------------------------------------------------------
rabbit_ready() {
  port_open 127.0.0.1 "$RABBIT_PORT" && timeout 20 $SUDO rabbitmq-diagnostics -q check_port_connectivity
}

rabbit_loopback_config() {  # only fills in what a fresh install lacks; an existing config is kept
  $SUDO mkdir -p /etc/rabbitmq
  if ! grep -qs '^listeners\.tcp' /etc/rabbitmq/rabbitmq.conf; then
    log "RabbitMQ: binding AMQP to 127.0.0.1:$RABBIT_PORT in /etc/rabbitmq/rabbitmq.conf"
    echo "listeners.tcp.local = 127.0.0.1:$RABBIT_PORT" | $SUDO tee -a /etc/rabbitmq/rabbitmq.conf >/dev/null
  fi
}

ensure_rabbitmq() {
  if command -v rabbitmq-diagnostics >/dev/null 2>&1 && rabbit_ready >/dev/null 2>&1; then
    log "RabbitMQ: up on 127.0.0.1:$RABBIT_PORT"; return
  fi
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
  if ! rabbit_ready >/dev/null 2>&1; then
    if port_open 127.0.0.1 "$RABBIT_PORT" || $SUDO rabbitmqctl -q status >/dev/null 2>&1; then
      log "RabbitMQ: node is running; waiting for it to answer"
    else
      rabbit_loopback_config
      log "RabbitMQ: starting (rabbitmq-server -detached)"
      $SUDO rabbitmq-server -detached 9>&- >/dev/null 2>&1 || die "RabbitMQ: rabbitmq-server -detached failed"
    fi
    wait_for "RabbitMQ (127.0.0.1:$RABBIT_PORT, see /var/log/rabbitmq/)" "$SERVICE_TIMEOUT" rabbit_ready
  fi
  timeout 20 $SUDO rabbitmqctl -q authenticate_user guest guest >/dev/null 2>&1 \
    || die "RabbitMQ: user guest/guest does not authenticate"
  log "RabbitMQ: up on 127.0.0.1:$RABBIT_PORT (guest/guest)"
}

# --- Kafka ---------------------------------------------------------------------------------------
kafka_client_ready() {  # a real metadata request through kafkajs
  node "$ROOT/scripts/wait-kafka.mjs" --brokers "127.0.0.1:$KAFKA_PORT" --timeout "$1" "${@:2}"
}

kafka_our_pid() {  # pid of the broker this script started, if it is still alive
  local pid
  pid="$(cat "$KAFKA_PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
  return 0
}

kafka_jars() {
  if [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$KAFKA_LIBS/reload4j-1.2.25.jar" ]; then return; fi
  command -v java >/dev/null 2>&1 || apt_install default-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  log "Kafka: downloading Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  mkdir -p "$KAFKA_HOME"
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by eventloom scripts/services.sh: fetches the Kafka broker's runtime jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.eventloom</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin>
    </plugins>
  </build>
</project>
EOF
  rm -rf "$KAFKA_LIBS.tmp"
  if ! (cd "$KAFKA_HOME" && mvn -q -B -ntp -Dstyle.color=never -f pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp" </dev/null >"$KAFKA_HOME/mvn.log" 2>&1); then
    cat "$KAFKA_HOME/mvn.log" >&2
    die "Kafka: mvn could not fetch the Kafka $KAFKA_VERSION jars (see above)"
  fi
  [ -f "$KAFKA_LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "Kafka: kafka_2.13-$KAFKA_VERSION.jar missing after download"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  log "Kafka: $(ls "$KAFKA_LIBS" | wc -l) jars in $KAFKA_LIBS"
}

kafka_config() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Generated by eventloom scripts/services.sh on every start: single-node KRaft, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=48
log.segment.bytes=67108864
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

kafka_format() {
  [ -f "$KAFKA_DIR/data/meta.properties" ] && return
  log "Kafka: formatting storage in $KAFKA_DIR/data"
  local cluster_id
  cluster_id="$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 || true)"
  [ -n "$cluster_id" ] || die "Kafka: StorageTool random-uuid failed"
  java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" -g >/dev/null \
    || die "Kafka: StorageTool format failed"
}

kafka_wait_started() {  # PID DEADLINE(SECONDS value): waits for 'Kafka Server started' in the log
  local pid=$1 deadline=$2
  until grep -q 'Kafka Server started' "$KAFKA_DIR/logs/server.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$KAFKA_DIR/logs/server.log" "$KAFKA_DIR/logs/kafka.out" >&2 2>/dev/null || true
      die "Kafka: the broker (pid $pid) exited during startup; logs in $KAFKA_DIR/logs"
    fi
    if (( SECONDS >= deadline )); then
      tail -n 30 "$KAFKA_DIR/logs/server.log" >&2 2>/dev/null || true
      die "Kafka: no 'Kafka Server started' in $KAFKA_DIR/logs/server.log within ${KAFKA_TIMEOUT}s (pid $pid still running)"
    fi
    sleep 0.5
  done
}

ensure_kafka() {
  local pid owner deadline=$((SECONDS + KAFKA_TIMEOUT))
  [ -f "$ROOT/node_modules/kafkajs/package.json" ] || die "Kafka: kafkajs is not installed (run npm ci first); it is needed to check the broker"
  pid="$(kafka_our_pid)"
  if port_open 127.0.0.1 "$KAFKA_PORT"; then
    if kafka_client_ready 5 --quiet; then log "Kafka: up on 127.0.0.1:$KAFKA_PORT"; return; fi
    owner="$(port_owner_pid "$KAFKA_PORT")"
    if [ -n "$pid" ] || { [ -n "$owner" ] && grep -qa 'kafka\.Kafka' "/proc/$owner/cmdline" 2>/dev/null; }; then
      log "Kafka: a broker (pid ${pid:-$owner}) holds port $KAFKA_PORT but does not answer yet; waiting"
      kafka_client_ready $((deadline - SECONDS)) || die "Kafka: broker on 127.0.0.1:$KAFKA_PORT did not answer within ${KAFKA_TIMEOUT}s"
      log "Kafka: up on 127.0.0.1:$KAFKA_PORT"; return
    fi
    die "Kafka: port $KAFKA_PORT is taken by a process that is not a Kafka broker${owner:+ (pid $owner: $(describe_pid "$owner"))}; stop it and run again"
  fi
  if [ -n "$pid" ]; then
    log "Kafka: broker pid $pid is running but port $KAFKA_PORT is not open yet; waiting"
  else
    if port_open 127.0.0.1 "$KAFKA_CONTROLLER_PORT"; then
      owner="$(port_owner_pid "$KAFKA_CONTROLLER_PORT")"
      die "Kafka: controller port $KAFKA_CONTROLLER_PORT is taken${owner:+ by pid $owner ($(describe_pid "$owner"))}; set EVENTLOOM_KAFKA_CONTROLLER_PORT to a free port"
    fi
    command -v java >/dev/null 2>&1 || apt_install default-jre-headless
    kafka_jars
    kafka_config
    kafka_format
    [ -f "$KAFKA_DIR/logs/server.log" ] && mv -f "$KAFKA_DIR/logs/server.log" "$KAFKA_DIR/logs/server.log.prev"
    log "Kafka: starting broker $KAFKA_VERSION (KRaft, 127.0.0.1:$KAFKA_PORT, controller :$KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP_OPTS)"
    # shellcheck disable=SC2086
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
      java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
      -Djava.awt.headless=true -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
      -Dkafka.logs.dir="$KAFKA_DIR/logs" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
      </dev/null >"$KAFKA_DIR/logs/kafka.out" 2>&1 9>&- &
    local _
    for _ in $(seq 1 50); do pid="$(kafka_our_pid)"; [ -n "$pid" ] && break; sleep 0.1; done
    [ -n "$pid" ] || { cat "$KAFKA_DIR/logs/kafka.out" >&2 2>/dev/null || true; die "Kafka: the broker process did not start"; }
    log "Kafka: pid $pid; waiting for 'Kafka Server started' (max ${KAFKA_TIMEOUT}s; log $KAFKA_DIR/logs/server.log)"
  fi
  kafka_wait_started "$pid" "$deadline"
  kafka_client_ready $((deadline > SECONDS + 5 ? deadline - SECONDS : 5)) \
    || die "Kafka: broker logged 'Kafka Server started' but did not answer a metadata request on 127.0.0.1:$KAFKA_PORT"
  log "Kafka: up on 127.0.0.1:$KAFKA_PORT (pid $pid)"
}

# --- Chromium ------------------------------------------------------------------------------------
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then log "Chromium: /usr/bin/chromium present"; return; fi
  apt_install chromium
  [ -x /usr/bin/chromium ] || die "Chromium: /usr/bin/chromium missing after apt-get install chromium"
  log "Chromium: installed ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
}

# EVENTLOOM_SERVICES picks a subset (e.g. "kafka"); all of them by default.
for service in ${EVENTLOOM_SERVICES:-postgres redis rabbitmq kafka chromium}; do
  case "$service" in
    postgres) ensure_postgres ;;
    redis) ensure_redis ;;
    rabbitmq) ensure_rabbitmq ;;
    kafka) ensure_kafka ;;
    chromium) ensure_chromium ;;
    *) die "unknown service '$service' in EVENTLOOM_SERVICES (postgres redis rabbitmq kafka chromium)" ;;
  esac
done
log "ready: ${EVENTLOOM_SERVICES:-postgres redis rabbitmq kafka chromium}"
