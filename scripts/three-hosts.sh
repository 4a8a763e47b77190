#!/usr/bin/env bash
# Three "hosts" on this machine sharing one brain on a throwaway PostgreSQL database.
#
# Each host is a `brainsync worker` process with its own host name, executor id, state
# folder (--home) and folder (--dir); a fourth folder is "shared" (any host may run its
# jobs). The script seeds the brain, queues an export for every folder, and shows
# `brainsync jobs` and `brainsync hosts` every few seconds. Kill a host (the pids are
# printed) and watch its jobs wait for it, or take a shared job over:
#     kill -9 <pid>; brainsync job takeover <job id>   (the commands are printed too)
#
# Usage: scripts/three-hosts.sh [seconds to watch; default: until Ctrl-C]
# Environment:
#   PG_SERVER  a PostgreSQL server to create the throwaway databases on
#              (default postgresql://postgres@127.0.0.1:5432)
#   NOTES      notes to seed (default 3000)
#   WORK       where hosts keep their folders and state (default: a new temp folder)
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
PG_SERVER=${PG_SERVER:-postgresql://postgres@127.0.0.1:5432}
NOTES=${NOTES:-3000}
WATCH=${1:-0}
WORK=${WORK:-$(mktemp -d -t brainsync-three-hosts.XXXXXX)}
NAME=brainsync_demo_$$
HOSTS=(laptop desktop server)
PIDS=()

psql_admin() { psql "$PG_SERVER/postgres" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql_admin "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" || true
    echo "stopped the hosts and dropped database $NAME; files are in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_admin "CREATE DATABASE $NAME"
export BRAINSYNC_DB="$PG_SERVER/$NAME"
export BRAINSYNC_JOBS_DB="$PG_SERVER/$NAME"  # one database: DBOS keeps to its own schema
export BRAINSYNC_CHUNK_SIZE=100
export BRAINSYNC_CHUNK_PAUSE_SECONDS=${PAUSE:-0.2}  # slow enough to watch and to kill

# as host $1: brainsync with that host's identity, state folder and folder (exec: when
# run in the background, $! is then the worker itself, which `kill` reaches)
as_host() {
    local host=$1
    shift
    BRAINSYNC_HOST=$host BRAINSYNC_EXECUTOR_ID=$host-worker \
        exec "$PY" -m brainsync --home "$WORK/$host/state" --dir "$WORK/$host/notes" "$@"
}

echo "seeding $NOTES notes into $BRAINSYNC_DB (password-free demo URL)"
"$PY" - "$NOTES" <<'PY'
import os, sys
from pathlib import Path
from brainsync.app import Brain
from brainsync.config import load_settings
settings = load_settings({"directory": Path(os.environ.get("WORK", ".")) / "seed"}, os.environ)
with Brain(settings) as brain:
    for n in range(int(sys.argv[1])):
        brain.put_entity("note", f"note-{n:05}", metadata={"title": f"Note {n}"}, content="x")
PY

for host in "${HOSTS[@]}"; do
    mkdir -p "$WORK/$host/notes"
    (as_host "$host" worker) >"$WORK/$host.worker.log" 2>&1 &
    PIDS+=($!)
    echo "host $host: worker pid $!, folder $WORK/$host/notes, log $WORK/$host.worker.log"
done

for host in "${HOSTS[@]}"; do
    echo "export on $host: job $(as_host "$host" export --no-wait 2>/dev/null)"
done
mkdir -p "$WORK/shared/team"
SHARED=$(BRAINSYNC_SHARED_FOLDER=1 BRAINSYNC_HOST=laptop "$PY" -m brainsync \
    --home "$WORK/laptop/state" --dir "$WORK/shared/team" export --no-wait 2>/dev/null)
echo "export of the shared folder: job $SHARED (any host may run it)"
cat <<TXT

Try: kill -9 ${PIDS[0]}     (power loss of host laptop: its jobs wait for it)
     then, 10 s later:  BRAINSYNC_DB=$BRAINSYNC_DB BRAINSYNC_JOBS_DB=$BRAINSYNC_JOBS_DB \\
         $PY -m brainsync job takeover $SHARED   (refused while laptop is alive)
TXT

started=$SECONDS
while [[ $WATCH -eq 0 || $((SECONDS - started)) -lt $WATCH ]]; do
    sleep 3
    echo "---- $(date +%T)"
    (as_host desktop jobs --limit 8) || true
    (as_host desktop hosts) || true
done
