#!/usr/bin/env bash
# What bench/run_lambda_bench.sh and bench/run_scale_bench.sh share: options, the load wait, the
# checks that skip a benchmark (exit 0) when moto or a binary is missing, `unshare -n`, and the
# start of bench/<NAME>_bench.py. Called as: run_python_bench.sh CALLER NAME [BUILD_DIR] [options]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SCRIPT=$1   # the caller: its header is the help
NAME=$2     # lambda | scale: bench/${NAME}_bench.py, ${NAME^^}_BENCH_* variables
shift 2
PY="$HERE/${NAME}_bench.py"
VAR=${NAME^^}_BENCH

BUILD_DIR_VAR=${VAR}_BUILD_DIR NETNS_VAR=${VAR}_NETNS IN_NETNS_VAR=${VAR}_IN_NETNS
BUILD_DIR=${!BUILD_DIR_VAR:-$REPO/build}
NETNS=${!NETNS_VAR:-auto}
WAIT_LOAD=""
WAIT_MAX=600
PASS=()
if (($#)) && [[ $1 != -* ]]; then
    BUILD_DIR=$(readlink -f "$1")
    shift
fi
while (($#)); do
    case $1 in
    --netns) NETNS=$2; shift ;;
    --wait-load) WAIT_LOAD=$2; shift ;;
    --wait-max) WAIT_MAX=$2; shift ;;
    --build-dir) BUILD_DIR=$(readlink -f "$2"); shift ;;
    --report | --json) PASS+=("$1" "$(readlink -f "$2")"); shift ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$SCRIPT" | grep '^#' | sed 's/^# \{0,1\}//'
        echo
        python3 "$PY" --help
        exit 0
        ;;
    *) PASS+=("$1") ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"   # log, wait_for_load, enter_netns
BENCH_TAG=$NAME-bench
skip() { log "SKIPPED: $*"; exit 0; }

command -v python3 >/dev/null || skip "python3 is missing"
python3 -c 'import boto3, moto' 2>/dev/null || skip "boto3/moto are missing (pip install 'moto[server]' boto3)"
command -v "${OBSYNC_MOTO_SERVER:-moto_server}" >/dev/null || skip "moto_server is not on PATH (OBSYNC_MOTO_SERVER)"
for b in obsync-lambda obsync-fake-server obsync; do
    [[ -x "$BUILD_DIR/$b" ]] || skip "$BUILD_DIR/$b is not built (cmake --build $BUILD_DIR --target $b)"
done
export OBSYNC_LAMBDA_BINARY=$BUILD_DIR/obsync-lambda OBSYNC_FAKE_SERVER_BINARY=$BUILD_DIR/obsync-fake-server \
    OBSYNC_BINARY=$BUILD_DIR/obsync

if [[ -z "${!IN_NETNS_VAR:-}" ]]; then
    [[ -z $WAIT_LOAD ]] || wait_for_load "$WAIT_LOAD" "$WAIT_MAX"
    enter_netns "$NETNS" "$IN_NETNS_VAR" python3 -B "$PY" "${PASS[@]}" ||
        case $? in
        2) log "cannot create a network namespace (unshare -n / ip)"; exit 1 ;;
        *) log "--netns must be auto, require or off"; exit 4 ;;
        esac
fi
exec python3 -B "$PY" "${PASS[@]}"
