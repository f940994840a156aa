#!/usr/bin/env bash
# The stores side by side in one run: the same seed (durable creates) and query loads against
#   1. one instance on SQLite,
#   2. one instance on PostgreSQL,
#   3. two instances sharing PostgreSQL (the load generator spreads its clients over both),
# each on a fresh store, seeded with COUNT intents over HTTP before the query run.
#
# Without DECONFLICT_TEST_POSTGRES, the script runs itself under scripts/pg.sh with
# DECONFLICT_PG_DURABLE=1: a throw-away PostgreSQL on a free loopback port with its durable
# defaults (fsync, synchronous_commit, full_page_writes on), like the SQLite store's
# synchronous=FULL. With DECONFLICT_TEST_POSTGRES set, that server is used as it is (its fsync
# setting is printed), and databases named deconflict_bench_* are created and dropped on it.
#
# Settings (environment):
#   COUNT=100000     intents seeded over HTTP into each store
#   DURATION=20s     length of each query run
#   CONCURRENCY=32   clients of every scenario (spread over both instances of the pool)
#   THREADS=1        worker threads of the load generator (the server needs the other core)
#   SERVER_LOG=warn  RUST_LOG of the servers
#   STORES="sqlite pg pool"  which of the three to run
#   BENCH_BIN=target/release  where deconflict and deconflict-load are; when unset, they are built
#   KEEP=0           1: keep the temporary directory (logs, JSON reports)
#
# After each load the script prints the CPU time (user + system) the servers and PostgreSQL
# spent during it, in all and per request (PostgreSQL's only when scripts/pg.sh started it).
#
# Only loopback addresses are used. Every run is bounded in time.
set -euo pipefail

cd "$(dirname "$0")/../.."
if [[ -z ${DECONFLICT_TEST_POSTGRES:-} ]]; then
    export DECONFLICT_PG_DURABLE=1
    exec ./scripts/pg.sh "$0" "$@"
fi

COUNT=${COUNT:-100000}
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-32}
THREADS=${THREADS:-1}
SERVER_LOG=${SERVER_LOG:-warn}
STORES=${STORES:-sqlite pg pool}
KEEP=${KEEP:-0}

if [[ -z ${BENCH_BIN:-} ]]; then
    cargo build --release -p deconflict-cli -p deconflict-bench
    BENCH_BIN=$PWD/target/release
fi
PSQL=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
WORK=$(mktemp -d /tmp/deconflict-bench-pool.XXXXXX)
PIDS=()
DBS=()

psql_admin() {
    PGOPTIONS='-c client_min_messages=warning' "$PSQL" "$DECONFLICT_TEST_POSTGRES" -X -q -v ON_ERROR_STOP=1 -At -c "$1"
}

stop_servers() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}

