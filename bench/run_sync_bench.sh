#!/usr/bin/env bash
# Sync benchmark (issue #4): obsync against the official Obsidian headless client, both downloading
# the same generated vault from build/obsync-fake-server on 127.0.0.1 with a simulated latency.
#
#   bench/run_sync_bench.sh                 # default size: 2000 notes, 50 attachments, 20 ms
#   bench/run_sync_bench.sh --smoke         # a small, quick run (100 notes, 5 attachments, 3/30 MB)
#   bench/run_sync_bench.sh --help
#
# What it does, on ONE fake server (user alice, --latency-ms L):
#   1. generates a deterministic (seeded) vault: N notes of 0.2-50 KB (log-uniform sizes), M
#      attachments of 50 KB-8 MB (.png/.pdf/.mp3, random bytes), folders up to 5 deep, NFC unicode
#      names, fixed mtimes; seeds it with `obsync-fake-server seed --encryption-version 3`;
#   2. times with /usr/bin/time -v (wall, "Maximum resident set size"):
#      obsync login; obsync full sync at each --concurrency (fresh XDG_STATE_HOME each); obsync
#      incremental with no change (repeated, median reported); obsync incremental after ~1 % of
#      the notes got a new version (`obsync-fake-server inject`); the official client's pull-only
#      full download (`ob sync` under `timeout`);
#   3. verifies every download against the source: diff -r, plus sizes and file mtimes;
#   4. large-file check: one vault per --large-mb size holding a single attachment, obsync full
#      sync, peak RSS (must not grow with the file size);
#   5. prints a table (wall s, files/s, MB/s, peak RSS) and the official/obsync ratio.
# Everything lives in a temp folder that is removed on exit (--keep keeps it); the server is always
# stopped. Runs inside `unshare -n` (only loopback) when possible, like tests/interop/lib.sh.
#
# Units: MB = 10^6 bytes of file content (plaintext); RSS in MiB (= the KiB of time -v / 1024).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SCRIPT="$HERE/$(basename "${BASH_SOURCE[0]}")"

# --- Parameters (env, overridden by flags) -------------------------------------------------------
BUILD_DIR=${SYNC_BENCH_BUILD_DIR:-$REPO/build}
NOTES=${SYNC_BENCH_NOTES:-2000}
ATTACHMENTS=${SYNC_BENCH_ATTACHMENTS:-50}
SEED=${SYNC_BENCH_SEED:-4}
LATENCY_MS=${SYNC_BENCH_LATENCY_MS:-20}
CONCURRENCY=${SYNC_BENCH_CONCURRENCY:-"4 8"}
CHANGE_PCT=${SYNC_BENCH_CHANGE_PCT:-1}
NOCHANGE_RUNS=${SYNC_BENCH_NOCHANGE_RUNS:-3}
LARGE_MB=${SYNC_BENCH_LARGE_MB:-"15 150"}
OFFICIAL=${SYNC_BENCH_OFFICIAL:-1}
OB_TIMEOUT=${SYNC_BENCH_OB_TIMEOUT:-1500}
STEP_TIMEOUT=${SYNC_BENCH_STEP_TIMEOUT:-900}
DEADLINE=${SYNC_BENCH_DEADLINE:-3600}
NETNS=${SYNC_BENCH_NETNS:-auto}
KEEP=${SYNC_BENCH_KEEP:-0}
REPORT=${SYNC_BENCH_REPORT:-}

