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
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
