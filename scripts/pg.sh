#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster:
#
#   scripts/pg.sh cargo test --workspace
#
# Installs PostgreSQL from Debian's packages when initdb/pg_ctl are missing, creates a cluster
# in a fresh temporary folder, starts it on a free 127.0.0.1 port (password authentication, no
# other address), exports DECONFLICT_TEST_POSTGRES=postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres
# for the command, then stops the cluster and removes the folder, however the command ends.
# The cluster trades durability for speed (fsync off): it is for tests only. With
# DECONFLICT_PG_DURABLE=1 it keeps PostgreSQL's durable defaults (fsync, synchronous_commit and
# full_page_writes on), as the pool benchmark (crates/deconflict-bench/run-pool.sh) needs.
#
# For tests that take the server away and bring it back, it also exports
# DECONFLICT_TEST_PGCTL, a script that runs `pg_ctl stop` (fast mode) or `pg_ctl start` on this
# cluster with its own options and owner (`"$DECONFLICT_TEST_PGCTL" stop`, then `... start`),
# and DECONFLICT_TEST_PGDATA, the cluster's data folder.
#
# When DECONFLICT_TEST_POSTGRES is already set, the command runs against that server instead
# (and DECONFLICT_TEST_PGCTL is left as it is: tests that need it then say they did not run).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

if [ -n "${DECONFLICT_TEST_POSTGRES:-}" ]; then
    echo "pg.sh: using the PostgreSQL server in DECONFLICT_TEST_POSTGRES" >&2
    exec "$@"
fi

log() { echo "pg.sh: $*" >&2; }

find_bin() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
        return 0
    fi
    return 1
}

if ! BIN=$(find_bin); then
    log "PostgreSQL is not installed; installing it from Debian's packages"
    if [ "$(id -u)" -ne 0 ]; then
        log "installing needs root: run 'apt-get install postgresql' as root, or set DECONFLICT_TEST_POSTGRES"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends postgresql >&2
    BIN=$(find_bin) || { log "PostgreSQL was installed but initdb was not found"; exit 1; }
fi

# initdb refuses to run as root: run the cluster as the 'postgres' user then.
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    as_owner() { runuser -u postgres -- "$@"; }
    OWNER="runuser -u postgres --"
    DIR=$(mktemp -d /tmp/deconflict-pg.XXXXXX)
    chown postgres "$DIR"
else
    as_owner() { "$@"; }
    OWNER=""
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/deconflict-pg.XXXXXX")
fi
chmod 700 "$DIR"

cleanup() {
    local status=$?
    if [ -f "$DIR/data/postmaster.pid" ]; then
        (cd "$DIR" && as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1) || true
    fi
    rm -rf "$DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$PASSWORD" >"$DIR/pwfile")
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR/pwfile"

(cd "$DIR" && as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/pwfile" \
    --auth=scram-sha-256 -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1) || {
    log "initdb failed:"
    cat "$DIR/initdb.log" >&2
    exit 1
}
rm -f "$DIR/pwfile"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for _ in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 40000))
    port_free "$PORT" || continue
    OPTS="-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=300"
    if [ "${DECONFLICT_PG_DURABLE:-0}" != 1 ]; then
        OPTS="$OPTS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    if (cd "$DIR" && as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "$OPTS" start >/dev/null); then
        started=1
        break
    fi
    log "could not start on port $PORT; trying another"
done
if [ -z "$started" ]; then
    log "could not start PostgreSQL; its log:"
    cat "$DIR/server.log" >&2 || true
    exit 1
fi

cat >"$DIR/pgctl" <<EOF
#!/usr/bin/env bash
# Stops (fast: open connections are closed) or starts the throw-away cluster of scripts/pg.sh.
set -euo pipefail
cd "$DIR"
case "\${1:-}" in
    stop) exec $OWNER "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop ;;
    start) exec $OWNER "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 -o "$OPTS" start ;;
    *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
EOF
chmod 755 "$DIR/pgctl"

export DECONFLICT_TEST_POSTGRES="postgres://postgres:$PASSWORD@127.0.0.1:$PORT/postgres"
export DECONFLICT_TEST_PGCTL="$DIR/pgctl"
export DECONFLICT_TEST_PGDATA="$DIR/data"
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (cluster in $DIR, removed on exit)"
"$@"