usage() {
    cat <<EOF
usage: $0 [options]          (each option also has an env variable, in brackets)
  --notes N             notes, 0.2-50 KB each                        [SYNC_BENCH_NOTES=$NOTES]
  --attachments M       attachments, 50 KB-8 MB each                 [SYNC_BENCH_ATTACHMENTS=$ATTACHMENTS]
  --seed S              generator seed                               [SYNC_BENCH_SEED=$SEED]
  --latency-ms L        fake server latency per reply                [SYNC_BENCH_LATENCY_MS=$LATENCY_MS]
  --concurrency "A B"   obsync full-sync concurrencies; the first one
                        is the reference and is reused incrementally [SYNC_BENCH_CONCURRENCY="$CONCURRENCY"]
  --change-pct P        % of notes given a new version               [SYNC_BENCH_CHANGE_PCT=$CHANGE_PCT]
  --nochange-runs K     no-change incremental repetitions            [SYNC_BENCH_NOCHANGE_RUNS=$NOCHANGE_RUNS]
  --large-mb "A B"      large-file check sizes in MB ("" skips it)   [SYNC_BENCH_LARGE_MB="$LARGE_MB"]
  --no-official         skip the official client                     [SYNC_BENCH_OFFICIAL=0]
  --ob-timeout S        limit of the official 'ob sync'              [SYNC_BENCH_OB_TIMEOUT=$OB_TIMEOUT]
  --step-timeout S      limit of every other timed command           [SYNC_BENCH_STEP_TIMEOUT=$STEP_TIMEOUT]
  --deadline S          whole-run limit                              [SYNC_BENCH_DEADLINE=$DEADLINE]
  --netns auto|require|off  loopback-only network namespace          [SYNC_BENCH_NETNS=$NETNS]
  --report FILE         also write the results table (markdown) here [SYNC_BENCH_REPORT]
  --build-dir DIR       where obsync and obsync-fake-server are      [SYNC_BENCH_BUILD_DIR]
  --keep                keep the work folder                         [SYNC_BENCH_KEEP=1]
  --smoke               small run: 100 notes, 5 attachments, concurrency 4, large 3/30 MB
EOF
}

while (($#)); do
    case $1 in
    --notes) NOTES=$2; shift ;;
    --attachments) ATTACHMENTS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --latency-ms) LATENCY_MS=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --change-pct) CHANGE_PCT=$2; shift ;;
    --nochange-runs) NOCHANGE_RUNS=$2; shift ;;
    --large-mb) LARGE_MB=$2; shift ;;
    --no-official) OFFICIAL=0 ;;
    --ob-timeout) OB_TIMEOUT=$2; shift ;;
    --step-timeout) STEP_TIMEOUT=$2; shift ;;
    --deadline) DEADLINE=$2; shift ;;
    --netns) NETNS=$2; shift ;;
    --report) REPORT=$(readlink -f "$2"); shift ;;
    --build-dir) BUILD_DIR=$(readlink -f "$2"); shift ;;
    --keep) KEEP=1 ;;
    --smoke) NOTES=100 ATTACHMENTS=5 CONCURRENCY=4 LARGE_MB="3 30" NOCHANGE_RUNS=2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_sync_bench: unknown option $1 (see --help)" >&2; exit 4 ;;
    esac
    shift
