# shellcheck shell=bash
# shellcheck disable=SC2034 # T_*, V, VERIFY_FAILED, SRC_*, API...: set here for the scripts that source this
# bench/lib.sh: what the benchmark scripts share. Sourced (never run) by bench/run_sync_bench.sh,
# bench/run_restore_bench.sh and bench/run_python_bench.sh; it defines functions and the variables
# they start from (ROWS=(), VERIFY_FAILED=0, VERIFY_PRUNE=(.obsync)), and runs nothing.
#
# Every script:
#   log MSG...                "[$BENCH_TAG HH:MM:SS] MSG" on stderr
#   wait_for_load LIMIT MAX   waits (at most MAX s) for the 1-minute load average to drop below LIMIT
#   enter_netns MODE VAR CMD...  MODE auto|require: re-executes CMD inside `unshare -n` (only
#                             loopback, brought up) with VAR=1 in its environment, and does not
#                             return; returns 0 after logging when it runs WITHOUT isolation (auto),
#                             2 when MODE is require and there is no namespace, 3 on a bad MODE
#                             (off: logs "NOT isolated" and returns 0)
# The fake-server benchmarks (run_sync_bench.sh, run_restore_bench.sh), which set BENCH_TAG,
# BENCH_VAR (their variables' prefix: SYNC_BENCH, RESTORE_BENCH), HERE, BUILD_DIR, KEEP, DEADLINE,
# NOTES, ATTACHMENTS, SEED, EMAIL, ACCOUNT_PASSWORD and VAULT_PASSWORD:
#   die MSG...                logs "ERROR: MSG" and exits 1
#   check_tools               python3 (sets PY), /usr/bin/time, the built obsync and
#                             obsync-fake-server (sets OBSYNC, FAKE_SERVER); else exits 4
#   unset_client_env          unsets the OBSIDIAN_*/OBSYNC_* variables that could redirect or
#                             authenticate the clients
#   start_work                the work folder WORK ("${TMPDIR:-/tmp}/obsync-<tag>.XXXXXX"), the
#                             cleanup on exit (stops the servers and the watchdog, removes WORK
#                             unless KEEP or ${BENCH_VAR}_KEEP_ON_FAIL and a failure), the INT/TERM
#                             traps and the whole-run watchdog (TERM to the script after DEADLINE s)
#   stop_pid PID              TERM, up to 5 s, then KILL
#   start_server LATENCY_MS   obsync-fake-server serve --verbose on 127.0.0.1; sets SERVER_PID, API
#   stop_server, server_lines (requests it logged), seed VAULT_NAME SRC_DIR
#   start_moto BUCKET         moto_server ($MOTO) on a free 127.0.0.1 port, AWS_* exported, the bucket
#                             created; moto_cpu (its CPU s so far), moto_lines (requests it served)
#   gen_vault DIR, gen_large DIR MB   bench/gen_vault.py with NOTES, ATTACHMENTS, SEED
#   measure_source DIR        sets SRC_FILES, SRC_BYTES and logs them
#   run_timed NAME LIMIT CMD...  CMD under /usr/bin/time -v and `timeout LIMIT`; stdout/stderr in
#                             $WORK/NAME.out/.err; sets T_RC
#   time_results NAME LIMIT   then: T_WALL (s), T_CPU (user + system s), T_RSS (KiB) from its
#                             time -v output; logs a time-out or a failure
#   jfield NAME PATH          a field of $WORK/NAME.out (JSON), PATH like vaults.0.created; "?"
#   verify EXPECTED ACTUAL [diff option...]  sets V (ok, DIFF content, DIFF mtimes) and, when not
#                             ok, VERIFY_FAILED=1; the listing of sizes and mtimes skips the
#                             top-level folders named in VERIFY_PRUNE
#   mb BYTES, mib KIB, per_s COUNT WALL FORMAT [UNIT]   the table's numbers
#   print_table HEADER ALIGN  HEADER ("a|b|c") and the rows of ROWS (same shape) as markdown;
#                             ALIGN is the separator line without its first "|"

log() { printf '[%s %s] %s\n' "$BENCH_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- Before the work starts: the load wait and the network namespace ----------------------------
wait_for_load() { # wait_for_load LIMIT MAX
    local limit=$1 max=$2 waited=0
    while awk -v l="$limit" '{exit !($1 >= l)}' /proc/loadavg && ((waited < max)); do
        ((waited % 60 == 0)) && log "load average $(cut -d' ' -f1-3 /proc/loadavg): waiting for < $limit (at most ${max}s)"
        sleep 10
        waited=$((waited + 10))
    done
    log "load average $(cut -d' ' -f1-3 /proc/loadavg) after ${waited}s of waiting"
}

enter_netns() { # enter_netns MODE IN_NETNS_VAR CMD...
    local mode=$1 var=$2
    shift 2
    case $mode in
    off) log "network: NOT isolated (--netns off); everything targets 127.0.0.1 anyway" ;;
    auto | require)
        if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n ip link set lo up 2>/dev/null; then
            # shellcheck disable=SC2016 # expanded by the inner bash
            exec unshare -n env "$var=1" bash -c 'ip link set lo up && exec "$@"' bash "$@"
        fi
        [[ $mode == auto ]] || return 2
        log "network: unshare -n not available; running WITHOUT isolation (127.0.0.1 only anyway)"
        ;;
    *) return 3 ;;
    esac
}

