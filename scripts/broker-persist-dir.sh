#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# broker-persist-dir.sh DIR [USER]: makes Mosquitto's persistence_location
# usable before the broker starts. Mosquitto started as root drops to user
# `mosquitto` (or the config's `user`), and cannot save its queue and
# sessions into a root-owned folder: it only logs "Permission denied" at
# save time, and a restart then loses what was queued for the ingest.
# So: create DIR (mode 0700), give it and what it holds to USER (default
# mosquitto) when run as root, and check that USER can write there, by
# writing a file as USER. Exits 1 with the reason when USER cannot.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [USER]" >&2
    exit 2
fi
DIR=$1
OWNER=${2:-mosquitto}

mkdir -p "$DIR"
if [ "$(id -u)" -eq 0 ]; then
    chown -R "$OWNER" "$DIR"
fi
chmod 700 "$DIR"

probe="$DIR/.write-check.$$"
if [ "$(id -un)" = "$OWNER" ]; then
    ok=0
    (: > "$probe") 2> /dev/null && ok=1
elif [ "$(id -u)" -eq 0 ]; then
    ok=0
    runuser -u "$OWNER" -- sh -c ': > "$1"' sh "$probe" 2> /dev/null && ok=1
else
    echo "$0: cannot check $DIR for user $OWNER as $(id -un); run as root or as $OWNER" >&2
    exit 1
fi
rm -f "$probe"
if [ "$ok" -ne 1 ]; then
    echo "$0: user $OWNER cannot write $DIR (a folder above it may not let $OWNER through);" \
        "the broker could not save its queue there" >&2
    exit 1
fi