done
read -r -a CONC_LIST <<<"$CONCURRENCY"
read -r -a LARGE_LIST <<<"$LARGE_MB"
((${#CONC_LIST[@]} > 0)) || { echo "run_sync_bench: --concurrency is empty" >&2; exit 4; }

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
BENCH_TAG=sync-bench BENCH_VAR=SYNC_BENCH
OB="$REPO/tests/interop/ob.sh"
INTEROP_DIR=${OBSYNC_INTEROP_DIR:-$BUILD_DIR/interop}
export OBSYNC_INTEROP_DIR=$INTEROP_DIR
check_tools
if ((OFFICIAL)) && [[ ! -f "$INTEROP_DIR/package/cli.js" ]]; then
    echo "run_sync_bench: official client not installed in $INTEROP_DIR (tests/interop/install.sh), or pass --no-official" >&2
    exit 4
fi

# Fake credentials of the fake server (never real ones).
readonly EMAIL=alice@example.com ACCOUNT_PASSWORD=hunter2 VAULT=Bench VAULT_PASSWORD='correct horse'
readonly FILE_TYPES=image,audio,video,pdf,unsupported
# Nothing from the caller's environment may redirect or authenticate the clients.
unset_client_env

# --- Isolation: loopback-only network namespace (same pattern as tests/interop/lib.sh) -----------
if [[ -z "${SYNC_BENCH_IN_NETNS:-}" ]]; then
    enter_netns "$NETNS" SYNC_BENCH_IN_NETNS env SYNC_BENCH_BUILD_DIR="$BUILD_DIR" SYNC_BENCH_NOTES="$NOTES" \
        SYNC_BENCH_ATTACHMENTS="$ATTACHMENTS" SYNC_BENCH_SEED="$SEED" SYNC_BENCH_LATENCY_MS="$LATENCY_MS" \
        SYNC_BENCH_CONCURRENCY="$CONCURRENCY" SYNC_BENCH_CHANGE_PCT="$CHANGE_PCT" \
        SYNC_BENCH_NOCHANGE_RUNS="$NOCHANGE_RUNS" SYNC_BENCH_LARGE_MB="$LARGE_MB" SYNC_BENCH_OFFICIAL="$OFFICIAL" \
        SYNC_BENCH_OB_TIMEOUT="$OB_TIMEOUT" SYNC_BENCH_STEP_TIMEOUT="$STEP_TIMEOUT" SYNC_BENCH_DEADLINE="$DEADLINE" \
        SYNC_BENCH_KEEP="$KEEP" SYNC_BENCH_REPORT="$REPORT" SYNC_BENCH_NETNS="$NETNS" bash "$SCRIPT" ||
        case $? in
        2) die "cannot create a network namespace (unshare -n / ip)" ;;
        *) die "--netns must be auto, require or off" ;;
        esac
else
    log "network: isolated namespace (only loopback)"
fi

# --- Work folder, server, watchdog, cleanup (bench/lib.sh) --------------------------------------
start_work
log "machine: $(nproc) vCPU, $(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(awk '/MemTotal/{printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
log "parameters: notes=$NOTES attachments=$ATTACHMENTS seed=$SEED latency=${LATENCY_MS}ms concurrency=($CONCURRENCY) change=$CHANGE_PCT% large=($LARGE_MB) MB official=$OFFICIAL"

# --- Measuring ----------------------------------------------------------------------------------
# timed NAME LIMIT CMD...: runs CMD under /usr/bin/time -v and `timeout`; sets T_RC, T_WALL (s),
# T_RSS (KiB, "Maximum resident set size": the largest process of the tree) and T_REQ (requests
# the server logged meanwhile). stdout/stderr go to $WORK/NAME.out / .err.
timed() {
    local name=$1 limit=$2 before
    before=$(server_lines)
    run_timed "$@"
    T_REQ=$(($(server_lines) - before))
    time_results "$name" "$limit"
    log "$name: wall ${T_WALL}s, peak RSS $((T_RSS / 1024)) MiB, exit $T_RC, ${T_REQ} server requests"
}

# json_field NAME FIELD: a field of the first vault in obsync's --json output.
json_field() { jfield "$1" "vaults.0.$2"; }

# check_download EXPECTED ACTUAL: V for the last timed step: its exit, then verify (bench/lib.sh).
# .sync.lock (the official client's lock) is ignored; an .obsidian folder holding no file (the
# official client creates an empty config dir) is ignored when the source has none.
VERIFY_PRUNE=(.obsidian .obsync)
check_download() {
    local expected=$1 actual=$2 ex=(-x .sync.lock -x .obsync)
    V="FAILED (exit $T_RC)"
    if ((T_RC == 0)); then
        if [[ -d "$actual/.obsidian" && ! -e "$expected/.obsidian" ]]; then
            if [[ -z "$(find "$actual/.obsidian" -type f ! -path '*/.sync.lock/*' -print -quit)" ]]; then
                ex+=(-x .obsidian)
            fi
        fi
        verify "$expected" "$actual" "${ex[@]}"
    fi
    [[ $V == ok ]] || VERIFY_FAILED=1
}

# --- Results ------------------------------------------------------------------------------------
# row CASE FILES BYTES WALL RSS_KIB REQUESTS VERIFIED NOTE
row() {
    local files=$2 bytes=$3 wall=$4
    ROWS+=("$1|$files|$(mb "$bytes")|$wall|$(per_s "$files" "$wall" %.0f)|$(per_s "$bytes" "$wall" %.1f 1e6)|$(mib "$5")|$6|$7|$8")
}

# --- The run ------------------------------------------------------------------------------------
start_server "$LATENCY_MS"
export OBS_FAKE_API=$API

seed_bench_vault

# Login (measured on its own; the token is then shared by every obsync case).
OBS_CFG=$WORK/obsync-config
mkdir -p "$OBS_CFG"
export XDG_CONFIG_HOME=$OBS_CFG
timed login "$STEP_TIMEOUT" "$OBSYNC" --api-url "$API" login --email "$EMAIL" --password "$ACCOUNT_PASSWORD"
((T_RC == 0)) || die "obsync login failed"
row "obsync login" 0 0 "$T_WALL" "$T_RSS" "$T_REQ" "-" ""

# Full syncs, one per concurrency, each with a fresh state and destination.
REF_C=${CONC_LIST[0]}
declare -A FULL_WALL=()
for c in "${CONC_LIST[@]}"; do
    mkdir -p "$WORK/state-c$c"
    XDG_STATE_HOME=$WORK/state-c$c timed "full-c$c" "$STEP_TIMEOUT" \
        "$OBSYNC" --api-url "$API" sync "$VAULT" --dest "$WORK/dst-c$c" --password "$VAULT_PASSWORD" \
        --concurrency "$c" --json
    check_download "$WORK/src" "$WORK/dst-c$c"
    FULL_WALL[$c]=$T_WALL
    row "obsync full sync, concurrency $c" "$(json_field "full-c$c" created)" "$(json_field "full-c$c" bytes)" \
        "$T_WALL" "$T_RSS" "$T_REQ" "$V" "obsync duration_ms $(json_field "full-c$c" duration_ms)"
done

# Incremental with no change (reference concurrency's state and destination), K times; median.
walls=()
for ((k = 1; k <= NOCHANGE_RUNS; k++)); do
    XDG_STATE_HOME=$WORK/state-c$REF_C timed "nochange-$k" "$STEP_TIMEOUT" \
        "$OBSYNC" --api-url "$API" sync "$VAULT" --dest "$WORK/dst-c$REF_C" --password "$VAULT_PASSWORD" \
        --concurrency "$REF_C" --json
    ((T_RC == 0)) || VERIFY_FAILED=1
    walls+=("$T_WALL:$T_RSS:$T_REQ:$(json_field "nochange-$k" duration_ms):$(json_field "nochange-$k" updated)")
done
IFS=$'\n' read -r -d '' -a sorted < <(printf '%s\n' "${walls[@]}" | sort -t: -k1,1g && printf '\0') || true
med=${sorted[$(((${#sorted[@]} - 1) / 2))]}
IFS=: read -r w rss req dms upd <<<"$med"
all_walls=$(printf '%s\n' "${walls[@]}" | cut -d: -f1 | paste -sd/ -)
row "obsync incremental, no change (median of $NOCHANGE_RUNS)" 0 0 "$w" "$rss" "$req" \
    "$([[ $upd == 0 ]] && echo "ok (0 updated)" || echo "UPDATED $upd")" "runs ${all_walls} s; duration_ms $dms"

# Official client, full pull-only download of the same vault.
OFFICIAL_WALL=""
if ((OFFICIAL)); then
    export XDG_CONFIG_HOME=$WORK/ob-config
    ob_step() { # ob_step NAME ARGS... (setup commands, not measured in the table)
        local name=$1
        shift
        timeout -k 10 120 "$OB" "$@" >"$WORK/ob-$name.log" 2>&1 || { cat "$WORK/ob-$name.log" >&2; die "ob $1 failed"; }
    }
    ob_step login login --email "$EMAIL" --password "$ACCOUNT_PASSWORD"
    ob_step setup sync-setup --vault "$VAULT" --path "$WORK/dst-official" --password "$VAULT_PASSWORD"
    ob_step config sync-config --path "$WORK/dst-official" --mode pull-only --file-types "$FILE_TYPES"
    timed official "$OB_TIMEOUT" "$OB" sync --path "$WORK/dst-official"
    check_download "$WORK/src" "$WORK/dst-official"
    OFFICIAL_WALL=$T_WALL
    row "official client full sync (ob sync, pull-only)" "$SRC_FILES" "$SRC_BYTES" "$T_WALL" "$T_RSS" "$T_REQ" "$V" \
        "peak RSS = node"
    export XDG_CONFIG_HOME=$OBS_CFG
fi

# Incremental after ~CHANGE_PCT % of the notes got a new version (inject, then the same edit in src).
n_change=$(awk -v n="$NOTES" -v p="$CHANGE_PCT" 'BEGIN{c=int(n*p/100+0.5); if (c<1) c=1; print c}')
log "injecting new versions of $n_change notes"
mapfile -t changed < <("$PY" -c 'import random,sys
notes=open(sys.argv[1]).read().splitlines()
print("\n".join(random.Random(int(sys.argv[2])).sample(notes, int(sys.argv[3]))))' "$WORK/notes.list" "$SEED" "$n_change")
mt=1735689600 # 2025-01-01T00:00:00Z, +1 s per changed note
for p in "${changed[@]}"; do
    printf '\n## Edited\n\nChanged after the first backup (%s).\n' "$mt" >>"$WORK/src/$p"
    touch -m -d "@$mt" -- "$WORK/src/$p"
    "$FAKE_SERVER" inject --data "$WORK/server-data" --vault "$VAULT" --password "$VAULT_PASSWORD" \
        --path "$p" --content-file "$WORK/src/$p" --mtime "$((mt * 1000))" >>"$WORK/inject.log" 2>&1 ||
        { tail "$WORK/inject.log" >&2; die "inject $p failed"; }
    mt=$((mt + 1))
done
XDG_STATE_HOME=$WORK/state-c$REF_C timed changed "$STEP_TIMEOUT" \
    "$OBSYNC" --api-url "$API" sync "$VAULT" --dest "$WORK/dst-c$REF_C" --password "$VAULT_PASSWORD" \
    --concurrency "$REF_C" --json
check_download "$WORK/src" "$WORK/dst-c$REF_C"
chg_bytes=$(for p in "${changed[@]}"; do stat -c %s -- "$WORK/src/$p"; done | awk '{s+=$1} END{print s+0}')
row "obsync incremental, $n_change notes changed ($CHANGE_PCT %)" "$(json_field changed updated)" "$chg_bytes" \
    "$T_WALL" "$T_RSS" "$T_REQ" "$V" "duration_ms $(json_field changed duration_ms)"

# Large-file check: one vault per size, a single attachment, obsync full sync (reference concurrency).
declare -A LARGE_RSS=()
for mb in "${LARGE_LIST[@]}"; do
    gen_large "$WORK/large-$mb" "$mb"
    seed "Large$mb" "$WORK/large-$mb"
    mkdir -p "$WORK/state-large-$mb"
    XDG_STATE_HOME=$WORK/state-large-$mb timed "large-$mb" "$STEP_TIMEOUT" \
        "$OBSYNC" --api-url "$API" sync "Large$mb" --dest "$WORK/dst-large-$mb" --password "$VAULT_PASSWORD" --json
    check_download "$WORK/large-$mb" "$WORK/dst-large-$mb"
    LARGE_RSS[$mb]=$T_RSS
    row "obsync full sync, one $mb MB file" 1 "$((mb * 1000000))" "$T_WALL" "$T_RSS" "$T_REQ" "$V" \
        "duration_ms $(json_field "large-$mb" duration_ms)"
    rm -rf "$WORK/large-$mb" "$WORK/dst-large-$mb"
done

# --- Report -------------------------------------------------------------------------------------
{
    echo
    echo "Sync benchmark: $SRC_FILES files ($NOTES notes, $ATTACHMENTS attachments), $(awk -v b="$SRC_BYTES" 'BEGIN{printf "%.1f", b/1e6}') MB, seed $SEED, latency ${LATENCY_MS} ms, $(nproc) vCPU"
    echo
    print_table "case|files|MB|wall s|files/s|MB/s|peak RSS MiB|requests|verified|notes" \
        '---|---:|---:|---:|---:|---:|---:|---:|---|---|'
    echo
    if [[ -n "$OFFICIAL_WALL" ]]; then
        for c in "${CONC_LIST[@]}"; do
            echo "official/obsync full-sync wall-time ratio (concurrency $c): $(awk -v o="$OFFICIAL_WALL" -v s="${FULL_WALL[$c]}" 'BEGIN{printf "%.1f", o/s}')x  (target >= 10x)"
        done
    fi
    if ((${#LARGE_LIST[@]} >= 2)); then
        first=${LARGE_LIST[0]} last=${LARGE_LIST[-1]}
        echo "large-file peak RSS: ${first} MB file $(awk -v k="${LARGE_RSS[$first]}" 'BEGIN{printf "%.1f", k/1024}') MiB, ${last} MB file $(awk -v k="${LARGE_RSS[$last]}" 'BEGIN{printf "%.1f", k/1024}') MiB (target <= 64 MB, flat)"
    fi
    ((VERIFY_FAILED == 0)) && echo "every download verified identical to its source (diff -r, sizes, mtimes)" ||
        echo "SOME DOWNLOADS FAILED OR DIFFER (see the log above)"
} | tee "$WORK/report.txt"
[[ -z "$REPORT" ]] || cp "$WORK/report.txt" "$REPORT"
((VERIFY_FAILED == 0))
