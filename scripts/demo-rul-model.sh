#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The demo's remaining-useful-life model, used by `make run` (run-demo.sh) and
# by its test (tests/integration/test_rul_demo_model.c), so both have the same:
#   scripts/demo-rul-model.sh BUILD DIR LIFE_H
# Trains DIR/VERSION.json (+ .manifest.json) once, then prints VERSION
# (demo-sim-life<LIFE_H>h). The data: 6 machines of another fleet than the
# demo's (seed 1001) with the demo's machine life of LIFE_H simulated hours,
# run to failure 3 times each by the simulator (modax-edge --histories: no
# broker, deterministic), one row per minute as the live stage makes them
# (rul.row_interval_s 60). `modax train` (libxgboost): windows of 30 rows,
# predictions from 3 rows of history on, the target capped at one life, 3-fold
# cross-validation by machine. A few seconds; the report is DIR/train.log.
set -eu
BUILD=$1 DIR=$2 LIFE_H=$3
VERSION="demo-sim-life${LIFE_H}h"
BASE="$DIR/$VERSION"
if [ ! -s "$BASE.json" ] || [ ! -s "$BASE.manifest.json" ]; then
    mkdir -p "$DIR"
    "$BUILD/edge/modax-edge" --histories "$DIR/histories.csv" --prefix sim- --machines 6 \
        --seed 1001 --life "$LIFE_H" --lives 3 --quiet
    if ! "$BUILD/modax" train --data "$DIR/histories.csv" --format csv --window 30 \
            --min-rows 3 --cap "$(awk "BEGIN { print int($LIFE_H * 60) }")" --folds 3 \
            --rounds 200 --version "$VERSION" --out "$BASE" > "$DIR/train.log" 2>&1; then
        rm -f "$BASE.json" "$BASE.manifest.json"
        echo "demo-rul-model: modax train failed; see $DIR/train.log" >&2
        exit 1
    fi
fi
echo "$VERSION"
