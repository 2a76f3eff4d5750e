#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Cross-compiles edge/core (and edge/sim) for an ESP32-C3-class
# microcontroller (rv32imc, ilp32, picolibc) against the stub port, links
# a firmware image, and prints
#   edge-size: text=T data=D bss=B
# for the core's objects (riscv64-unknown-elf-size), then checks the
# limits: core text <= 64 KiB, static RAM (data + bss of the whole image,
# the agent's state and buffers included, libc too) <= 16 KiB, no heap
# (malloc and friends must not be linked) and nothing beyond libc.
# Usage: cross-build.sh OUTDIR. Exit 0 when it builds within the limits.
set -eu
out=${1:?usage: cross-build.sh OUTDIR}
edge=$(cd "$(dirname "$0")/../.." && pwd)
root=$(cd "$edge/.." && pwd)
CC=riscv64-unknown-elf-gcc
SIZE=riscv64-unknown-elf-size
TEXT_MAX=65536
RAM_MAX=16384

if ! command -v $CC >/dev/null 2>&1; then
    echo "cross-build: $CC missing: run scripts/install-deps.sh (gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf)" >&2
    exit 1
fi
mkdir -p "$out"
rm -f "$out"/*.o "$out"/libedgecore.a
FLAGS="--specs=picolibc.specs -march=rv32imc -mabi=ilp32 -Os -std=c11 -Wall -Wextra -Werror \
-ffunction-sections -fdata-sections -DMDX_EDGE_MAX_FAULTS=4 -I$edge/core -I$edge/sim -I$root/include"
for src in "$edge"/core/*.c "$edge"/sim/*.c; do
    # shellcheck disable=SC2086
    $CC $FLAGS -c "$src" -o "$out/$(basename "$src" .c).o"
done
riscv64-unknown-elf-ar rcs "$out/libedgecore.a" "$out"/*.o
# shellcheck disable=SC2086
# picolibc's default memory map gives flash 64 KiB; an ESP32-C3 has 4 MiB, and the
# image (core + picolibc's printf) passed 64 KiB once the connection profiles came in.
$CC $FLAGS -Wl,--gc-sections -Wl,--defsym=__flash_size=0x400000 -Wl,-Map="$out/firmware.map" \
    -o "$out/firmware.elf" \
    "$edge/port/stub/port_stub.c" "$out/libedgecore.a" -lm

# Core: every object of the archive, summed.
$SIZE "$out/libedgecore.a" | awk 'NR > 1 { t += $1; d += $2; b += $3 }
    END { printf "edge-size: text=%d data=%d bss=%d\n", t, d, b }' | tee "$out/core.size"
img=$($SIZE "$out/firmware.elf" | awk 'NR == 2 { print $1, $2, $3 }')
set -- $img
echo "edge-size: firmware image (core + stub port + picolibc): text=$1 data=$2 bss=$3"
core_text=$(sed 's/.*text=\([0-9]*\).*/\1/' "$out/core.size")
fail=0
if [ "$core_text" -gt $TEXT_MAX ]; then
    echo "cross-build: core text $core_text > $TEXT_MAX" >&2
    fail=1
fi
if [ $(($2 + $3)) -gt $RAM_MAX ]; then
    echo "cross-build: static RAM $(($2 + $3)) > $RAM_MAX" >&2
    fail=1
fi
if riscv64-unknown-elf-nm "$out/firmware.elf" | grep -E ' T (malloc|calloc|realloc|free)$' >&2; then
    echo "cross-build: the image links a heap allocator" >&2
    fail=1
fi
exit $fail
