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

OBSYNC="$BUILD_DIR/obsync"
FAKE_SERVER="$BUILD_DIR/obsync-fake-server"
OB="$REPO/tests/interop/ob.sh"
INTEROP_DIR=${OBSYNC_INTEROP_DIR:-$BUILD_DIR/interop}
export OBSYNC_INTEROP_DIR=$INTEROP_DIR
PY=$(command -v python3) || { echo "run_sync_bench: python3 is required (scripts/deps.sh)" >&2; exit 4; }
[[ -x /usr/bin/time ]] || { echo "run_sync_bench: /usr/bin/time is required (apt install time)" >&2; exit 4; }
[[ -x "$OBSYNC" && -x "$FAKE_SERVER" ]] || { echo "run_sync_bench: build first (make build): $OBSYNC, $FAKE_SERVER" >&2; exit 4; }
if ((OFFICIAL)) && [[ ! -f "$INTEROP_DIR/package/cli.js" ]]; then
    echo "run_sync_bench: official client not installed in $INTEROP_DIR (tests/interop/install.sh), or pass --no-official" >&2
    exit 4
fi

# Fake credentials of the fake server (never real ones).
readonly EMAIL=alice@example.com ACCOUNT_PASSWORD=hunter2 VAULT=Bench VAULT_PASSWORD='correct horse'
readonly FILE_TYPES=image,audio,video,pdf,unsupported
# Nothing from the caller's environment may redirect or authenticate the clients.
unset OBSIDIAN_API_URL OBSIDIAN_EMAIL OBSIDIAN_PASSWORD OBSIDIAN_TOTP_SECRET OBSIDIAN_VAULT_PASSWORD \
    OBSYNC_CREDENTIALS OBSIDIAN_AUTH_TOKEN

log() { printf '[sync-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- Isolation: loopback-only network namespace (same pattern as tests/interop/lib.sh) -----------
if [[ -z "${SYNC_BENCH_IN_NETNS:-}" ]]; then
    case $NETNS in
    off) log "network: NOT isolated (--netns off); everything targets 127.0.0.1 anyway" ;;
    auto | require)
        if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n ip link set lo up 2>/dev/null; then
            export SYNC_BENCH_BUILD_DIR=$BUILD_DIR SYNC_BENCH_NOTES=$NOTES SYNC_BENCH_ATTACHMENTS=$ATTACHMENTS \
                SYNC_BENCH_SEED=$SEED SYNC_BENCH_LATENCY_MS=$LATENCY_MS SYNC_BENCH_CONCURRENCY=$CONCURRENCY \
                SYNC_BENCH_CHANGE_PCT=$CHANGE_PCT SYNC_BENCH_NOCHANGE_RUNS=$NOCHANGE_RUNS \
                SYNC_BENCH_LARGE_MB=$LARGE_MB SYNC_BENCH_OFFICIAL=$OFFICIAL SYNC_BENCH_OB_TIMEOUT=$OB_TIMEOUT \
                SYNC_BENCH_STEP_TIMEOUT=$STEP_TIMEOUT SYNC_BENCH_DEADLINE=$DEADLINE SYNC_BENCH_KEEP=$KEEP \
                SYNC_BENCH_REPORT=$REPORT SYNC_BENCH_NETNS=$NETNS
            # shellcheck disable=SC2016 # expanded by the inner bash
            exec unshare -n env SYNC_BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$SCRIPT"
        fi
        [[ $NETNS == auto ]] || die "cannot create a network namespace (unshare -n / ip)"
        log "network: unshare -n not available; running WITHOUT isolation (127.0.0.1 only anyway)"
        ;;
    *) die "--netns must be auto, require or off" ;;
    esac
else
    log "network: isolated namespace (only loopback)"
fi

# --- Work folder, server, watchdog, cleanup -----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/obsync-sync-bench.XXXXXX")
SERVER_PID=""
WATCHDOG_PID=""
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    if [[ -n "$WATCHDOG_PID" ]]; then
        kill "$WATCHDOG_PID" 2>/dev/null || true
        wait "$WATCHDOG_PID" 2>/dev/null || true
    fi
    if ((KEEP)) || [[ -n "${SYNC_BENCH_KEEP_ON_FAIL:-}" && $rc -ne 0 ]]; then
        log "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (deadline of ${DEADLINE}s reached?)"; exit 143' TERM
