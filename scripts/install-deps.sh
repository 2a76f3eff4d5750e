#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages MODAX Cloud builds, runs and tests with,
# when any is missing. Safe to run again: it does nothing when all are there.
set -eu

PACKAGES="build-essential cmake pkg-config mosquitto mosquitto-clients libmosquitto-dev \
libsqlite3-dev sqlite3 libcjson-dev zlib1g-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
