#!/usr/bin/env bash
# Scale-out benchmark (issue #13): one scheduled round dispatched to the SQS work queue and
# drained by 1, 4 and 8 execution environments of build/obsync-lambda (tests/lambda's Runtime API
# emulator and esm_driver.EventSourceMapping) against moto_server and obsync-fake-server on
# 127.0.0.1. The work is done by bench/scale_bench.py (see its docstring).
#
#   bench/run_scale_bench.sh [BUILD_DIR] [options]      (make bench calls it with BUILD_DIR)
#   bench/run_scale_bench.sh --help
#
# Options of this script (the others go to bench/scale_bench.py: --vaults, --notes, --accounts,
# --workers 1,4,8, --rounds, --latency-ms, --account-concurrency, --report FILE, --json FILE, ...):
#   --netns auto|require|off   run inside `unshare -n` (loopback only) when possible  [auto]
#   --wait-load L              first wait until the 1-minute load average is below L ...
#   --wait-max S               ... for at most S seconds (then run anyway)            [600]
#
# Needs python3 with boto3 and moto (`moto_server`, or OBSYNC_MOTO_SERVER) and the targets
# obsync-lambda, obsync-fake-server and obsync; without them it says so and exits 0 (skipped).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SCRIPT="$HERE/$(basename "${BASH_SOURCE[0]}")"

BUILD_DIR=${SCALE_BENCH_BUILD_DIR:-$REPO/build}
NETNS=${SCALE_BENCH_NETNS:-auto}
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
        sed -n '2,17p' "$SCRIPT" | sed 's/^# \{0,1\}//'
        echo
        python3 "$HERE/scale_bench.py" --help
        exit 0
        ;;
    *) PASS+=("$1") ;;
    esac
    shift
done

log() { printf '[scale-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
skip() { log "SKIPPED: $*"; exit 0; }

command -v python3 >/dev/null || skip "python3 is missing"
python3 -c 'import boto3, moto' 2>/dev/null || skip "boto3/moto are missing (pip install 'moto[server]' boto3)"
command -v "${OBSYNC_MOTO_SERVER:-moto_server}" >/dev/null || skip "moto_server is not on PATH (OBSYNC_MOTO_SERVER)"
for b in obsync-lambda obsync-fake-server obsync; do
    [[ -x "$BUILD_DIR/$b" ]] || skip "$BUILD_DIR/$b is not built (cmake --build $BUILD_DIR --target $b)"
done
export OBSYNC_LAMBDA_BINARY=$BUILD_DIR/obsync-lambda OBSYNC_FAKE_SERVER_BINARY=$BUILD_DIR/obsync-fake-server \
    OBSYNC_BINARY=$BUILD_DIR/obsync

if [[ -z "${SCALE_BENCH_IN_NETNS:-}" ]]; then
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
            # shellcheck disable=SC2016 # expanded by the inner bash
            exec unshare -n env SCALE_BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec python3 -B "$0" "$@"' \
                "$HERE/scale_bench.py" "${PASS[@]}"
        fi
        [[ $NETNS == auto ]] || { log "cannot create a network namespace (unshare -n / ip)"; exit 1; }
        log "network: unshare -n not available; running WITHOUT isolation (127.0.0.1 only anyway)"
        ;;
    *) log "--netns must be auto, require or off"; exit 4 ;;
    esac
fi
exec python3 -B "$HERE/scale_bench.py" "${PASS[@]}"