# Whole-run limit: TERM to this script after DEADLINE s (a running step ends at its own timeout).
# shellcheck disable=SC2016
bash -c 'sleep "$1" & s=$!; trap "kill $s 2>/dev/null; exit 0" TERM; wait $s && kill -TERM "$2"' _ "$DEADLINE" "$$" &
WATCHDOG_PID=$!

log "work folder $WORK"
log "machine: $(nproc) vCPU, $(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(awk '/MemTotal/{printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
log "parameters: notes=$NOTES attachments=$ATTACHMENTS seed=$SEED latency=${LATENCY_MS}ms concurrency=($CONCURRENCY) change=$CHANGE_PCT% large=($LARGE_MB) MB official=$OFFICIAL"

start_server() {
    local data=$WORK/server-data
    mkdir -p "$data"
    # --verbose: one line per request, so each case can report how many requests it made.
    "$FAKE_SERVER" serve --data "$data" --user "$EMAIL:$ACCOUNT_PASSWORD" --latency-ms "$LATENCY_MS" --verbose \
        >"$WORK/server.out" 2>"$WORK/server.err" &
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
    export OBS_FAKE_API=$API
    log "fake server pid $SERVER_PID at $API (latency ${LATENCY_MS} ms)"
}
server_lines() { wc -l <"$WORK/server.err"; }

seed() { # seed VAULT_NAME SRC_DIR
    local t0=$SECONDS
    "$FAKE_SERVER" seed --data "$WORK/server-data" --owner "$EMAIL" --vault "$1" --password "$VAULT_PASSWORD" \
        --encryption-version 3 "$2" >"$WORK/seed-$1.out" 2>&1 || { cat "$WORK/seed-$1.out" >&2; die "seed $1 failed"; }
    log "seeded vault $1 from $2 in $((SECONDS - t0)) s"
}

# --- Vault generator (deterministic for a given seed): bench/gen_vault.py ------------------------
# gen_vault DIR: notes, attachments, nested folders, unicode (NFC) names, fixed mtimes.
gen_vault() { "$PY" "$HERE/gen_vault.py" vault "$1" "$NOTES" "$ATTACHMENTS" "$SEED"; }

# gen_large DIR MB: one attachment of MB*10^6 random bytes (streamed, seeded).
gen_large() { "$PY" "$HERE/gen_vault.py" large "$1" "$2" "$SEED"; }

# --- Measuring ----------------------------------------------------------------------------------
# timed NAME LIMIT CMD...: runs CMD under /usr/bin/time -v and `timeout`; sets T_RC, T_WALL (s),
# T_RSS (KiB, "Maximum resident set size": the largest process of the tree) and T_REQ (requests
# the server logged meanwhile). stdout/stderr go to $WORK/NAME.out / .err.
timed() {
    local name=$1 limit=$2
    shift 2
    local before rc=0
    before=$(server_lines)
    /usr/bin/time -v -o "$WORK/$name.time" timeout -k 10 "$limit" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    T_RC=$rc
    T_REQ=$(($(server_lines) - before))
    T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f\n", s}' "$WORK/$name.time")
    T_RSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/$name.time")
    if ((rc == 124 || rc == 137)); then
        log "$name: TIMED OUT after ${limit}s"
    elif ((rc != 0)); then
        log "$name: exit $rc; last lines of stderr:"
        tail -n 15 "$WORK/$name.err" | sed 's/^/    /' >&2
    fi
    log "$name: wall ${T_WALL}s, peak RSS $((T_RSS / 1024)) MiB, exit $rc, ${T_REQ} server requests"
}

# json_field NAME FIELD: a field of the first vault in obsync's --json output.
json_field() {
    "$PY" -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["vaults"][0][sys.argv[2]])
except Exception: print("?")' "$WORK/$1.out" "$2"
}