cleanup() {
    stop_servers
    local db
    for db in "${DBS[@]}"; do
        psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [[ $KEEP == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# shellcheck source=ports.sh
source crates/deconflict-bench/ports.sh

# A fresh database on the server; DB_URL is set to its URL.
fresh_db() {
    local name=$1
    psql_admin "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
    psql_admin "CREATE DATABASE $name" >/dev/null
    DBS+=("$name")
    # Replace the database of the admin URL (postgres://user:pw@host:port/db[?query]).
    local base=${DECONFLICT_TEST_POSTGRES%%\?*} query=
    [[ $DECONFLICT_TEST_POSTGRES == *\?* ]] && query="?${DECONFLICT_TEST_POSTGRES#*\?}"
    DB_URL="${base%/*}/$name$query"
}

# start DATA_DIR STORE LOG: starts one instance in the background; LAST_URL is set to its URL.
start() {
    local dir=$1 store=$2 log=$3 port
    port=$(free_port)
    RUST_LOG=$SERVER_LOG DECONFLICT_STORE=$store "$BENCH_BIN/deconflict" serve --dev \
        --data-dir "$dir" --listen "127.0.0.1:$port" 2>>"$log" >/dev/null &
    PIDS+=($!)
    LAST_URL=http://127.0.0.1:$port
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

HZ=$(getconf CLK_TCK)
# The PostgreSQL server's main process, when it is the one scripts/pg.sh started.
POSTMASTER=
if [[ -n ${DECONFLICT_TEST_PGDATA:-} && -r $DECONFLICT_TEST_PGDATA/postmaster.pid ]]; then
    POSTMASTER=$(head -n 1 "$DECONFLICT_TEST_PGDATA/postmaster.pid")
fi

# CPU time (user + system, clock ticks) of the servers, and of PostgreSQL: its main process,
# the children it has reaped, and its live backends.
server_ticks() {
    local t=0 p
    for p in "${PIDS[@]}"; do
        [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
pg_ticks() {
    [[ -n $POSTMASTER && -r /proc/$POSTMASTER/stat ]] || { echo -1; return; }
    local t p
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$POSTMASTER/stat")
    for p in $(ps -o pid= --ppid "$POSTMASTER"); do
        [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}

# measure JSON COMMAND...: runs the load generator command, then prints the CPU time the
# servers and PostgreSQL spent during it, in all and per request.
measure() {
    local json=$1 s0 p0 s1 p1 n
    shift
    s0=$(server_ticks)
    p0=$(pg_ticks)
    "$@"
    s1=$(server_ticks)
    p1=$(pg_ticks)
    n=$(jq '[.. | objects | select(has("requests")) | .requests] | add' "$json")
    awk -v s=$((s1 - s0)) -v p0="$p0" -v p=$((p1 - p0)) -v n="$n" -v hz="$HZ" 'BEGIN {
        line = sprintf("   cpu: servers %.1f s (%.0f us per request)", s / hz, s / hz / n * 1e6)
        if (p0 >= 0) line = line sprintf(", PostgreSQL %.1f s (%.0f us per request)", p / hz, p / hz / n * 1e6)
        print line
    }'
}

# run NAME URLS...: seed, then query, with the clients spread over URLS.
run() {
    local name=$1
    shift
    local urls
    urls=$(IFS=,; echo "$*")
    "$BENCH_BIN/deconflict-load" --url "$urls" wait-healthy --max-time 120s >/dev/null
    export DECONFLICT_TOKEN
    DECONFLICT_TOKEN=$("$BENCH_BIN/deconflict" dev-token --sub bench --scope 'utm.strategic_coordination' \
        --data-dir "$DATA" --lifetime 7200)
    echo "== $name: load average before $(loadavg)"
    echo "   deconflict-load --url $urls --threads $THREADS seed --count $COUNT --concurrency $CONCURRENCY --max-time 1200s"
    measure "$WORK/$name-seed.json" \
        "$BENCH_BIN/deconflict-load" --url "$urls" --threads "$THREADS" --json-out "$WORK/$name-seed.json" \
        seed --count "$COUNT" --concurrency "$CONCURRENCY" --max-time 1200s 2>&1 | tee "$WORK/$name.txt"
    sleep 2
    echo "   deconflict-load --url $urls --threads $THREADS query --duration $DURATION --concurrency $CONCURRENCY"
    measure "$WORK/$name-query.json" \
        "$BENCH_BIN/deconflict-load" --url "$urls" --threads "$THREADS" --json-out "$WORK/$name-query.json" \
        query --duration "$DURATION" --concurrency "$CONCURRENCY" 2>&1 | tee -a "$WORK/$name.txt"
    echo "   load average after $(loadavg)"
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average $(loadavg)"
echo "== PostgreSQL: $(psql_admin 'SHOW server_version') fsync=$(psql_admin 'SHOW fsync') synchronous_commit=$(psql_admin 'SHOW synchronous_commit') shared_buffers=$(psql_admin 'SHOW shared_buffers')"
echo "== servers: $BENCH_BIN/deconflict serve --dev (RUST_LOG=$SERVER_LOG); $COUNT intents, $CONCURRENCY clients, queries for $DURATION"

for store in $STORES; do
    DATA=$WORK/$store
    mkdir -p "$DATA"
    case $store in
    sqlite)
        start "$DATA" sqlite "$WORK/sqlite.log"
        run sqlite "$LAST_URL"
        ;;
    pg)
        fresh_db deconflict_bench_one
        start "$DATA" "$DB_URL" "$WORK/pg.log"
        run pg "$LAST_URL"
        ;;
    pool)
        fresh_db deconflict_bench_pool
        start "$DATA" "$DB_URL" "$WORK/pool-a.log"
        a=$LAST_URL
        # The first instance applies the migrations; the second starts on a current schema.
        "$BENCH_BIN/deconflict-load" --url "$a" wait-healthy --max-time 120s >/dev/null
        start "$DATA" "$DB_URL" "$WORK/pool-b.log"
        run pool "$a" "$LAST_URL"
        ;;
    *)
        echo "unknown store $store (sqlite, pg, pool)" >&2
        exit 2
        ;;
    esac
    stop_servers
done

echo
echo "================ summary ================"
for store in $STORES; do
    echo "--- $store"
    cat "$WORK/$store.txt"
done
