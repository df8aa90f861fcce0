#!/usr/bin/env bash
# obsync verify of a 10,000-file local backup (docs/performance.md, "Verify"):
#   1. verify_bench (Google Benchmark): list, hash on threads and compare, without the server;
#   2. end to end: obsync-fake-server (no added latency) seeded with 9,900 notes of 0.5-8 KiB and
#      100 attachments of 64-512 KiB in 100 folders, one `obsync sync`, then `obsync verify`
#      timed three times (sign-in from the saved token, the snapshot, the state, the folder).
# Usage: bench/run_verify_bench.sh [BUILD_DIR]   (make bench calls it)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)

echo "== obsync verify benchmarks ($build/bench/verify_bench)"
"$build/bench/verify_bench" --benchmark_min_time=1 --benchmark_counters_tabular=true

echo
echo "== obsync verify end to end: 10,000 files, local folder"
work=$(mktemp -d "${TMPDIR:-/tmp}/obsync-verify-bench.XXXXXX")
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work/corpus" <<'PY'
import os, random, sys
root, rng = sys.argv[1], random.Random(14)
for i in range(10_000):
    folder = os.path.join(root, f"Folder {i // 100}")
    os.makedirs(folder, exist_ok=True)
    if i % 100 == 99:
        path, size = os.path.join(folder, f"image {i}.png"), rng.randint(64 << 10, 512 << 10)
    else:
        path, size = os.path.join(folder, f"note {i}.md"), rng.randint(512, 8 << 10)
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))
PY

email=bench@example.com
account_password=bench-account-password
vault_password=bench-vault-password
"$build/obsync-fake-server" serve --data "$work/server" --user "$email:$account_password" \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
api=""
for _ in $(seq 300); do
    api=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    print(json.loads(line)["api"]); break' "$work/server.out" 2>/dev/null || true)
    [[ -n "$api" ]] && break
    sleep 0.1
done
[[ $api == http://127.0.0.1:* ]] || { cat "$work/server.err" >&2; echo "no fake server" >&2; exit 1; }
"$build/obsync-fake-server" seed --data "$work/server" --owner "$email" --vault Bench \
    --password "$vault_password" --encryption-version 3 "$work/corpus" >/dev/null

export XDG_CONFIG_HOME=$work/config XDG_STATE_HOME=$work/state OBSIDIAN_API_URL=$api \
    OBSIDIAN_EMAIL=$email OBSIDIAN_PASSWORD=$account_password OBSIDIAN_VAULT_PASSWORD=$vault_password
start=$(date +%s.%N)
"$build/obsync" sync Bench --dest "$work/backup" --concurrency 8 2>/dev/null
echo "sync (for reference): $(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')") s"
for run in 1 2 3; do
    start=$(date +%s.%N)
    "$build/obsync" verify Bench --dest "$work/backup" --json >"$work/verify.json"
    wall=$(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')")
    python3 - "$work/verify.json" "$wall" "$run" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
v = report["vaults"][0]
print(f"verify run {sys.argv[3]}: {sys.argv[2]} s wall, ok={report['ok']}, files={v['files']}, "
      f"read={v['checked_deep']}, {v['bytes_hashed'] / 1e6:.1f} MB hashed, "
      f"{v['duration_ms']} ms in the vault (snapshot + state + list + hash + compare)")
PY
done