check_tools() {
    local me=run_${BENCH_TAG%-bench}_bench
    OBSYNC="$BUILD_DIR/obsync"
    FAKE_SERVER="$BUILD_DIR/obsync-fake-server"
    PY=$(command -v python3) || { echo "$me: python3 is required (scripts/deps.sh)" >&2; exit 4; }
    [[ -x /usr/bin/time ]] || { echo "$me: /usr/bin/time is required (apt install time)" >&2; exit 4; }
    [[ -x "$OBSYNC" && -x "$FAKE_SERVER" ]] || { echo "$me: build first (make build): $OBSYNC, $FAKE_SERVER" >&2; exit 4; }
}

unset_client_env() {
    unset OBSIDIAN_API_URL OBSIDIAN_EMAIL OBSIDIAN_PASSWORD OBSIDIAN_TOTP_SECRET OBSIDIAN_VAULT_PASSWORD \
        OBSIDIAN_VAULT_KEYHASH OBSYNC_CREDENTIALS OBSIDIAN_AUTH_TOKEN
}

# The S3 benchmarks: without moto_server or boto3 (which creates the bucket) they are SKIPPED
# (exit 0), like the other benchmarks of `make bench`; nothing of the caller's AWS setup may
# redirect or authenticate their clients.
require_moto() {
    local me=run_${BENCH_TAG%-bench}_bench
    command -v "$MOTO" >/dev/null || { echo "$me: SKIPPED: moto_server not found (pip install 'moto[server]'), or set OBSYNC_MOTO_SERVER" >&2; exit 0; }
    "$PY" -c 'import boto3' 2>/dev/null || { echo "$me: SKIPPED: python3 boto3 is missing (it creates the bucket)" >&2; exit 0; }
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
}

# --- Work folder, servers, watchdog, cleanup ----------------------------------------------------
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
    local rc=$? keep_on_fail=${BENCH_VAR}_KEEP_ON_FAIL
    trap - EXIT INT TERM
    stop_server
    stop_pid "$MOTO_PID"
    if [[ -n "$WATCHDOG_PID" ]]; then
        kill "$WATCHDOG_PID" 2>/dev/null || true
        wait "$WATCHDOG_PID" 2>/dev/null || true
    fi
    if ((KEEP)) || [[ -n "${!keep_on_fail:-}" && $rc -ne 0 ]]; then
        log "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}

start_work() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/obsync-$BENCH_TAG.XXXXXX")
    SERVER_PID=""
    MOTO_PID=""
    WATCHDOG_PID=""
    trap cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated (deadline of ${DEADLINE}s reached?)"; exit 143' TERM
    # Whole-run limit: TERM to this script after DEADLINE s (a running step ends at its own timeout).
    # shellcheck disable=SC2016
    bash -c 'sleep "$1" & s=$!; trap "kill $s 2>/dev/null; exit 0" TERM; wait $s && kill -TERM "$2"' _ "$DEADLINE" "$$" &
    WATCHDOG_PID=$!
    log "work folder $WORK"
}

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

seed() { # seed VAULT_NAME SRC_DIR
    local t0=$SECONDS
    "$FAKE_SERVER" seed --data "$WORK/server-data" --owner "$EMAIL" --vault "$1" --password "$VAULT_PASSWORD" \
        --encryption-version 3 "$2" >"$WORK/seed-$1.out" 2>&1 || { cat "$WORK/seed-$1.out" >&2; die "seed $1 failed"; }
    log "seeded vault $1 from $2 in $((SECONDS - t0)) s"
}

start_moto() { # start_moto BUCKET
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
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])' "$AWS_ENDPOINT_URL" "$1" ||
        die "could not create the bucket in moto"
    log "moto_server $("$PY" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo "?") pid $MOTO_PID at $AWS_ENDPOINT_URL, bucket $1"
}
# CPU seconds moto_server has used so far (utime + stime of its process).
moto_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$MOTO_PID/stat" 2>/dev/null || echo 0; }
# Requests moto served (werkzeug logs one line per request on stderr).
moto_lines() { grep -cE '"(GET|PUT|POST|HEAD|DELETE) [^"]*" [0-9]{3} ' "$WORK/moto.err" || true; }

