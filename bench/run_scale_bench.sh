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
exec "$(dirname "${BASH_SOURCE[0]}")/run_python_bench.sh" "${BASH_SOURCE[0]}" scale "$@"
