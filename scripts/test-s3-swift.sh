#!/usr/bin/env bash
# A throw-away single-node OpenStack Swift with its S3 API (s3api + tempauth), for the
# object-store conformance suite and the vault benchmark. It installs nothing: the Debian
# packages `swift swift-proxy swift-account swift-container swift-object memcached` (and
# curl) must already be there (.ci/run installs them).
#
#   scripts/test-s3-swift.sh check        exit 0 when the packages are installed, else 1
#                                         and name what is missing
#   scripts/test-s3-swift.sh start [DIR]  start Swift in DIR (default: a new temp folder),
#                                         on free 127.0.0.1 ports; print KEY=value lines
#                                         (also written to DIR/swift.env) once it answers
#                                         signed S3 requests
#   scripts/test-s3-swift.sh stop DIR     stop the processes this script started in DIR
#                                         (by their pid files) and remove DIR
#
# With SWIFT_OWNER_PID=<pid> in start's environment, a watchdog stops Swift and removes
# DIR once that process has exited (for test runners that may be killed).
#
# What start prints:
#   SWIFT_DIR=/tmp/custody-swift.XXXXXX
#   SWIFT_S3_ENDPOINT=http://127.0.0.1:PORT
#   SWIFT_S3_REGION=us-east-1
#   SWIFT_S3_ACCESS_KEY_ID=test:tester
#   SWIFT_S3_SECRET_ACCESS_KEY=testing
#
# Everything (configs, rings, the one device, logs, pid files) lives in DIR; nothing is
# written to /etc/swift or /var. Facts this follows: ../shared/reference/swift-s3api.md.
set -euo pipefail

readonly BINARIES=(swift-ring-builder swift-proxy-server swift-account-server swift-container-server swift-object-server memcached curl)
readonly PACKAGES='swift swift-proxy swift-account swift-container swift-object memcached curl'
readonly ACCESS_KEY='test:tester'
readonly SECRET_KEY='testing'
readonly REGION='us-east-1'
readonly READY_TIMEOUT_S=${SWIFT_READY_TIMEOUT_S:-60}
# Swift's own interpreter (the packages depend on it); used only to find free ports.
readonly PY=/usr/bin/python3
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
readonly SELF

die() { printf 'test-s3-swift: %s\n' "$*" >&2; exit 1; }

missing_binaries() {
  local b path missing=()
  for b in "${BINARIES[@]}"; do
    # (bash's command -v also names a file it found but may not run, hence the -x)
    path=$(command -v "$b" 2>/dev/null || echo "/usr/sbin/$b")
    [ -x "$path" ] || missing+=("$b")
  done
  [ -x "$PY" ] || missing+=("$PY")
  printf '%s\n' "${missing[@]}"
}

cmd_check() {
  local missing
  missing=$(missing_binaries)
  if [ -n "$missing" ]; then
    printf 'test-s3-swift: missing %s; install with: apt-get install -y --no-install-recommends %s\n' \
      "$(echo "$missing" | tr '\n' ' ' | sed 's/ $//')" "$PACKAGES" >&2
    return 1
  fi
}

# N loopback ports that are free right now: all bound at once (so they differ), then
# released for the servers to take.
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    socks.append(s)
print(' '.join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

write_configs() {
  local dir=$1 proxy=$2 account=$3 container=$4 object=$5 memcache=$6
  local etc="$dir/etc"
  mkdir -p "$etc" "$dir/devices/d1" "$dir/run" "$dir/log"

  cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = custody-test
swift_hash_path_suffix = custody-test

[storage-policy:0]
name = Policy-0
default = yes
EOF

  local common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
swift_dir = $etc
devices = $dir/devices
mount_check = false
disable_fallocate = true
log_name = swift
log_level = INFO"

  local server
  for server in account container object; do
    local port_var=$server
    cat >"$etc/$server-server.conf" <<EOF
$common
bind_port = ${!port_var}

[pipeline:main]
pipeline = healthcheck $server-server

[filter:healthcheck]
use = egg:swift#healthcheck

[app:$server-server]
use = egg:swift#$server
EOF
  done

  # The pipeline from the reference note, with Swift's defaults otherwise (notably at most
  # 1,000 parts per multipart upload, which the swift profile knows), so the tests see
  # what a stock Swift does.
  cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $proxy
workers = 0
swift_dir = $etc
log_name = swift-proxy
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcache

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:s3api]
use = egg:swift#s3api
location = $REGION

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_object_versioning = true

[filter:symlink]
use = egg:swift#symlink
EOF
}

