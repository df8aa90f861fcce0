#!/usr/bin/env bash
# Restore benchmark (issue #14): `obsync restore` timed against the backup of the same vault, from
# S3 (moto_server) and from a local folder, on 127.0.0.1 only. "A restore is at least as fast as
# the backup of the same vault."
#
#   bench/run_restore_bench.sh              # default size: 2000 notes, 50 attachments, 20 ms
#   bench/run_restore_bench.sh --smoke      # a small, quick run (100 notes, 5 attachments)
#   bench/run_restore_bench.sh --help
#
# What it does:
#   1. generates the sync benchmark's vault (bench/gen_vault.py, same seed and sizes) and seeds it
#      on ONE obsync-fake-server (--latency-ms L, the sync benchmark's default 20 ms); starts
#      moto_server on a free 127.0.0.1 port and creates a bucket;
#   2. backups, each a complete first sync with a fresh state (`obsync sync VAULT --dest D
#      --concurrency B`): to s3://BUCKET/vault-L and to a local folder at latency L, then, with the
#      server restarted at latency 0 on the same data, to s3://BUCKET/vault-0 and another folder
#      (the restore never talks to the Obsidian server, so the latency-0 backup is the fair
#      comparison);
#   3. stops the fake server (a restore must not need it), then restores at each --restore-concurrency
#      from the latency-L S3 prefix and from the latency-L folder into empty folders, and reruns
#      one restore over its complete folder (everything identical: the resume cost);
#   4. verifies every backup and restore against the source vault: diff -r, plus sizes and file
#      mtimes; the reruns must write nothing;
#   5. prints a table (wall s, files/s, MB/s, CPU s, peak RSS, requests) and the ratios restore
#      time / backup time per destination.
# Every timed command runs under /usr/bin/time -v and `timeout`. Everything lives in a temp folder
# that is removed on exit (--keep keeps it); the servers are always stopped. Runs inside
# `unshare -n` (only loopback) when possible, like bench/run_sync_bench.sh.
#
# Units: MB = 10^6 bytes of file content; RSS in MiB (= the KiB of time -v / 1024); CPU s = user +
# system of obsync; "Obsidian req" = lines the fake server logged, "S3 req" = requests moto logged,
# "moto CPU s" = CPU moto_server used meanwhile (moto is one Python process: its ceiling).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SCRIPT="$HERE/$(basename "${BASH_SOURCE[0]}")"

# --- Parameters (env, overridden by flags) -------------------------------------------------------
BUILD_DIR=${RESTORE_BENCH_BUILD_DIR:-$REPO/build}
NOTES=${RESTORE_BENCH_NOTES:-2000}
ATTACHMENTS=${RESTORE_BENCH_ATTACHMENTS:-50}
SEED=${RESTORE_BENCH_SEED:-4}
LATENCY_MS=${RESTORE_BENCH_LATENCY_MS:-20}
BACKUP_CONC=${RESTORE_BENCH_BACKUP_CONCURRENCY:-4}
RESTORE_CONC=${RESTORE_BENCH_RESTORE_CONCURRENCY:-"1 8 16"}
STEP_TIMEOUT=${RESTORE_BENCH_STEP_TIMEOUT:-900}
DEADLINE=${RESTORE_BENCH_DEADLINE:-3600}
NETNS=${RESTORE_BENCH_NETNS:-auto}
WAIT_LOAD=${RESTORE_BENCH_WAIT_LOAD:-}
WAIT_MAX=${RESTORE_BENCH_WAIT_MAX:-600}
KEEP=${RESTORE_BENCH_KEEP:-0}
REPORT=${RESTORE_BENCH_REPORT:-}
MOTO=${OBSYNC_MOTO_SERVER:-moto_server}

