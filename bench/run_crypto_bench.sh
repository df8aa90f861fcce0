#!/usr/bin/env bash
# Runs the crypto benchmarks and, for reference, OpenSSL's own AES-256-GCM speed on this machine.
# Usage: bench/run_crypto_bench.sh [BUILD_DIR]   (make bench calls it)
set -euo pipefail
build=${1:-build}

echo "== obsync crypto benchmarks ($build/bench/crypto_bench)"
"$build/bench/crypto_bench" --benchmark_min_time=0.5 --benchmark_counters_tabular=true

echo
echo "== reference: openssl speed -evp aes-256-gcm (decrypt, 16 KiB column)"
# -decrypt measures the same direction as BM_GcmDecryptPieces.
openssl speed -seconds 2 -bytes 16384 -decrypt -evp aes-256-gcm 2>/dev/null | tail -n 2