# --- Vault generator (deterministic for a given seed): bench/gen_vault.py ------------------------
# gen_vault DIR: notes, attachments, nested folders, unicode (NFC) names, fixed mtimes.
gen_vault() { "$PY" "$HERE/gen_vault.py" vault "$1" "$NOTES" "$ATTACHMENTS" "$SEED"; }
# gen_large DIR MB: one attachment of MB*10^6 random bytes (streamed, seeded).
gen_large() { "$PY" "$HERE/gen_vault.py" large "$1" "$2" "$SEED"; }
# seed_bench_vault: the benchmark vault generated into $WORK/src, measured (SRC_FILES, SRC_BYTES)
# and seeded on the fake server as $VAULT.
seed_bench_vault() {
    log "generating the vault (seed $SEED)"
    gen_vault "$WORK/src"
    measure_source "$WORK/src"
    seed "$VAULT" "$WORK/src"
}
measure_source() { # measure_source DIR
    SRC_FILES=$(find "$1" -type f | wc -l)
    SRC_BYTES=$(find "$1" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}')
    log "source: $SRC_FILES files, $SRC_BYTES bytes, $(find "$1" -mindepth 1 -type d | wc -l) folders"
}

# --- Measuring ----------------------------------------------------------------------------------
# run_timed NAME LIMIT CMD...: CMD under /usr/bin/time -v and `timeout -k 10 LIMIT`, its stdout and
# stderr in $WORK/NAME.out / .err; sets T_RC. Then (after counting what the servers did meanwhile)
# time_results NAME LIMIT: sets T_WALL (s), T_CPU (user + system s) and T_RSS (KiB, "Maximum
# resident set size": the largest process of the tree), and logs a time-out or a failure.
run_timed() {
    local name=$1 limit=$2
    shift 2
    T_RC=0
    /usr/bin/time -v -o "$WORK/$name.time" timeout -k 10 "$limit" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || T_RC=$?
}
time_results() {
    local name=$1 limit=$2
    T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f\n", s}' "$WORK/$name.time")
    T_CPU=$(awk -F': ' '/(User|System) time \(seconds\)/{s+=$2} END{printf "%.2f\n", s}' "$WORK/$name.time")
    T_RSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/$name.time")
    if ((T_RC == 124 || T_RC == 137)); then
        log "$name: TIMED OUT after ${limit}s"
    elif ((T_RC != 0)); then
        log "$name: exit $T_RC; last lines of stderr:"
        tail -n 15 "$WORK/$name.err" | sed 's/^/    /' >&2
    fi
}

# jfield NAME PATH: a field of NAME's --json output ("vaults.0.created"), "?" when absent.
jfield() {
    "$PY" -c 'import json,sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    print(len(v) if isinstance(v, list) else v)
except Exception: print("?")' "$WORK/$1.out" "$2"
}

# verify EXPECTED ACTUAL [diff option...]: sets V ("ok", "DIFF content", "DIFF mtimes"); logs
# details. The diff options (-x NAME) leave names out of the content comparison; the listing of
# sizes and mtimes leaves out the top-level folders named in VERIFY_PRUNE.
VERIFY_FAILED=0
VERIFY_PRUNE=(.obsync)
listing() {
    local p prune=()
    for p in "${VERIFY_PRUNE[@]}"; do
        ((${#prune[@]} == 0)) || prune+=(-o)
        prune+=(-path "./$p")
    done
    (cd "$1" && find . \( "${prune[@]}" \) -prune -o -type f -printf '%s %Ts %P\n' | LC_ALL=C sort -k3)
}
verify() {
    local expected=$1 actual=$2
    shift 2
    if ! diff -r "$@" "$expected" "$actual" >"$WORK/diff.out" 2>&1; then
        V="DIFF content"
        VERIFY_FAILED=1
        log "verify $actual: CONTENT DIFFERS from $expected:"
        head -n 20 "$WORK/diff.out" | sed 's/^/    /' >&2
        return 0
    fi
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
mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1e6}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
# per_s COUNT WALL FORMAT [UNIT]: COUNT/UNIT/WALL printed with FORMAT, "-" when COUNT or WALL is 0.
per_s() { awk -v n="$1" -v w="$2" -v f="$3" -v u="${4:-1}" 'BEGIN{ if (n>0 && w>0) printf f, n/u/w; else print "-" }'; }
ROWS=()
print_table() { # print_table HEADER ALIGN
    local r
    printf '| %s |\n' "${1//|/ | }"
    printf '|%s\n' "$2"
    for r in "${ROWS[@]}"; do
        printf '| %s |\n' "${r//|/ | }"
    done
}