usage() {
    cat <<EOF
usage: $0 [options]          (each option also has an env variable, in brackets)
  --notes N             notes, 0.2-50 KB each                        [RESTORE_BENCH_NOTES=$NOTES]
  --attachments M       attachments, 50 KB-8 MB each                 [RESTORE_BENCH_ATTACHMENTS=$ATTACHMENTS]
  --seed S              generator seed                               [RESTORE_BENCH_SEED=$SEED]
  --latency-ms L        fake server latency of the first backups     [RESTORE_BENCH_LATENCY_MS=$LATENCY_MS]
  --backup-concurrency B  obsync sync --concurrency                  [RESTORE_BENCH_BACKUP_CONCURRENCY=$BACKUP_CONC]
  --restore-concurrency "A B"  obsync restore --concurrency values;
                        the one nearest 8 (restore's default) is
                        also used for the reruns                     [RESTORE_BENCH_RESTORE_CONCURRENCY="$RESTORE_CONC"]
  --step-timeout S      limit of every timed command                 [RESTORE_BENCH_STEP_TIMEOUT=$STEP_TIMEOUT]
  --deadline S          whole-run limit                              [RESTORE_BENCH_DEADLINE=$DEADLINE]
  --wait-load X         first wait (at most --wait-max s) for the
                        1-minute load average to drop below X        [RESTORE_BENCH_WAIT_LOAD, RESTORE_BENCH_WAIT_MAX=$WAIT_MAX]
  --netns auto|require|off  loopback-only network namespace          [RESTORE_BENCH_NETNS=$NETNS]
  --report FILE         also write the results (markdown) here       [RESTORE_BENCH_REPORT]
  --build-dir DIR       where obsync and obsync-fake-server are      [RESTORE_BENCH_BUILD_DIR]
  --keep                keep the work folder                         [RESTORE_BENCH_KEEP=1]
  --smoke               small run: 100 notes, 5 attachments, restore concurrency "1 8"
moto_server comes from PATH or OBSYNC_MOTO_SERVER; without it (or boto3) the benchmark says
SKIPPED and exits 0.
EOF
}

while (($#)); do
    case $1 in
    --notes) NOTES=$2; shift ;;
    --attachments) ATTACHMENTS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --latency-ms) LATENCY_MS=$2; shift ;;
    --backup-concurrency) BACKUP_CONC=$2; shift ;;
    --restore-concurrency) RESTORE_CONC=$2; shift ;;
    --step-timeout) STEP_TIMEOUT=$2; shift ;;
    --deadline) DEADLINE=$2; shift ;;
    --wait-load) WAIT_LOAD=$2; shift ;;
    --wait-max) WAIT_MAX=$2; shift ;;
    --netns) NETNS=$2; shift ;;
    --report) REPORT=$(readlink -f "$2"); shift ;;
    --build-dir) BUILD_DIR=$(readlink -f "$2"); shift ;;
    --keep) KEEP=1 ;;
    --smoke) NOTES=100 ATTACHMENTS=5 RESTORE_CONC="1 8" ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_restore_bench: unknown option $1 (see --help)" >&2; exit 4 ;;
    esac
    shift
