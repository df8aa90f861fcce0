#!/usr/bin/env bash
# make demo: a real sync against the bundled test server, on 127.0.0.1 only.
# Seeds demo/sample-vault as an end-to-end encrypted vault, logs in, syncs it into ./demo-vault.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$(mktemp -d -t obsync-demo-XXXXXX)
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Git does not keep empty folders; the sample vault has one.
mkdir -p "demo/sample-vault/Empty folder"

"$build/obsync-fake-server" seed --data "$work/data" --owner demo@example.com --vault "Demo vault" \
    --password "demo vault password" --encryption-version 3 demo/sample-vault >/dev/null
"$build/obsync-fake-server" serve --data "$work/data" --user demo@example.com:demo-password \
    >"$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [[ -s "$work/ready" ]] && break; sleep 0.05; done
api=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$work/ready")
[[ -n "$api" ]] || { echo "demo: the test server did not start" >&2; exit 1; }

export OBSIDIAN_API_URL="$api" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"
echo "== obsync login (test server at $api)"
"$build/obsync" login --email demo@example.com --password demo-password
echo "== obsync vaults"
"$build/obsync" vaults
echo "== obsync sync \"Demo vault\" --dest ./demo-vault"
rm -rf demo-vault
"$build/obsync" sync "Demo vault" --dest ./demo-vault --password "demo vault password"
echo "== a second run is incremental: nothing to download"
"$build/obsync" sync "Demo vault" --dest ./demo-vault --password "demo vault password"
echo "== obsync status"
"$build/obsync" status
# demo-vault/.obsync holds obsync's lock and the marker naming the vault (docs/cli.md).
echo "== diff -r -x .obsync demo/sample-vault demo-vault"
diff -r -x .obsync demo/sample-vault demo-vault && echo "identical: the backup matches the source vault"
