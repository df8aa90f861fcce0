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

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
BENCH_TAG=restore-bench BENCH_VAR=RESTORE_BENCH
check_tools
require_moto

# Fake credentials of the fake server and of moto (never real ones).
readonly EMAIL=alice@example.com ACCOUNT_PASSWORD=hunter2 VAULT=Bench VAULT_PASSWORD='correct horse'
readonly BUCKET=obsync-restore-bench
# Nothing from the caller's environment may redirect or authenticate the clients.
unset_client_env

# --- Load wait, then isolation: loopback-only network namespace (as run_sync_bench.sh) -----------
if [[ -z "${RESTORE_BENCH_IN_NETNS:-}" ]]; then
    [[ -z $WAIT_LOAD ]] || wait_for_load "$WAIT_LOAD" "$WAIT_MAX"
    enter_netns "$NETNS" RESTORE_BENCH_IN_NETNS env RESTORE_BENCH_BUILD_DIR="$BUILD_DIR" RESTORE_BENCH_NOTES="$NOTES" \
        RESTORE_BENCH_ATTACHMENTS="$ATTACHMENTS" RESTORE_BENCH_SEED="$SEED" \
        RESTORE_BENCH_LATENCY_MS="$LATENCY_MS" RESTORE_BENCH_BACKUP_CONCURRENCY="$BACKUP_CONC" \
        RESTORE_BENCH_RESTORE_CONCURRENCY="$RESTORE_CONC" RESTORE_BENCH_STEP_TIMEOUT="$STEP_TIMEOUT" \
        RESTORE_BENCH_DEADLINE="$DEADLINE" RESTORE_BENCH_KEEP="$KEEP" RESTORE_BENCH_REPORT="$REPORT" \
        RESTORE_BENCH_NETNS="$NETNS" RESTORE_BENCH_WAIT_LOAD="" OBSYNC_MOTO_SERVER="$MOTO" bash "$SCRIPT" ||
        case $? in
        2) die "cannot create a network namespace (unshare -n / ip)" ;;
        *) die "--netns must be auto, require or off" ;;
        esac
else
    log "network: isolated namespace (only loopback)"
fi

# --- Work folder, servers, watchdog, cleanup (bench/lib.sh) -------------------------------------
start_work
log "machine: $(nproc) vCPU, $(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "parameters: notes=$NOTES attachments=$ATTACHMENTS seed=$SEED latency=${LATENCY_MS}ms backup concurrency=$BACKUP_CONC restore concurrency=($RESTORE_CONC) rerun=$RERUN_C"

# --- Measuring ----------------------------------------------------------------------------------
# timed NAME CMD...: runs CMD under /usr/bin/time -v and `timeout`; sets T_RC, T_WALL (s), T_CPU
# (user + system s), T_RSS (KiB), T_REQ (fake server requests), T_S3 (moto requests) and T_MOTO
# (moto's CPU s) meanwhile.
# stdout/stderr go to $WORK/NAME.out / .err.
timed() {
    local name=$1
    shift
    local before s3_before moto_before
    before=$(server_lines)
    s3_before=$(moto_lines)
    moto_before=$(moto_cpu)
    run_timed "$name" "$STEP_TIMEOUT" "$@"
    T_REQ=$(($(server_lines) - before))
    T_S3=$(($(moto_lines) - s3_before))
    T_MOTO=$(awk -v a="$(moto_cpu)" -v b="$moto_before" 'BEGIN{printf "%.2f", a-b}')
    time_results "$name" "$STEP_TIMEOUT"
    log "$name: wall ${T_WALL}s, CPU ${T_CPU}s, peak RSS $((T_RSS / 1024)) MiB, exit $T_RC, ${T_REQ} Obsidian / ${T_S3} S3 requests"
}

# verify EXPECTED ACTUAL (bench/lib.sh): obsync's own .obsync folder (a backup's marker) is not part
# of the vault.
verify_restore() { verify "$1" "$2" -x .obsync; }

# --- Results ------------------------------------------------------------------------------------
declare -A WALL=()
# row KEY CASE FILES BYTES VERIFIED NOTE (the rest from the last timed)
row() {
    local key=$1 files=$3 bytes=$4 wall=$T_WALL
    WALL[$key]=$wall
    ROWS+=("$2|$files|$(mb "$bytes")|$wall|$(per_s "$files" "$wall" %.0f)|$(per_s "$bytes" "$wall" %.1f 1e6)|$T_CPU|$(mib "$T_RSS")|$T_REQ|$T_S3|$T_MOTO|$5|$6")
}
ratio() { awk -v a="${WALL[$1]}" -v b="${WALL[$2]}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "?" }'; }
# ratio_rows KIND WHAT: the ratio table's rows of restore_from KIND.
ratio_rows() {
    local c
    for c in "${RCONC_LIST[@]}"; do
        echo "| from $2, concurrency $c | $(ratio "restore-$1-c$c" "backup-$1-L") | $(ratio "restore-$1-c$c" "backup-$1-0") |"
    done
    echo "| from $2, rerun (complete folder) | $(ratio "rerun-$1" "backup-$1-L") | $(ratio "rerun-$1" "backup-$1-0") |"
}

# --- The run ------------------------------------------------------------------------------------
start_moto "$BUCKET"
start_server "$LATENCY_MS"

seed_bench_vault

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
            verify_restore "$WORK/src" "$dest"
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
        verify_restore "$WORK/src" "$to"
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

# restore_from KIND FROM STATE WHAT: a restore into an empty folder at each --restore-concurrency,
# then the rerun over the complete folder.
restore_from() {
    local kind=$1 from=$2 state=$3 what=$4 c
    for c in "${RCONC_LIST[@]}"; do
        restore "restore-$kind-c$c" "$from" "$WORK/restored-$kind-c$c" "$c" "$state" \
            "restore from $what into an empty folder, concurrency $c"
    done
    restore "rerun-$kind" "$from" "$WORK/restored-$kind-c$RERUN_C" "$RERUN_C" "$state" \
        "restore from $what rerun over the complete folder, concurrency $RERUN_C" rerun
}
restore_from s3 "s3://$BUCKET/vault-L" "$WORK/state-restore" S3
restore_from local "$WORK/backup-L" "$WORK/state-backup-local-L" "the local folder"

# --- Report -------------------------------------------------------------------------------------
{
    echo
    echo "Restore benchmark: $SRC_FILES files ($NOTES notes, $ATTACHMENTS attachments), $(awk -v b="$SRC_BYTES" 'BEGIN{printf "%.1f", b/1e6}') MB, seed $SEED; backups at fake-server latency ${LATENCY_MS} ms and 0 ms, concurrency $BACKUP_CONC; $(nproc) vCPU; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    print_table "case|files|MB|wall s|files/s|MB/s|CPU s|peak RSS MiB|Obsidian req|S3 req|moto CPU s|verified|notes" \
        '---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|'
    echo
    echo "Ratio restore wall time / backup wall time (below 1: the restore is faster):"
    echo
    echo "| restore | vs backup at ${LATENCY_MS} ms | vs backup at 0 ms |"
    echo "|---|---:|---:|"
    ratio_rows s3 S3
    ratio_rows local "the local folder"
    echo
    ((VERIFY_FAILED == 0)) && echo "every backup and restore verified identical to the source (diff -r, sizes, mtimes); the reruns wrote nothing" ||
        echo "SOME BACKUPS OR RESTORES FAILED OR DIFFER (see the log above)"
} | tee "$WORK/report.txt"
[[ -z "$REPORT" ]] || cp "$WORK/report.txt" "$REPORT"
((VERIFY_FAILED == 0))