done
read -r -a RCONC_LIST <<<"$RESTORE_CONC"
((${#RCONC_LIST[@]} > 0)) || { echo "run_restore_bench: --restore-concurrency is empty" >&2; exit 4; }
# The reruns' concurrency: the listed value nearest restore's default of 8.
RERUN_C=$(printf '%s\n' "${RCONC_LIST[@]}" | awk '{d=$1-8; if (d<0) d=-d; if (!n++ || d<best) {best=d; v=$1}} END{print v}')

OBSYNC="$BUILD_DIR/obsync"
FAKE_SERVER="$BUILD_DIR/obsync-fake-server"
PY=$(command -v python3) || { echo "run_restore_bench: python3 is required (scripts/deps.sh)" >&2; exit 4; }
[[ -x /usr/bin/time ]] || { echo "run_restore_bench: /usr/bin/time is required (apt install time)" >&2; exit 4; }
[[ -x "$OBSYNC" && -x "$FAKE_SERVER" ]] || { echo "run_restore_bench: build first (make build): $OBSYNC, $FAKE_SERVER" >&2; exit 4; }
# Without moto there is no S3 to restore from: skipped (exit 0), like the other benchmarks of `make bench`.
command -v "$MOTO" >/dev/null || { echo "run_restore_bench: SKIPPED: moto_server not found (pip install 'moto[server]'), or set OBSYNC_MOTO_SERVER" >&2; exit 0; }
"$PY" -c 'import boto3' 2>/dev/null || { echo "run_restore_bench: SKIPPED: python3 boto3 is missing (it creates the bucket)" >&2; exit 0; }

# Fake credentials of the fake server and of moto (never real ones).
readonly EMAIL=alice@example.com ACCOUNT_PASSWORD=hunter2 VAULT=Bench VAULT_PASSWORD='correct horse'
readonly BUCKET=obsync-restore-bench
# Nothing from the caller's environment may redirect or authenticate the clients.
unset OBSIDIAN_API_URL OBSIDIAN_EMAIL OBSIDIAN_PASSWORD OBSIDIAN_TOTP_SECRET OBSIDIAN_VAULT_PASSWORD \
    OBSYNC_CREDENTIALS OBSIDIAN_AUTH_TOKEN AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 \
    AWS_ENDPOINT_URL_DYNAMODB AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE

log() { printf '[restore-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- Load wait, then isolation: loopback-only network namespace (as run_sync_bench.sh) -----------
if [[ -z "${RESTORE_BENCH_IN_NETNS:-}" ]]; then
    if [[ -n $WAIT_LOAD ]]; then
        waited=0
        while awk -v l="$WAIT_LOAD" '{exit !($1 >= l)}' /proc/loadavg && ((waited < WAIT_MAX)); do
            ((waited % 60 == 0)) && log "load average $(cut -d' ' -f1-3 /proc/loadavg): waiting for < $WAIT_LOAD (at most ${WAIT_MAX}s)"
            sleep 10
            waited=$((waited + 10))
        done
        log "load average $(cut -d' ' -f1-3 /proc/loadavg) after ${waited}s of waiting"
    fi
    case $NETNS in
    off) log "network: NOT isolated (--netns off); everything targets 127.0.0.1 anyway" ;;
    auto | require)
        if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n ip link set lo up 2>/dev/null; then
            export RESTORE_BENCH_BUILD_DIR=$BUILD_DIR RESTORE_BENCH_NOTES=$NOTES \
                RESTORE_BENCH_ATTACHMENTS=$ATTACHMENTS RESTORE_BENCH_SEED=$SEED \
                RESTORE_BENCH_LATENCY_MS=$LATENCY_MS RESTORE_BENCH_BACKUP_CONCURRENCY=$BACKUP_CONC \
                RESTORE_BENCH_RESTORE_CONCURRENCY=$RESTORE_CONC RESTORE_BENCH_STEP_TIMEOUT=$STEP_TIMEOUT \
                RESTORE_BENCH_DEADLINE=$DEADLINE RESTORE_BENCH_KEEP=$KEEP RESTORE_BENCH_REPORT=$REPORT \
                RESTORE_BENCH_NETNS=$NETNS RESTORE_BENCH_WAIT_LOAD="" OBSYNC_MOTO_SERVER=$MOTO
            # shellcheck disable=SC2016 # expanded by the inner bash
            exec unshare -n env RESTORE_BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$SCRIPT"
        fi
        [[ $NETNS == auto ]] || die "cannot create a network namespace (unshare -n / ip)"
        log "network: unshare -n not available; running WITHOUT isolation (127.0.0.1 only anyway)"
        ;;
    *) die "--netns must be auto, require or off" ;;
    esac
else
    log "network: isolated namespace (only loopback)"
fi

# --- Work folder, servers, watchdog, cleanup ----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/obsync-restore-bench.XXXXXX")
SERVER_PID=""
MOTO_PID=""
WATCHDOG_PID=""
stop_pid() { # stop_pid PID: TERM, up to 5 s, then KILL
    local pid=$1 i
    [[ -n "$pid" ]] || return 0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_server() { stop_pid "$SERVER_PID"; SERVER_PID=""; }
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    stop_pid "$MOTO_PID"
    if [[ -n "$WATCHDOG_PID" ]]; then
        kill "$WATCHDOG_PID" 2>/dev/null || true
        wait "$WATCHDOG_PID" 2>/dev/null || true
    fi
    if ((KEEP)) || [[ -n "${RESTORE_BENCH_KEEP_ON_FAIL:-}" && $rc -ne 0 ]]; then
        log "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (deadline of ${DEADLINE}s reached?)"; exit 143' TERM
# shellcheck disable=SC2016
bash -c 'sleep "$1" & s=$!; trap "kill $s 2>/dev/null; exit 0" TERM; wait $s && kill -TERM "$2"' _ "$DEADLINE" "$$" &
WATCHDOG_PID=$!

log "work folder $WORK"
log "machine: $(nproc) vCPU, $(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "parameters: notes=$NOTES attachments=$ATTACHMENTS seed=$SEED latency=${LATENCY_MS}ms backup concurrency=$BACKUP_CONC restore concurrency=($RESTORE_CONC) rerun=$RERUN_C"

start_server() { # start_server LATENCY_MS
    local data=$WORK/server-data
    mkdir -p "$data"
    : >"$WORK/server.out"
    # --verbose: one line per request, so each case can report how many requests it made.
    "$FAKE_SERVER" serve --data "$data" --user "$EMAIL:$ACCOUNT_PASSWORD" --latency-ms "$1" --verbose \
        >"$WORK/server.out" 2>>"$WORK/server.err" &
    SERVER_PID=$!
    local i line=""
    for ((i = 0; i < 300; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; SERVER_PID=""; die "fake server exited at startup"; }
        line=$(grep -m1 '"api"' "$WORK/server.out" 2>/dev/null || true)
        [[ -n "$line" ]] && break
        sleep 0.1
    done
    [[ -n "$line" ]] || die "fake server printed no \"api\" line within 30 s"
    API=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["api"])' "$line")
    [[ $API == http://127.0.0.1:* ]] || die "server api is not loopback: $API"
    log "fake server pid $SERVER_PID at $API (latency $1 ms)"
}
server_lines() { wc -l <"$WORK/server.err"; }

start_moto() {
    "$MOTO" -H 127.0.0.1 -p 0 >"$WORK/moto.out" 2>"$WORK/moto.err" &
    MOTO_PID=$!
    local i port=""
    for ((i = 0; i < 300; i++)); do
        kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/moto.err" >&2; MOTO_PID=""; die "moto_server exited at startup"; }
        port=$(grep -ohE 'http://127\.0\.0\.1:[0-9]+' "$WORK/moto.err" "$WORK/moto.out" 2>/dev/null | head -1 | sed 's/.*://' || true)
        [[ -n $port ]] && break
        sleep 0.1
    done
    [[ -n $port ]] || die "moto_server printed no address within 30 s"
    export AWS_ACCESS_KEY_ID=AKIAOBSYNCBENCH00000 AWS_SECRET_ACCESS_KEY=bench-secret-not-real
    export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    "$PY" -c 'import boto3, sys
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])' "$AWS_ENDPOINT_URL" "$BUCKET" ||
        die "could not create the bucket in moto"
    log "moto_server $("$PY" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo "?") pid $MOTO_PID at $AWS_ENDPOINT_URL, bucket $BUCKET"
}
# CPU seconds moto_server has used so far (utime + stime of its process).
moto_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$MOTO_PID/stat" 2>/dev/null || echo 0; }
# Requests moto served (werkzeug logs one line per request on stderr).
moto_lines() { grep -cE '"(GET|PUT|POST|HEAD|DELETE) [^"]*" [0-9]{3} ' "$WORK/moto.err" || true; }

seed() { # seed VAULT_NAME SRC_DIR
    local t0=$SECONDS
    "$FAKE_SERVER" seed --data "$WORK/server-data" --owner "$EMAIL" --vault "$1" --password "$VAULT_PASSWORD" \
        --encryption-version 3 "$2" >"$WORK/seed-$1.out" 2>&1 || { cat "$WORK/seed-$1.out" >&2; die "seed $1 failed"; }
    log "seeded vault $1 from $2 in $((SECONDS - t0)) s"
}

# --- Measuring ----------------------------------------------------------------------------------
# timed NAME CMD...: runs CMD under /usr/bin/time -v and `timeout`; sets T_RC, T_WALL (s), T_CPU
# (user + system s), T_RSS (KiB), T_REQ (fake server requests), T_S3 (moto requests) and T_MOTO
# (moto's CPU s) meanwhile.
# stdout/stderr go to $WORK/NAME.out / .err.
timed() {
    local name=$1
    shift
    local before s3_before moto_before rc=0
    before=$(server_lines)
    s3_before=$(moto_lines)
    moto_before=$(moto_cpu)
    /usr/bin/time -v -o "$WORK/$name.time" timeout -k 10 "$STEP_TIMEOUT" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    T_RC=$rc
    T_REQ=$(($(server_lines) - before))
    T_S3=$(($(moto_lines) - s3_before))
    T_MOTO=$(awk -v a="$(moto_cpu)" -v b="$moto_before" 'BEGIN{printf "%.2f", a-b}')
    T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f\n", s}' "$WORK/$name.time")
    T_CPU=$(awk -F': ' '/(User|System) time \(seconds\)/{s+=$2} END{printf "%.2f\n", s}' "$WORK/$name.time")
    T_RSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/$name.time")
    if ((rc == 124 || rc == 137)); then
        log "$name: TIMED OUT after ${STEP_TIMEOUT}s"
    elif ((rc != 0)); then
        log "$name: exit $rc; last lines of stderr:"
        tail -n 15 "$WORK/$name.err" | sed 's/^/    /' >&2
    fi
    log "$name: wall ${T_WALL}s, CPU ${T_CPU}s, peak RSS $((T_RSS / 1024)) MiB, exit $rc, ${T_REQ} Obsidian / ${T_S3} S3 requests"
}

# jfield NAME PATH...: a field of NAME's --json output ("vaults.0.created"), "?" when absent.
jfield() {
    "$PY" -c 'import json,sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    print(len(v) if isinstance(v, list) else v)
except Exception: print("?")' "$WORK/$1.out" "$2"
}

# verify EXPECTED ACTUAL: sets V ("ok", "DIFF content", "DIFF mtimes"); logs details. obsync's own
# .obsync folder (a backup's marker) is not part of the vault.
VERIFY_FAILED=0
verify() {
    local expected=$1 actual=$2
    if ! diff -r -x .obsync "$expected" "$actual" >"$WORK/diff.out" 2>&1; then
        V="DIFF content"
        VERIFY_FAILED=1
        log "verify $actual: CONTENT DIFFERS from $expected:"
        head -n 20 "$WORK/diff.out" | sed 's/^/    /' >&2
        return 0
    fi
    listing() { (cd "$1" && find . -path ./.obsync -prune -o -type f -printf '%s %Ts %P\n' | LC_ALL=C sort -k3); }
    if ! diff <(listing "$expected") <(listing "$actual") >"$WORK/listing.diff"; then
        V="DIFF mtimes"
        VERIFY_FAILED=1
        log "verify $actual: same bytes but sizes/mtimes differ:"
        head -n 10 "$WORK/listing.diff" | sed 's/^/    /' >&2
        return 0
    fi
    V="ok"
    log "verify $actual: identical to the source ($SRC_FILES files, mtimes kept)"
}

# --- Results ------------------------------------------------------------------------------------
ROWS=()
declare -A WALL=()
# row KEY CASE FILES BYTES VERIFIED NOTE (the rest from the last timed)
row() {
    local key=$1 files=$3 bytes=$4 wall=$T_WALL fps mbps
    WALL[$key]=$wall
    fps=$(awk -v f="$files" -v w="$wall" 'BEGIN{ if (f>0 && w>0) printf "%.0f", f/w; else print "-" }')
    mbps=$(awk -v b="$bytes" -v w="$wall" 'BEGIN{ if (b>0 && w>0) printf "%.1f", b/1e6/w; else print "-" }')
    ROWS+=("$2|$files|$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}')|$wall|$fps|$mbps|$T_CPU|$(awk -v k="$T_RSS" 'BEGIN{printf "%.1f", k/1024}')|$T_REQ|$T_S3|$T_MOTO|$5|$6")
}
print_table() {
    local r
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' case files MB "wall s" files/s MB/s \
        "CPU s" "peak RSS MiB" "Obsidian req" "S3 req" "moto CPU s" verified notes
    printf '|%s\n' '---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|'
    for r in "${ROWS[@]}"; do
        IFS='|' read -r c f m w fps mbps cpu rss req s3 moto v note <<<"$r"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$f" "$m" "$w" "$fps" "$mbps" "$cpu" "$rss" "$req" "$s3" "$moto" "$v" "$note"
    done
}
ratio() { awk -v a="${WALL[$1]}" -v b="${WALL[$2]}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "?" }'; }

# --- The run ------------------------------------------------------------------------------------
start_moto
start_server "$LATENCY_MS"

log "generating the vault (seed $SEED)"
"$PY" "$HERE/gen_vault.py" vault "$WORK/src" "$NOTES" "$ATTACHMENTS" "$SEED"
SRC_FILES=$(find "$WORK/src" -type f | wc -l)
SRC_BYTES=$(find "$WORK/src" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}')
log "source: $SRC_FILES files, $SRC_BYTES bytes, $(find "$WORK/src" -mindepth 1 -type d | wc -l) folders"
seed "$VAULT" "$WORK/src"

export XDG_CONFIG_HOME=$WORK/obsync-config
mkdir -p "$XDG_CONFIG_HOME"
timed login "$OBSYNC" --api-url "$API" login --email "$EMAIL" --password "$ACCOUNT_PASSWORD"
((T_RC == 0)) || die "obsync login failed"

# backup KEY DEST LATENCY: a complete first sync with a fresh state ($WORK/state-KEY).
backup() {
    local key=$1 dest=$2 lat=$3 where
    mkdir -p "$WORK/state-$key"
    XDG_STATE_HOME=$WORK/state-$key timed "$key" \
        "$OBSYNC" --api-url "$API" sync "$VAULT" --dest "$dest" --password "$VAULT_PASSWORD" \
        --concurrency "$BACKUP_CONC" --json
    V="FAILED (exit $T_RC)"
    if ((T_RC == 0)); then
        if [[ $dest == s3://* ]]; then
            V="ok (exit 0; checked by its restore)"
        else
            verify "$WORK/src" "$dest"
        fi
    fi
    [[ $V == ok* ]] || VERIFY_FAILED=1
    [[ $dest == s3://* ]] && where="S3" || where="local folder"
    row "$key" "backup to $where, latency $lat ms, concurrency $BACKUP_CONC" "$(jfield "$key" vaults.0.created)" \
        "$(jfield "$key" vaults.0.bytes)" "$V" "duration_ms $(jfield "$key" vaults.0.duration_ms)"
}

backup backup-s3-L "s3://$BUCKET/vault-L" "$LATENCY_MS"
backup backup-local-L "$WORK/backup-L" "$LATENCY_MS"
if ((LATENCY_MS != 0)); then
    stop_server
    start_server 0
    # The new server has a new port, and obsync keeps its sign-in per API address.
    timed login-0 "$OBSYNC" --api-url "$API" login --email "$EMAIL" --password "$ACCOUNT_PASSWORD"
    ((T_RC == 0)) || die "obsync login (latency 0 server) failed"
    backup backup-s3-0 "s3://$BUCKET/vault-0" 0
    backup backup-local-0 "$WORK/backup-0" 0
else
    WALL[backup-s3-0]=${WALL[backup-s3-L]} WALL[backup-local-0]=${WALL[backup-local-L]}
fi

# The restores never talk to the Obsidian server: stop it, so that one that tried would fail.
stop_server
log "fake server stopped; restoring"

# restore KEY FROM TO CONCURRENCY STATE LABEL [rerun]
restore() {
    local key=$1 from=$2 to=$3 c=$4 state=$5 label=$6 rerun=${7:-} files bytes written identical failures unverified
    XDG_STATE_HOME=$state timed "$key" "$OBSYNC" restore --from "$from" --to "$to" --concurrency "$c" --json
    written=$(jfield "$key" written) identical=$(jfield "$key" identical)
    failures=$(jfield "$key" failures) unverified=$(jfield "$key" unverified)
    V="FAILED (exit $T_RC)"
    if ((T_RC == 0)); then
        verify "$WORK/src" "$to"
        if [[ -n $rerun && $V == ok && ($written != 0 || $identical != "$SRC_FILES") ]]; then
            V="RERUN WROTE $written, identical $identical"
        elif [[ -z $rerun && $V == ok && $written != "$SRC_FILES" ]]; then
            V="WROTE $written of $SRC_FILES"
        fi
        [[ $failures == 0 && $unverified == 0 ]] || V="$V; failures $failures, unverified $unverified"
    fi
    [[ $V == ok ]] || VERIFY_FAILED=1
    if [[ -n $rerun ]]; then
        files=$identical bytes=$SRC_BYTES
    else
        files=$written bytes=$(jfield "$key" bytes)
    fi
    row "$key" "$label" "$files" "$bytes" "$V" \
        "duration_ms $(jfield "$key" duration_ms); written $written, identical $identical"
}

for c in "${RCONC_LIST[@]}"; do
    restore "restore-s3-c$c" "s3://$BUCKET/vault-L" "$WORK/restored-s3-c$c" "$c" "$WORK/state-restore" \
        "restore from S3 into an empty folder, concurrency $c"
done
restore rerun-s3 "s3://$BUCKET/vault-L" "$WORK/restored-s3-c$RERUN_C" "$RERUN_C" "$WORK/state-restore" \
    "restore from S3 rerun over the complete folder, concurrency $RERUN_C" rerun
for c in "${RCONC_LIST[@]}"; do
    restore "restore-local-c$c" "$WORK/backup-L" "$WORK/restored-local-c$c" "$c" "$WORK/state-backup-local-L" \
        "restore from the local folder into an empty folder, concurrency $c"
done
restore rerun-local "$WORK/backup-L" "$WORK/restored-local-c$RERUN_C" "$RERUN_C" "$WORK/state-backup-local-L" \
    "restore from the local folder rerun over the complete folder, concurrency $RERUN_C" rerun

# --- Report -------------------------------------------------------------------------------------
{
    echo
    echo "Restore benchmark: $SRC_FILES files ($NOTES notes, $ATTACHMENTS attachments), $(awk -v b="$SRC_BYTES" 'BEGIN{printf "%.1f", b/1e6}') MB, seed $SEED; backups at fake-server latency ${LATENCY_MS} ms and 0 ms, concurrency $BACKUP_CONC; $(nproc) vCPU; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    print_table
    echo
    echo "Ratio restore wall time / backup wall time (below 1: the restore is faster):"
    echo
    echo "| restore | vs backup at ${LATENCY_MS} ms | vs backup at 0 ms |"
    echo "|---|---:|---:|"
    for c in "${RCONC_LIST[@]}"; do
        echo "| from S3, concurrency $c | $(ratio "restore-s3-c$c" backup-s3-L) | $(ratio "restore-s3-c$c" backup-s3-0) |"
    done
    echo "| from S3, rerun (complete folder) | $(ratio rerun-s3 backup-s3-L) | $(ratio rerun-s3 backup-s3-0) |"
    for c in "${RCONC_LIST[@]}"; do
        echo "| from the local folder, concurrency $c | $(ratio "restore-local-c$c" backup-local-L) | $(ratio "restore-local-c$c" backup-local-0) |"
    done
    echo "| from the local folder, rerun (complete folder) | $(ratio rerun-local backup-local-L) | $(ratio rerun-local backup-local-0) |"
    echo
    ((VERIFY_FAILED == 0)) && echo "every backup and restore verified identical to the source (diff -r, sizes, mtimes); the reruns wrote nothing" ||
        echo "SOME BACKUPS OR RESTORES FAILED OR DIFFER (see the log above)"
} | tee "$WORK/report.txt"
[[ -z "$REPORT" ]] || cp "$WORK/report.txt" "$REPORT"
((VERIFY_FAILED == 0))
