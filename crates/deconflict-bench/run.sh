#!/usr/bin/env bash
# Builds the release binaries, starts `deconflict serve --dev` on a fresh temporary data
# directory on a free loopback port, runs `deconflict-load all` against it, then measures the
# start-up time after a restart with the seeded data and the server's memory (VmRSS/VmHWM),
# runs the query and version scenarios again against the restarted server, stops it and prints
# everything. Every report notes the server's CPU per request (`--server-pid`).
#
# Settings (environment):
#   COUNT=100000     intents seeded over HTTP
#   DURATION=20s     length of the query, version and contention runs
#   CONCURRENCY=32   clients of every scenario
#   THREADS=1        worker threads of the load generator (the server needs the other core)
#   SERVER_LOG=warn  RUST_LOG of the server (its default, info, logs every request)
#   MILLION=0        1: also seed 1,000,000 intents straight into a store (seed-direct) and
#                    measure start-up and memory on it
#   BIG_COUNT=1000000  the size of that run
#   KEEP=0           1: keep the temporary directory (data, logs, JSON reports)
#
# Only loopback addresses are used. Every run is bounded in time.
set -euo pipefail

cd "$(dirname "$0")/../.."
COUNT=${COUNT:-100000}
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-32}
THREADS=${THREADS:-1}
SERVER_LOG=${SERVER_LOG:-warn}
MILLION=${MILLION:-0}
BIG_COUNT=${BIG_COUNT:-1000000}
KEEP=${KEEP:-0}

cargo build --release -p deconflict-cli -p deconflict-bench
BIN=$PWD/target/release
WORK=$(mktemp -d /tmp/deconflict-bench.XXXXXX)
SERVER_PID=

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# shellcheck source=ports.sh
source crates/deconflict-bench/ports.sh

# start_server DIR PORT LOG: starts the server; STARTUP is set to the seconds from launch until
# /healthy answered. (Not run in a subshell, so that SERVER_PID stays set.)
start_server() {
    local dir=$1 port=$2 log=$3 t0 t1
    t0=$(date +%s.%N)
    RUST_LOG=$SERVER_LOG "$BIN/deconflict" serve --dev --data-dir "$dir" \
        --listen "127.0.0.1:$port" 2>>"$log" &
    SERVER_PID=$!
    "$BIN/deconflict-load" --url "http://127.0.0.1:$port" wait-healthy --max-time 120s >/dev/null
    t1=$(date +%s.%N)
    STARTUP=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# memory PID: VmRSS and VmHWM in MiB.
memory() {
    awk '/^VmRSS|^VmHWM/ { printf "%s %.0f MiB  ", $1, $2 / 1024 }' "/proc/$1/status"
}

token() {
    "$BIN/deconflict" dev-token --sub bench --scope 'utm.strategic_coordination' \
        --data-dir "$1" --lifetime 7200
}

DATA=$WORK/data
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== server: $BIN/deconflict serve --dev --data-dir $DATA --listen 127.0.0.1:$PORT (RUST_LOG=$SERVER_LOG)"
start_server "$DATA" "$PORT" "$WORK/server.log"
STARTUP_EMPTY=$STARTUP
echo "start-up, empty store: ${STARTUP_EMPTY} s"
export DECONFLICT_TOKEN
DECONFLICT_TOKEN=$(token "$DATA")

echo "== deconflict-load --threads $THREADS all --count $COUNT --concurrency $CONCURRENCY --duration $DURATION"
"$BIN/deconflict-load" --url "$URL" --threads "$THREADS" --json-out "$WORK/all.json" \
    --server-pid "$SERVER_PID" \
    all --count "$COUNT" --concurrency "$CONCURRENCY" --duration "$DURATION" | tee "$WORK/all.txt"
MEM_LOADED=$(memory "$SERVER_PID")
echo "server memory after the load: $MEM_LOADED"
DB_BYTES=$(stat -c %s "$DATA/deconflict.sqlite3")
stop_server

start_server "$DATA" "$PORT" "$WORK/server.log"
STARTUP_SEEDED=$STARTUP
sleep 1
MEM_RESTARTED=$(memory "$SERVER_PID")
echo "start-up with the seeded store ($((DB_BYTES / 1000000)) MB): ${STARTUP_SEEDED} s; memory: $MEM_RESTARTED"
for scenario in query version; do
    echo "== $scenario after the restart"
    "$BIN/deconflict-load" --url "$URL" --threads "$THREADS" --server-pid "$SERVER_PID" \
        --json-out "$WORK/restarted-$scenario.json" \
        "$scenario" --concurrency "$CONCURRENCY" --duration "$DURATION" |
        tee -a "$WORK/restarted.txt"
    sleep 2
done
stop_server

if [[ $MILLION == 1 ]]; then
    BIG=$WORK/big
    echo "== deconflict-load seed-direct --data-dir $BIG --count $BIG_COUNT"
    "$BIN/deconflict-load" seed-direct --data-dir "$BIG" --count "$BIG_COUNT" | tee "$WORK/big.txt"
    BIG_BYTES=$(stat -c %s "$BIG/deconflict.sqlite3")
    start_server "$BIG" "$PORT" "$WORK/server-big.log"
    STARTUP_BIG=$STARTUP
    sleep 1
    MEM_BIG=$(memory "$SERVER_PID")
    echo "start-up with $BIG_COUNT intents ($((BIG_BYTES / 1000000)) MB): ${STARTUP_BIG} s; memory: $MEM_BIG"
    DECONFLICT_TOKEN=$(token "$BIG")
    echo "== query against $BIG_COUNT intents"
    "$BIN/deconflict-load" --url "$URL" --threads "$THREADS" --json-out "$WORK/big-query.json" \
        --server-pid "$SERVER_PID" query --concurrency "$CONCURRENCY" --duration "$DURATION" | tee -a "$WORK/big.txt"
    MEM_BIG_LOADED=$(memory "$SERVER_PID")
    stop_server
fi

echo
echo "================ summary ================"
cat "$WORK/all.txt"
echo "start-up, empty store:            ${STARTUP_EMPTY} s"
echo "server memory after the load:     $MEM_LOADED"
echo "start-up after restart ($COUNT+):  ${STARTUP_SEEDED} s; memory $MEM_RESTARTED"
echo "after the restart:"
cat "$WORK/restarted.txt"
if [[ $MILLION == 1 ]]; then
    echo "start-up with $BIG_COUNT intents: ${STARTUP_BIG} s; memory $MEM_BIG; after queries $MEM_BIG_LOADED"
fi
