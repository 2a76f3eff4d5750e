#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make run`: the embedded default on one machine. Starts Mosquitto (the
# project's broker config, port 1884 on loopback), `modax serve` with SQLite
# and a simulated fleet of 20 machines, shows data arriving, and on Ctrl-C
# stops everything cleanly. Data stays in var/ for the next run.
set -eu

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORT=$(sed -n 's/^mqtt.port *= *//p' conf/demo.conf)
export MODAX_CONFIG="$ROOT/conf/demo.conf"
MODAX="$BUILD/modax"

mkdir -p var/mosquitto
# The broker config with the demo's listener and persistence directory.
grep -v -e '^listener' -e '^persistence_location' conf/mosquitto.conf > var/mosquitto.conf
{
    echo "listener $PORT 127.0.0.1"
    echo "persistence_location $ROOT/var/mosquitto/"
    [ "$(id -u)" -eq 0 ] && echo "user root"
} >> var/mosquitto.conf

BROKER= SERVE= FLEET=
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "run: stopping (the fleet, then the ingest drains its spool, then the broker)"
    [ -n "$FLEET" ] && kill -TERM "$FLEET" 2>/dev/null && wait "$FLEET" 2>/dev/null || true
    [ -n "$SERVE" ] && kill -TERM "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null || true
    [ -n "$BROKER" ] && kill -TERM "$BROKER" 2>/dev/null && wait "$BROKER" 2>/dev/null || true
    echo "run: stopped; the data is kept in var/ (MODAX_CONFIG=conf/demo.conf $MODAX query ...)"
    exit 0
}
trap stop_all INT TERM EXIT

mosquitto -c var/mosquitto.conf > var/mosquitto.log 2>&1 &
BROKER=$!
sleep 0.5
if ! kill -0 "$BROKER" 2>/dev/null; then
    echo "run: mosquitto did not start (is port $PORT taken?); see var/mosquitto.log" >&2
    BROKER=
    exit 1
fi

"$MODAX" tenant add demo > /dev/null 2>&1 || true
rm -f var/serve.ready
"$MODAX" serve --ready-file var/serve.ready 2> var/serve.log &
SERVE=$!
i=0
while [ ! -f var/serve.ready ]; do
    sleep 0.1
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$SERVE" 2>/dev/null; then
        echo "run: modax serve did not start; see var/serve.log" >&2
        exit 1
    fi
done

"$BUILD/edge/modax-edge" --port "$PORT" --tenant demo --machines 20 \
    --client-id modax-edge-demo --quiet 2> var/fleet.log &
FLEET=$!

echo "run: broker 127.0.0.1:$PORT, ingest -> var/modax.db, 20 simulated machines (m-0001..m-0020)"
echo "run: logs in var/serve.log, var/fleet.log, var/mosquitto.log; Ctrl-C stops everything"
sleep 3
echo "run: latest temperature of m-0001:"
MODAX_LOG_LEVEL=error "$MODAX" query --tenant demo --device m-0001 --sensor temperature_mean \
    --from -10s | tail -n 3
echo "run: try: MODAX_CONFIG=conf/demo.conf $MODAX device show demo m-0001"
while kill -0 "$SERVE" 2>/dev/null; do
    sleep 10
    n=$(MODAX_LOG_LEVEL=error "$MODAX" query --tenant demo --device m-0001 \
        --sensor temperature_mean --from -10s | tail -n +2 | wc -l)
    echo "run: $(date -u +%H:%M:%S) m-0001 sent $n temperature readings in the last 10 s"
done
echo "run: modax serve exited; see var/serve.log" >&2
exit 1
