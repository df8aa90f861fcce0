#!/usr/bin/env bash
# S3 upload benchmark against moto_server on loopback (issue #5): files/s for 4 KiB notes at K
# concurrent uploads, MB/s for one large multipart upload, and peak RSS (/usr/bin/time -v) while
# uploading a 200 MB file. Figures go to docs/performance.md.
#
# Usage: bench/run_s3_bench.sh [--build-dir DIR] [--notes N] [--concurrency "1 4 16"] [--large-mb M]
# moto_server must be on PATH (or OBSYNC_MOTO_SERVER); it is started on a free 127.0.0.1 port
# and stopped on exit. moto keeps objects in memory: it is the bottleneck, not the network.
set -euo pipefail

BUILD_DIR=build
NOTES=2000
CONCURRENCY="1 4 16"
LARGE_MB=200
while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --notes) NOTES=$2; shift 2 ;;
        --concurrency) CONCURRENCY=$2; shift 2 ;;
        --large-mb) LARGE_MB=$2; shift 2 ;;
        -h|--help) sed -n 2,9p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 4 ;;
    esac
done

BENCH="$BUILD_DIR/bench/s3_upload_bench"
[[ -x $BENCH ]] || { echo "build first: $BENCH is missing (make build)" >&2; exit 4; }
MOTO=${OBSYNC_MOTO_SERVER:-moto_server}
command -v "$MOTO" >/dev/null || { echo "moto_server not found (pip install 'moto[server]')" >&2; exit 4; }

WORK=$(mktemp -d /tmp/obsync-s3-bench.XXXXXX)
MOTO_PID=""
cleanup() {
    [[ -n $MOTO_PID ]] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$MOTO" -H 127.0.0.1 -p 0 >"$WORK/moto.out" 2>"$WORK/moto.err" &
MOTO_PID=$!
PORT=""
for _ in $(seq 1 300); do
    PORT=$(grep -ohE 'http://127\.0\.0\.1:[0-9]+' "$WORK/moto.err" "$WORK/moto.out" 2>/dev/null | head -1 | sed 's/.*://' || true)
    [[ -n $PORT ]] && break
    sleep 0.1
done
[[ -n $PORT ]] || { cat "$WORK/moto.err" >&2; echo "moto_server did not start" >&2; exit 1; }

export AWS_ACCESS_KEY_ID=AKIAOBSYNCBENCH00000 AWS_SECRET_ACCESS_KEY=bench-secret-not-real
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 || true

run() {  # name, args...: prints the bench's JSON line plus peak RSS in MiB
    local name=$1; shift
    /usr/bin/time -v "$BENCH" "$@" >"$WORK/$name.json" 2>"$WORK/$name.time"
    python3 - "$WORK/$name.json" "$WORK/$name.time" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", t))
print(f"| {r['mode']} | {r['concurrency']} | {r['files']} | {r['bytes']/1e6:.1f} | {r['seconds']:.2f} "
      f"| {r['files_per_s']:.0f} | {r['mb_per_s']:.1f} | {cpu:.2f} | {rss:.1f} | {r['requests']} |")
PY
}

MOTO_VERSION=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo "?")
echo "S3 upload benchmark against moto_server $MOTO_VERSION on 127.0.0.1, $(nproc) vCPU"
echo
echo "| upload | concurrency | files | MB | wall s | files/s | MB/s | obsync CPU s | peak RSS MiB | requests |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for k in $CONCURRENCY; do
    run "notes-$k" notes --count "$NOTES" --size-kb 4 --concurrency "$k"
done
run "large" large --mb "$LARGE_MB"