build_rings() {
  local etc=$1 account=$2 container=$3 object=$4
  local ring port pids=()
  for ring in account container object; do
    port=${!ring}
    (
      cd "$etc"
      swift-ring-builder "$ring.builder" create 8 1 1 >/dev/null
      swift-ring-builder "$ring.builder" add "r1z1-127.0.0.1:$port/d1" 100 >/dev/null
      # Exit 1 on a first rebalance is a warning (min_part_hours); the ring is written.
      swift-ring-builder "$ring.builder" rebalance >/dev/null || [ $? -eq 1 ]
    ) >"$etc/../log/ring-$ring.log" 2>&1 &
    pids+=($!)
  done
  local p failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ $failed -eq 0 ] || die "building the rings failed: $(cat "$etc"/../log/ring-*.log)"
  for ring in account container object; do
    [ -s "$etc/$ring.ring.gz" ] || die "no $ring ring was written: $(cat "$etc/../log/ring-$ring.log")"
  done
}

# A process's start time (clock ticks since boot): with the pid, it names one process,
# so a pid reused after the server died is never signalled.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # Field 22, counted after the ")" that ends the command name (which may hold spaces).
  stat=${stat##*) }
  echo "$stat" | awk '{ print $20 }'
}

# Running, not merely a zombie waiting for its new parent to reap it.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# Start one background process and record "pid start-time"; -v sends Swift's log to
# the console, which goes to a file here (syslog is not used).
launch() {
  local dir=$1 name=$2
  shift 2
  "$@" >"$dir/log/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid $(start_time "$pid" || echo gone)" >"$dir/run/$name.pid"
}

# Stop what this script started in DIR: each process named by DIR/run/*.pid, and only if
# it is still the one started (same pid and start time). TERM, then KILL after 5 s.
stop_processes() {
  local dir=$1 pidfile pid started pids=()
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    read -r pid started <"$pidfile" || true
    rm -f "$pidfile"
    # (the watchdog, stopping everything, skips itself)
    [ -n "$pid" ] && [ "$pid" != "$$" ] || continue
    if [ "$(start_time "$pid" || true)" = "$started" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local i
  for pid in "${pids[@]}"; do
    for i in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  done
}

# A signed S3 request (SigV4, curl's own signer) for the readiness check. The access key
# holds a ":", so it goes URL-encoded in the URL's user part rather than in --user.
s3_curl() {
  local method=$1 path=$2
  shift 2
  curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X "$method" \
    --aws-sigv4 "aws:amz:$REGION:s3" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$@" "http://test%3Atester:$SECRET_KEY@127.0.0.1:$S3_PORT$path" 2>/dev/null || true
}

# Ready when every server answers its healthcheck and a signed S3 bucket and object
# round trip works (auth, account autocreate, container and object servers). Connection
# failures and 5xx are waited out; any other answer fails at once.
wait_ready() {
  local dir=$1 proxy=$2 account=$3 container=$4 object=$5
  local deadline=$((SECONDS + READY_TIMEOUT_S)) port name
  local -A ports=([proxy]=$proxy [account]=$account [container]=$container [object]=$object)
  for name in proxy account container object; do
    port=${ports[$name]}
    until curl -fsS --max-time 2 "http://127.0.0.1:$port/healthcheck" >/dev/null 2>&1; do
      if ! kill -0 "$(cut -d' ' -f1 "$dir/run/$name.pid")" 2>/dev/null; then
        echo "swift $name server exited: $(tail -n 20 "$dir/log/$name.log")" >&2
        return 1
      fi
      [ $SECONDS -lt $deadline ] || { echo "swift $name server not ready after ${READY_TIMEOUT_S}s" >&2; return 1; }
      sleep 0.2
    done
  done
  S3_PORT=$proxy
  local bucket="ready-$$-$RANDOM" code
  while :; do
    code=$(s3_curl PUT "/$bucket")
    [ "$code" = 200 ] && break
    case $code in
      000 | 5??) ;;
      *) echo "swift s3api: PUT bucket answered HTTP $code" >&2; return 1 ;;
    esac
    [ $SECONDS -lt $deadline ] || { echo "swift s3api not ready after ${READY_TIMEOUT_S}s (PUT bucket: HTTP $code)" >&2; return 1; }
    sleep 0.2
  done
  code=$(s3_curl PUT "/$bucket/probe" --data-binary ready)
  [ "$code" = 200 ] || { echo "swift s3api: PUT object answered HTTP $code" >&2; return 1; }
  s3_curl DELETE "/$bucket/probe" >/dev/null
  s3_curl DELETE "/$bucket" >/dev/null
}

