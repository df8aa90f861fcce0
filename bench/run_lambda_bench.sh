#!/usr/bin/env bash
# Lambda function benchmark (build/obsync-lambda): cold start, warm no-change invocation time,
# request counts and peak RSS, under tests/lambda's Runtime API emulator against moto_server and
# obsync-fake-server on 127.0.0.1. The work is done by bench/lambda_bench.py (see its docstring).
#
#   bench/run_lambda_bench.sh [BUILD_DIR] [options]     (make bench calls it with BUILD_DIR)
#   bench/run_lambda_bench.sh --help
#
# Options of this script (the others go to bench/lambda_bench.py: --notes, --cold-starts, --warm,
# --latency-ms, --concurrency, --report FILE, --json FILE, ...):
#   --netns auto|require|off   run inside `unshare -n` (loopback only) when possible  [auto]
#   --wait-load L              first wait until the 1-minute load average is below L ...
#   --wait-max S               ... for at most S seconds (then run anyway)            [600]
#
# Needs python3 with boto3 and moto (`moto_server`, or OBSYNC_MOTO_SERVER) and the targets
# obsync-lambda, obsync-fake-server and obsync; without them it says so and exits 0 (skipped).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_python_bench.sh" "${BASH_SOURCE[0]}" lambda "$@"
