# SPDX-License-Identifier: Apache-2.0
# MODAX Cloud: the two commands of the README, plus bench and flavours.
#   make run    install what is missing, build, start the demo (Ctrl-C stops it)
#   make test   build normal and sanitized flavours and run the whole suite in both
#   make test-tsan  the tests that run threads (label "threads") under ThreadSanitizer
#   make fuzz   each fuzz target under libFuzzer (clang) for FUZZ_S seconds
#   make bench  run every benchmark; make bench-NAME ARGS='...' runs one
#   make soak   the service for SOAK_S seconds (3600) under a fleet and injected faults
#   make image  build the container image offline with buildah (docs/image.md)
#   make test-image  run modax serve from that image against Mosquitto and SQLite

BUILD      ?= build
BUILD_SAN  ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
FUZZ_S     ?= 60
JOBS       ?= $(shell nproc)
MAKEFLAGS  += --no-print-directory
CTEST_ARGS ?=

.PHONY: all deps web build build-san build-tsan build-fuzz test test-normal test-san test-tsan \
	fuzz run bench bench-nab soak clean check-src image test-image edge-size bench-edge

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_SAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_SAN) -DMODAX_SANITIZE=ON

$(BUILD_TSAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_TSAN) -DMODAX_TSAN=ON

$(BUILD_FUZZ)/CMakeCache.txt:
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DMODAX_LIBFUZZER=ON

# The dashboard (web/dist, served by `modax serve`): plain files, rebuilt in a moment.
web: deps
	@scripts/build-web.sh

build: deps web $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-san: deps web $(BUILD_SAN)/CMakeCache.txt
	cmake --build $(BUILD_SAN) -j $(JOBS)

build-tsan: deps web $(BUILD_TSAN)/CMakeCache.txt
	cmake --build $(BUILD_TSAN) -j $(JOBS)

# Only the fuzz targets (and libmodax) are built with clang.
build-fuzz: deps $(BUILD_FUZZ)/CMakeCache.txt
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzzers

test-normal: build
	cd $(BUILD) && ctest --output-on-failure -j 2 $(CTEST_ARGS)

test-san: build-san
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j 2 $(CTEST_ARGS)

# TSAN_OPTIONS (suppressions: tests/tsan.supp) come with each test from tests/CMakeLists.txt.
test-tsan: build-tsan
	cd $(BUILD_TSAN) && ctest --output-on-failure -j 2 -L threads $(CTEST_ARGS)

# Each target from its seed corpus (copied: libFuzzer adds what it finds to the first
# folder) for FUZZ_S seconds; one line each. A crash leaves its input in $(BUILD_FUZZ)/fuzz-out.
fuzz: build-fuzz
	@scripts/run-fuzz.sh $(BUILD_FUZZ) $(FUZZ_S)

check-src:
	@tools/checksrc

test: check-src test-normal test-san
	@echo "make test: normal and sanitized suites passed"

run: build
	@scripts/run-demo.sh $(BUILD)

# The image of Containerfile (MODAX_IMAGE, default localhost/modax:latest) and its test.
image: web
	@scripts/build-image.sh

test-image: image
	@tests/image/test_image.sh

bench: build
	@for b in $(BUILD)/bench/bench_*; do $$b || exit 1; done

# The whole NAB corpus through the shared scorer (a few minutes; not part of `make bench`).
bench-nab: build
	@bench/bench_nab $(BUILD)

# bench/soak.c: fleet, broker/PostgreSQL/service/Alertmanager/object-store faults, the books
# checked at the end; one line `soak: seconds= points= lost= ...`, non-zero exit on a failure.
SOAK_S ?= 3600
soak: build
	@SOAK_S=$(SOAK_S) $(BUILD)/bench/soak

bench-%: build
	@$(BUILD)/bench/bench_$* $(ARGS)

# The edge core cross-compiled for an ESP32-C3-class device: its size, and the limits checked.
edge-size:
	@edge/port/stub/cross-build.sh $(BUILD)/edge-cross

# The edge agent's one-hour-offline backfill against Mosquitto and modax serve.
bench-edge: build
	@$(BUILD)/edge/bench_edge $(ARGS)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_TSAN) $(BUILD_FUZZ)
