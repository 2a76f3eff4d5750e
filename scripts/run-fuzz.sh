#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs each libFuzzer target of a MODAX_LIBFUZZER build (`make fuzz`) for a
# number of seconds, starting from a copy of its seed corpus, and prints one
# line per target:
#   fuzz: target=NAME execs_per_s=N coverage=N crashes=N
# (coverage: the code edges libFuzzer reached). Targets run one at a time,
# niced: the machine is shared.
# A crashing input is kept in BUILD/fuzz-out/NAME/. Exits non-zero when any
# target crashed or did not run.
#   usage: scripts/run-fuzz.sh BUILD_DIR SECONDS
set -eu
cd "$(dirname "$0")/.."
build=${1:?usage: run-fuzz.sh BUILD_DIR SECONDS}
secs=${2:-60}
status=0

for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    exe="$build/tests/$name"
    out="$build/fuzz-out/$name"
    rm -rf "$out"
    mkdir -p "$out/corpus" "$out/crashes"
    [ -d "tests/fuzz/corpus/$name" ] && cp "tests/fuzz/corpus/$name"/* "$out/corpus/" 2>/dev/null
    if [ ! -x "$exe" ]; then
        echo "fuzz: target=$name execs_per_s=0 coverage=0 crashes=0 (not built: $exe)"
        status=1
        continue
    fi
    # -fork would keep going after a crash; one process keeps the exec rate honest
    # on a small machine. A crash ends the run early with its input in crashes/.
    nice "$exe" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/crashes/" \
        "$out/corpus" >"$out/log" 2>&1 || true
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9][0-9]*\) .*/\1/p' "$out/log" | tail -n 1)
    crashes=$(find "$out/crashes" -type f | wc -l)
    echo "fuzz: target=$name execs_per_s=${execs:-0} coverage=${cov:-0} crashes=$crashes"
    if [ "$crashes" -ne 0 ] || [ -z "$execs" ]; then
        echo "  see $out/log" >&2
        status=1
    fi
done
exit $status
