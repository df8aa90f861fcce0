#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the benchmarks and the tools need.
# Idempotent and quick when everything is present: apt runs only for what is missing.
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config ccache
    libboost1.81-dev libboost-json1.81-dev
    libssl-dev openssl
    libutf8proc-dev
    libcli11-dev libspdlog-dev libfmt-dev
    libsqlite3-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    clang-format clang-tidy
    time
    python3 iproute2
)
# Interop tests (tests/interop): npm fetches the official client and Node 22. A Node with npm
# bundled (e.g. nodesource's nodejs) must not be replaced by Debian's nodejs/npm, so ask for those
# only when there is no npm at all.
if ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