# With SWIFT_OWNER_PID set (a test runner's pid), a watchdog stops everything once that
# process is gone, so a runner killed before it could call stop leaves nothing behind.
# It runs in a session of its own: a signal to the runner's process group (Ctrl-C, a CI
# job being cancelled) must not take the watchdog down with it. (Swift's servers leave
# the group themselves; memcached does not, and dies with the group.)
watch_owner() {
  local dir=$1 owner=$2
  setsid bash "$SELF" watch "$dir" "$owner" >/dev/null 2>&1 </dev/null &
  # The watchdog records its own pid; wait for it, so that stop always finds it.
  local i
  for i in $(seq 1 50); do
    [ -e "$dir/run/watchdog.pid" ] && return 0
    sleep 0.1
  done
  echo "test-s3-swift: the watchdog did not start" >&2
}

cmd_watch() {
  local dir=$1 owner=$2
  echo "$$ $(start_time $$)" >"$dir/run/watchdog.pid"
  while kill -0 "$owner" 2>/dev/null && [ -d "$dir/run" ]; do sleep 1; done
  if [ -d "$dir/run" ]; then
    stop_processes "$dir"
    rm -rf "${dir:?}"
  fi
}

cmd_start() {
  cmd_check || exit 1
  local dir=${1:-}
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/custody-swift.XXXXXX")
  else
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  fi

  local attempt proxy account container object memcache
  # A port picked as free can be taken by someone else before a server binds it; then
  # that server exits and the start is retried on other ports.
  for attempt in 1 2 3; do
    read -r proxy account container object memcache < <(free_ports 5)
    write_configs "$dir" "$proxy" "$account" "$container" "$object" "$memcache"
    build_rings "$dir/etc" "$account" "$container" "$object"
    launch "$dir" memcached memcached -l 127.0.0.1 -p "$memcache" -U 0 -m 64 -u "$(id -un)"
    launch "$dir" account swift-account-server "$dir/etc/account-server.conf" -v
    launch "$dir" container swift-container-server "$dir/etc/container-server.conf" -v
    launch "$dir" object swift-object-server "$dir/etc/object-server.conf" -v
    launch "$dir" proxy swift-proxy-server "$dir/etc/proxy-server.conf" -v
    if wait_ready "$dir" "$proxy" "$account" "$container" "$object"; then
      {
        echo "SWIFT_DIR=$dir"
        echo "SWIFT_S3_ENDPOINT=http://127.0.0.1:$proxy"
        echo "SWIFT_S3_REGION=$REGION"
        echo "SWIFT_S3_ACCESS_KEY_ID=$ACCESS_KEY"
        echo "SWIFT_S3_SECRET_ACCESS_KEY=$SECRET_KEY"
      } >"$dir/swift.env"
      [ -z "${SWIFT_OWNER_PID:-}" ] || watch_owner "$dir" "$SWIFT_OWNER_PID"
      cat "$dir/swift.env"
      return 0
    fi
    stop_processes "$dir"
    [ -n "${SWIFT_KEEP_FAILED:-}" ] && die "kept $dir"
    rm -rf "${dir:?}"/etc "${dir:?}"/devices "${dir:?}"/run
    echo "test-s3-swift: start attempt $attempt failed (logs in $dir/log)" >&2
  done
  local logs
  logs=$(tail -n 5 "$dir"/log/*.log 2>/dev/null || true)
  rm -rf "${dir:?}"
  die "Swift did not start; last log lines: $logs"
}

cmd_stop() {
  local dir=${1:-${SWIFT_DIR:-}}
  [ -n "$dir" ] || die 'usage: test-s3-swift.sh stop DIR (or SWIFT_DIR=DIR)'
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  # Only a folder this script made: it has the env file or the run folder.
  [ -e "$dir/swift.env" ] || [ -d "$dir/run" ] || die "$dir does not look like a folder started by test-s3-swift.sh"
  stop_processes "$dir"
  rm -rf "${dir:?}"
}

case "${1:-}" in
  check) cmd_check ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  watch) cmd_watch "$2" "$3" ;; # internal: started by start with SWIFT_OWNER_PID
  *) die 'usage: test-s3-swift.sh check | start [DIR] | stop DIR' ;;
esac
