# SPDX-License-Identifier: Apache-2.0
# MODAX Cloud: the two commands of the README, plus bench and flavours.
#   make run    install what is missing, build, start the demo (Ctrl-C stops it)
#   make test   build normal and sanitized flavours and run the whole suite in both
#   make bench  run every benchmark; make bench-NAME ARGS='...' runs one

BUILD      ?= build
BUILD_SAN  ?= build-asan
JOBS       ?= $(shell nproc)
MAKEFLAGS  += --no-print-directory
CTEST_ARGS ?=

.PHONY: all deps web build build-san test test-normal test-san run bench bench-nab clean check-src

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_SAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_SAN) -DMODAX_SANITIZE=ON

# The dashboard (web/dist, served by `modax serve`): plain files, rebuilt in a moment.
web: deps
	@scripts/build-web.sh

build: deps web $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-san: deps web $(BUILD_SAN)/CMakeCache.txt
	cmake --build $(BUILD_SAN) -j $(JOBS)

test-normal: build
	cd $(BUILD) && ctest --output-on-failure -j 2 $(CTEST_ARGS)

test-san: build-san
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j 2 $(CTEST_ARGS)

check-src:
	@tools/checksrc

test: check-src test-normal test-san
	@echo "make test: normal and sanitized suites passed"

run: build
	@scripts/run-demo.sh $(BUILD)

bench: build
	@for b in $(BUILD)/bench/bench_*; do $$b || exit 1; done

# The whole NAB corpus through the shared scorer (a few minutes; not part of `make bench`).
bench-nab: build
	@bench/bench_nab $(BUILD)

bench-%: build
	@$(BUILD)/bench/bench_$* $(ARGS)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