# verify EXPECTED ACTUAL: sets V ("ok", "DIFF content", "DIFF mtimes"); logs details.
# .sync.lock (the official client's lock) is ignored; an .obsidian folder holding no file (the
# official client creates an empty config dir) is ignored when the source has none.
VERIFY_FAILED=0
verify() {
    local expected=$1 actual=$2 ex=(-x .sync.lock -x .obsync)
    if [[ -d "$actual/.obsidian" && ! -e "$expected/.obsidian" ]]; then
        if [[ -z "$(find "$actual/.obsidian" -type f ! -path '*/.sync.lock/*' -print -quit)" ]]; then
            ex+=(-x .obsidian)
        fi
    fi
    if ! diff -r "${ex[@]}" "$expected" "$actual" >"$WORK/diff.out" 2>&1; then
        V="DIFF content"
        VERIFY_FAILED=1
        log "verify $actual: CONTENT DIFFERS from $expected:"
        head -n 20 "$WORK/diff.out" | sed 's/^/    /' >&2
        return 0
    fi
    listing() { (cd "$1" && find . \( -path ./.obsidian -o -path ./.obsync \) -prune -o -type f -printf '%s %Ts %P\n' | LC_ALL=C sort -k3); }
    if ! diff <(listing "$expected") <(listing "$actual") >"$WORK/listing.diff"; then
        V="DIFF mtimes"
        VERIFY_FAILED=1
        log "verify $actual: same bytes but sizes/mtimes differ:"
        head -n 10 "$WORK/listing.diff" | sed 's/^/    /' >&2
        return 0
    fi
    V="ok"
    log "verify $actual: identical to the source ($(find "$expected" -type f | wc -l) files, mtimes kept)"
}

# --- Results ------------------------------------------------------------------------------------
ROWS=()
# row CASE FILES BYTES WALL RSS_KIB REQUESTS VERIFIED NOTE
row() {
    local files=$2 bytes=$3 wall=$4
    local fps mbps
    fps=$(awk -v f="$files" -v w="$wall" 'BEGIN{ if (f>0 && w>0) printf "%.0f", f/w; else print "-" }')
    mbps=$(awk -v b="$bytes" -v w="$wall" 'BEGIN{ if (b>0 && w>0) printf "%.1f", b/1e6/w; else print "-" }')
    ROWS+=("$1|$files|$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}')|$wall|$fps|$mbps|$(awk -v k="$5" 'BEGIN{printf "%.1f", k/1024}')|$6|$7|$8")
}
print_table() {
    local r
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' case files MB "wall s" files/s MB/s \
        "peak RSS MiB" requests verified notes
    printf '|%s\n' '---|---:|---:|---:|---:|---:|---:|---:|---|---|'
    for r in "${ROWS[@]}"; do
        IFS='|' read -r c f m w fps mbps rss req v note <<<"$r"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$f" "$m" "$w" "$fps" "$mbps" "$rss" "$req" "$v" "$note"
    done
}

# --- The run ------------------------------------------------------------------------------------
start_server

log "generating the vault (seed $SEED)"
gen_vault "$WORK/src"
SRC_FILES=$(find "$WORK/src" -type f | wc -l)
SRC_BYTES=$(find "$WORK/src" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}')
log "source: $SRC_FILES files, $SRC_BYTES bytes, $(find "$WORK/src" -mindepth 1 -type d | wc -l) folders"
seed "$VAULT" "$WORK/src"

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
    V="FAILED (exit $T_RC)"
    ((T_RC == 0)) && verify "$WORK/src" "$WORK/dst-c$c"
    [[ $V == ok ]] || VERIFY_FAILED=1
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
    V="FAILED (exit $T_RC)"
    ((T_RC == 0)) && verify "$WORK/src" "$WORK/dst-official"
    [[ $V == ok ]] || VERIFY_FAILED=1
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
V="FAILED (exit $T_RC)"
((T_RC == 0)) && verify "$WORK/src" "$WORK/dst-c$REF_C"
[[ $V == ok ]] || VERIFY_FAILED=1
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
    V="FAILED (exit $T_RC)"
    ((T_RC == 0)) && verify "$WORK/large-$mb" "$WORK/dst-large-$mb"
    [[ $V == ok ]] || VERIFY_FAILED=1
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
    print_table
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
