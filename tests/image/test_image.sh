#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make test-image: the image of Containerfile (built by make image) runs MODAX.
# Starts `modax serve` from the image (buildah run, chroot isolation, host network)
# as its non-root user against a Mosquitto and a SQLite file outside it (the file in
# a host folder mounted in, the spool and /tmp mounted as the Deployments do), and
# checks: /healthz and /readyz answer 200, the dashboard is served, a reading
# published to the broker is stored and read back, serve wrote
# nothing into the image's own file system (so a read-only root works), every
# program finds its shared libraries, and the image is the commit checked out
# (its revision label and `modax --version`).
# Environment: MODAX_IMAGE (default localhost/modax:latest). Needs root, buildah,
# mosquitto, mosquitto_pub, curl and ss.
set -eu
cd "$(dirname "$0")/../.."

IMAGE=${MODAX_IMAGE:-localhost/modax:latest}
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
die() { echo "test-image: $*" >&2; exit 1; }
# check OK-TEXT FAIL-TEXT COMMAND...: one verdict on COMMAND's status.
check() {
    ok_text=$1 fail_text=$2; shift 2
    if "$@"; then pass "$ok_text"; else fail "$fail_text"; fi
}

for tool in buildah mosquitto mosquitto_pub curl ss; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (scripts/install-deps.sh)"
done
buildah inspect --type image "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE: run make image"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/modax-image-test.XXXXXX")
broker_pid=""
serve_pid=""
ctr=""
cleanup() {
    [ -z "$serve_pid" ] || kill -KILL "-$serve_pid" 2>/dev/null || true
    [ -z "$broker_pid" ] || kill "$broker_pid" 2>/dev/null || true
    [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
    if [ "$failures" -eq 0 ]; then
        rm -rf "$scratch"
    else
        echo "test-image: logs kept in $scratch"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A loopback TCP port nobody listens on (checked again by the start-up waits below).
free_port() {
    while :; do
        p=$(( $(od -An -N2 -tu2 /dev/urandom) % 30000 + 20000 ))
        ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}
# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds or time is up.
wait_for() {
    limit=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$limit" ] || return 1
        sleep 0.2
    done
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$api_port$1"; }
answers_200() { [ "$(http_code "$1")" = 200 ]; }
listening() { ss -Hltn "sport = :$1" | grep -q .; }
# exited PID: the child is gone or a zombie waiting for `wait` (kill -0 still finds those).
exited() { s=$(ps -o stat= -p "$1" || true); [ -z "$s" ] || [ "${s#Z}" != "$s" ]; }

# ---- what the image is built from -------------------------------------------------
commit=$(git rev-parse HEAD)
expected=$commit
git diff --quiet HEAD -- || expected="$commit-dirty"
label=$(buildah inspect --type image \
    --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.revision"}}' "$IMAGE")
if [ "$label" = "$expected" ]; then
    pass "image label revision is the checkout ($label)"
else
    fail "image label revision '$label', checkout is '$expected' (run make image)"
fi

ctr=$(buildah from --pull=never --quiet "$IMAGE")
run() { buildah run --isolation chroot --network host "$@"; }

uid=$(run "$ctr" -- id -u)
check "runs as uid 10001 (deploy/k8s runAsUser)" "runs as uid '$uid', not 10001" [ "$uid" = 10001 ]

missing=$(run "$ctr" -- sh -c 'ldd /usr/bin/modax /usr/bin/modax-edge /usr/lib/modax/modax_auth.so' |
    grep 'not found' || true)
check "modax, modax-edge and modax_auth.so find their libraries" "missing libraries: $missing" \
    [ -z "$missing" ]

for prog in modax modax-edge; do
    path=$(run "$ctr" -- sh -c "command -v $prog" || true)
    check "$prog on PATH" "$prog not on PATH ('$path')" [ "$path" = "/usr/bin/$prog" ]
done
if run "$ctr" -- test -f /usr/share/modax/web/index.html; then
    pass "dashboard in /usr/share/modax/web"
else
    fail "no /usr/share/modax/web/index.html"
fi

version=$(run "$ctr" -- modax --version 2>"$scratch/version.err" || true)
[ -n "$version" ] || version="(nothing; stderr: $(head -1 "$scratch/version.err"))"
# Any run of 7 to 40 hex digits in it that starts the commit (full or abbreviated).
names_commit() {
    for hex in $(printf '%s\n' "$version" | grep -o -E '[0-9a-f]{7,40}'); do
        [ "${commit#"$hex"}" = "$commit" ] || return 0
    done
    return 1
}
if names_commit; then
    pass "modax --version reports the commit ($version)"
else
    fail "modax --version names no commit $commit: '$version'"
fi

# ---- modax serve from the image against a Mosquitto and SQLite outside it ---------
mkdir -p "$scratch/broker" "$scratch/data" "$scratch/spool" "$scratch/tmp"
chown 10001:10001 "$scratch/data" "$scratch/spool"
chmod 1777 "$scratch/tmp"
broker_port=$(free_port)
cat >"$scratch/broker/mosquitto.conf" <<EOF
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $scratch/broker/mosquitto.log
EOF
[ "$(id -u)" -ne 0 ] || echo "user root" >>"$scratch/broker/mosquitto.conf"
mosquitto -c "$scratch/broker/mosquitto.conf" >"$scratch/broker/stderr.log" 2>&1 &
broker_pid=$!
wait_for 20 listening "$broker_port" || die "mosquitto did not listen on $broker_port"

# The store (the SQLite file in the host folder) with a tenant, made by the image's modax.
data_run() {
    run --volume "$scratch/data:/var/lib/modax/data" \
        --env MODAX_STORE_SQLITE_PATH=/var/lib/modax/data/modax.db "$ctr" -- "$@"
}
data_run modax tenant add imagetest >"$scratch/tenant.log" 2>&1 ||
    fail "modax tenant add in the image: $(tail -1 "$scratch/tenant.log")"

api_port=$(free_port)
setsid buildah run --isolation chroot --network host \
    --volume "$scratch/data:/var/lib/modax/data" \
    --volume "$scratch/spool:/var/lib/modax/spool" \
    --volume "$scratch/tmp:/tmp" \
    --env MODAX_MQTT_HOST=127.0.0.1 --env MODAX_MQTT_PORT="$broker_port" \
    --env MODAX_API_LISTEN=127.0.0.1 --env MODAX_API_PORT="$api_port" \
    --env MODAX_STORE_SQLITE_PATH=/var/lib/modax/data/modax.db \
    --env MODAX_MQTT_CLIENT_ID="image-test-$$" --env MODAX_INGEST_AUTO_REGISTER=true \
    "$ctr" -- modax serve >"$scratch/serve.log" 2>&1 &
serve_pid=$!

if wait_for 60 answers_200 /healthz; then
    pass "GET /healthz 200"
else
    fail "GET /healthz: $(http_code /healthz) (log: $scratch/serve.log)"
fi
if wait_for 30 answers_200 /readyz; then
    pass "GET /readyz 200 (broker and store reachable)"
else
    fail "GET /readyz: $(http_code /readyz)"
fi
page=$(curl -s --max-time 2 "http://127.0.0.1:$api_port/" || true)
case "$page" in
    *"<html"*|*"<!DOCTYPE"*|*"<!doctype"*) pass "GET / serves the dashboard" ;;
    *) fail "GET / is not the dashboard" ;;
esac
check "SQLite store in the host folder mounted in" "no $scratch/data/modax.db" \
    [ -s "$scratch/data/modax.db" ]

# One reading through the outside broker into the outside store, read back with the
# image's `modax query`.
stored() {
    data_run modax query --tenant imagetest --device m-1 --sensor temperature --from -1h 2>/dev/null |
        grep -q '21\.5'
}
mosquitto_pub -h 127.0.0.1 -p "$broker_port" -q 1 -t modax/imagetest/m-1/sensor_data \
    -m '{"device_id":"m-1","sensor_data":{"temperature":21.5}}'
check "a reading published to the broker is stored and queried back" \
    "the reading published to modax/imagetest/m-1/sensor_data was not stored within 30 s" \
    wait_for 30 stored

# Stop serve as Kubernetes stops a pod: SIGTERM to modax itself (buildah's chroot
# runtime answers a SIGTERM of its own with SIGKILL to its child). Then look at the
# container's own layer: with a read-only root, anything written there would have
# failed. buildah run itself writes /etc/hosts, /etc/resolv.conf, /etc/hostname and
# /run/.containerenv.
modax_pid=$(ps -o pid=,comm= -g "$serve_pid" | awk '$2 == "modax" { print $1; exit }')
[ -n "$modax_pid" ] || die "no modax process in the group of buildah run ($serve_pid)"
kill -TERM "$modax_pid"
if wait_for 30 exited "$serve_pid"; then
    wait "$serve_pid" 2>/dev/null && rc=0 || rc=$?
    serve_pid=""
    check "serve stops with status 0 on SIGTERM" "serve exited with status $rc on SIGTERM" \
        [ "$rc" -eq 0 ]
else
    fail "serve still running 30 s after SIGTERM"
fi
mnt=$(buildah mount "$ctr")
layer=$(dirname "$mnt")/diff
if [ -d "$layer" ]; then
    written=$(find "$layer" ! -type d -printf '/%P\n' |
        grep -v -E '^/(etc/hosts|etc/resolv\.conf|etc/hostname|run/\.containerenv)$' || true)
    check "serve wrote nothing outside its volumes (read-only root works)" \
        "serve wrote into the image's file system: $written" [ -z "$written" ]
else
    echo "skip read-only check: storage driver without an overlay diff folder"
fi
buildah umount "$ctr" >/dev/null

size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
echo "test-image: $IMAGE is $size"
if [ "$failures" -ne 0 ]; then
    echo "test-image: $failures check(s) failed"
    tail -20 "$scratch/serve.log" 2>/dev/null || true
    exit 1
fi
echo "test-image: all checks passed"
