#!/usr/bin/env bash
# Point-in-time recovery drill: WAL archiving with pgBackRest on a private PostgreSQL 15 cluster.
#
# Creates a cluster with initdb in a temporary directory (loopback port, its own socket directory), turns on
# WAL archiving to a pgBackRest repository beside it, takes a full base backup, writes a first batch of rows,
# notes the time, writes a second batch, then restores the base backup with recovery_target_time set to the
# noted time and checks that exactly the first batch is there. Everything is removed afterwards.
#
#   scripts/pitr_drill.sh            # prints each step; exit 0 when the recovered rows are exactly right
#
# Needs the PostgreSQL 15 server binaries (initdb, pg_ctl, postgres), psql and pgbackrest (Debian packages
# postgresql-15 and pgbackrest). PostgreSQL refuses to run as root: run as root, the cluster belongs to the
# "postgres" user (DRILL_USER) and its commands run through runuser.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
FIRST_ROWS=${FIRST_ROWS:-250}
SECOND_ROWS=${SECOND_ROWS:-175}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
STANZA=drill

for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/psql"; do
  [ -x "$tool" ] || { echo "pitr drill: $tool not found (set PG_BIN to PostgreSQL 15's bin directory)" >&2; exit 2; }
done
command -v pgbackrest >/dev/null || { echo "pitr drill: pgbackrest is not installed (apt-get install pgbackrest)" >&2; exit 2; }
"$PG_BIN/postgres" --version | grep -q ' 15\.' || { echo "pitr drill: $PG_BIN is not PostgreSQL 15" >&2; exit 2; }

as_owner=()
if [ "$(id -u)" = 0 ]; then
  DRILL_USER=${DRILL_USER:-postgres}
  as_owner=(runuser -u "$DRILL_USER" --)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pitr-drill.XXXXXX")
chmod 700 "$WORK"
[ ${#as_owner[@]} -eq 0 ] || chown "$DRILL_USER" "$WORK"
DATA=$WORK/data
CONF=$WORK/pgbackrest.conf

run() { timeout "$STEP_TIMEOUT" "${as_owner[@]}" "$@"; }
step() { printf '%s pitr drill: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

cleanup() {
  if [ -f "$DATA/postmaster.pid" ]; then
    run "$PG_BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# A drill stopped from outside (its test's deadline, Ctrl-C) still stops its cluster and removes its files.
trap 'exit 143' TERM INT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
sql() { run "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d postgres -c "$1"; }

step "initdb in $WORK (port $PORT)"
run "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync --no-instructions >/dev/null
run mkdir -p "$WORK/repo" "$WORK/log" "$WORK/spool"
cat > "$CONF" <<CONF
[global]
repo1-path=$WORK/repo
repo1-retention-full=2
log-path=$WORK/log
lock-path=$WORK/spool
spool-path=$WORK/spool
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4

[$STANZA]
pg1-path=$DATA
pg1-port=$PORT
pg1-socket-path=$WORK
pg1-user=postgres
CONF
[ ${#as_owner[@]} -eq 0 ] || chown "$DRILL_USER" "$CONF"
cat >> "$DATA/postgresql.conf" <<PGCONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$CONF --stanza=$STANZA archive-push %p'
max_wal_senders = 3
shared_buffers = 32MB
PGCONF

step "start the cluster with WAL archiving to pgBackRest"
run "$PG_BIN/pg_ctl" -D "$DATA" -l "$WORK/log/postgres.log" -w -t "$STEP_TIMEOUT" start >/dev/null
run pgbackrest --config="$CONF" --stanza="$STANZA" stanza-create
run pgbackrest --config="$CONF" --stanza="$STANZA" check

step "full base backup"
run pgbackrest --config="$CONF" --stanza="$STANZA" --type=full backup
BACKUP_SET=$(run pgbackrest --config="$CONF" --stanza="$STANZA" --output=json info \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')

step "write $FIRST_ROWS rows, note the time, write $SECOND_ROWS more"
sql "CREATE TABLE drill (id integer PRIMARY KEY, batch integer NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
sql "INSERT INTO drill (id, batch) SELECT n, 1 FROM generate_series(1, $FIRST_ROWS) AS n"
TARGET=$(sql "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sql "INSERT INTO drill (id, batch) SELECT n, 2 FROM generate_series($FIRST_ROWS + 1, $FIRST_ROWS + $SECOND_ROWS) AS n"
[ "$(sql 'SELECT count(*) FROM drill')" = "$((FIRST_ROWS + SECOND_ROWS))" ]
# Close the WAL segment holding the second batch and wait until pgBackRest has archived it.
run pgbackrest --config="$CONF" --stanza="$STANZA" check
step "recovery target: $TARGET (base backup $BACKUP_SET)"

step "stop, wipe the data directory, restore to the target time"
run "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t "$STEP_TIMEOUT" stop >/dev/null
run find "$DATA" -mindepth 1 -delete
# The backup set is named: pgBackRest picks one by whole-second stop times, and the target may fall within
# the second the backup stopped in.
run pgbackrest --config="$CONF" --stanza="$STANZA" --set="$BACKUP_SET" --type=time "--target=$TARGET" \
  --target-action=promote restore
run "$PG_BIN/pg_ctl" -D "$DATA" -l "$WORK/log/postgres.log" -w -t "$STEP_TIMEOUT" start >/dev/null
deadline=$((SECONDS + STEP_TIMEOUT))
until [ "$(sql 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "f" ]; do
  if [ $SECONDS -ge $deadline ]; then echo "pitr drill: recovery did not finish in ${STEP_TIMEOUT}s" >&2; exit 1; fi
  sleep 0.2
done

FOUND=$(sql "SELECT count(*) || ' ' || coalesce(min(id), 0) || ' ' || coalesce(max(id), 0) || ' ' || count(*) FILTER (WHERE batch = 2) FROM drill")
EXPECTED="$FIRST_ROWS 1 $FIRST_ROWS 0"
if [ "$FOUND" != "$EXPECTED" ]; then
  echo "pitr drill: FAILED: found rows (count min max second-batch) $FOUND, expected $EXPECTED" >&2
  exit 1
fi
step "ok: recovered to $TARGET with exactly the first $FIRST_ROWS rows and none of the $SECOND_ROWS after"
