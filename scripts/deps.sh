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
    util-linux
    # The Lambda package (make build-lambda, docs/lambda.md "Package"): patchelf points the
    # binary at its bundled loader; arm64 is cross-built and its empty-root test runs under qemu.
    patchelf
    g++-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-user-static
)
# The arm64 package links the static archives of the arm64 -dev packages. Multi-Arch "same"
# packages must have equal versions on both architectures, so each of these is installed together
# with its host variant (one apt call) when either is missing.
paired=(libssl-dev libsqlite3-dev libutf8proc-dev libboost-json1.81-dev libboost1.81-dev)
# Interop tests (tests/interop): npm fetches the official client and Node 22. A Node with npm
# bundled (e.g. nodesource's nodejs) must not be replaced by Debian's nodejs/npm, so ask for those
# only when there is no npm at all.
if ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

# One dpkg-query for everything (quick when all is present): name:arch -> version, installed only.
host_arch=$(dpkg --print-architecture)
declare -A installed=()
while IFS=$'\t' read -r name arch status version; do
    if [[ "$status" == "install ok installed" ]]; then installed["$name:$arch"]=$version; fi
done < <(dpkg-query -W -f='${Package}\t${Architecture}\t${Status}\t${Version}\n' \
    "${packages[@]}" "${paired[@]}" "${paired[@]/%/:arm64}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
    if [[ -z ${installed["$p:$host_arch"]+x} && -z ${installed["$p:all"]+x} ]]; then
        missing+=("$p")
    fi
done

add_arm64=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    add_arm64=1
fi
for p in "${paired[@]}"; do
    host=${installed["$p:$host_arch"]-none}
    arm=${installed["$p:arm64"]-none}
    if [[ "$host" == none || "$arm" == none || "$host" != "$arm" ]]; then
        missing+=("$p" "$p:arm64")
    fi
done

# The AWS tests need moto_server (an AWS emulator; Python). It is not a Debian package: when it
# is missing, try pip (it may have no network: then say what to do instead of failing later).
if [[ -z ${OBSYNC_MOTO_SERVER:-} ]] && ! command -v moto_server >/dev/null; then
    echo "deps: moto_server not found, trying: pip install 'moto[server]'" >&2
    if ! python3 -m pip install --quiet 'moto[server]' >&2; then
        echo "deps: could not install moto; install it with pip install 'moto[server]' or point" \
            "OBSYNC_MOTO_SERVER at a moto_server binary (the AWS tests need it)" >&2
        exit 1
    fi
fi

# The deploy targets (make deploy-lambda, deploy-infrastructure, invoke-lambda) and their tests need
# the AWS CLI, one that honours AWS_ENDPOINT_URL (the tests point it at moto): Debian's awscli
# (2.9) does not, pip's awscli (v1) does. Not fatal: only those targets and tests need it.
if ! command -v aws >/dev/null; then
    echo "deps: aws not found, trying: pip install awscli" >&2
    python3 -m pip install --quiet awscli >&2 ||
        echo "deps: could not install the AWS CLI (pip install awscli): the deploy targets need it;" \
            "their tests will be skipped" >&2
fi

# The template tests (tests/deploy) need cfn-lint and aws-sam-translator (Python, not Debian).
if ! command -v cfn-lint >/dev/null || ! python3 -c 'import samtranslator' 2>/dev/null; then
    echo "deps: cfn-lint or aws-sam-translator not found, trying: pip install cfn-lint aws-sam-translator" >&2
    if ! python3 -m pip install --quiet cfn-lint aws-sam-translator >&2; then
        echo "deps: could not install them; install with pip install cfn-lint aws-sam-translator" \
            "(the deploy tests need them)" >&2
        exit 1
    fi
fi

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ((add_arm64)); then
    $sudo dpkg --add-architecture arm64
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
