# SPDX-License-Identifier: MIT
# switchboard: a thin wrapper over CMake.
#   make          build            make run     build and run the gateway
#   make test     every test       make bench   the benchmark (not a test)
#   make fuzz     run the fuzzers  make clean
#
# Build directories:
#   $(BUILD)      the gateway alone, what `make run` builds: it needs only
#                 the runtime packages (scripts/install-deps)
#   $(TESTBUILD)  the same with the unit tests, the fake provider and the
#                 benchmark's programs (cmocka, jansson: install-deps --test)
#   $(ASAN)       the test build under AddressSanitizer + UBSan
#   $(FUZZDIR)    the libFuzzer drivers
BUILD     ?= build
TESTBUILD ?= build-test
ASAN      ?= build-asan
FUZZDIR   ?= build-fuzz
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
ARGS      ?=
FUZZ_SECONDS ?= 60

.PHONY: all build run test test-runtime-build test-unit test-asan test-e2e \
        test-e2e-asan test-binaries asan-binaries bench fuzz clean deps

all: build

deps:
	@scripts/install-deps

# The runtime build: never asks for a test-only package.
$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_TESTS=OFF $(CMAKE_ARGS) >/dev/null

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(abspath $(BUILD))/switchboard serve $(ARGS)

test:
	@scripts/install-deps --test
	$(MAKE) --no-print-directory test-runtime-build
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-e2e
	$(MAKE) --no-print-directory test-e2e-asan

# `make run`'s build configured, built and started with the test-only
# packages hidden from pkg-config (a fresh build in a temporary directory).
test-runtime-build:
	JOBS=$(JOBS) scripts/check-runtime-build

# Configured on every call (a second or so): the options below hold even
# in a directory that was configured otherwise before.
test-binaries:
	cmake -S . -B $(TESTBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_TESTS=ON -DSB_WERROR=ON >/dev/null
	cmake --build $(TESTBUILD) -j $(JOBS)

asan-binaries:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DSB_TESTS=ON -DSB_SANITIZE=ON -DSB_WERROR=ON >/dev/null
	cmake --build $(ASAN) -j $(JOBS)

test-unit: test-binaries
	cd $(TESTBUILD) && ctest --output-on-failure -j $(JOBS)

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: asan-binaries
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

test-e2e: test-binaries
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	cd tests/e2e && SWITCHBOARD_BIN=$(abspath $(TESTBUILD))/switchboard \
	  FAKE_PROVIDER_BIN=$(abspath $(TESTBUILD))/fake_provider \
	  node --test --test-concurrency=1 --test-timeout=120000 *.test.mjs

# The end-to-end suite again, against the sanitizer build of the gateway.
test-e2e-asan: asan-binaries
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	cd tests/e2e && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  SWITCHBOARD_BIN=$(abspath $(ASAN))/switchboard \
	  FAKE_PROVIDER_BIN=$(abspath $(ASAN))/fake_provider \
	  node --test --test-concurrency=1 --test-timeout=120000 *.test.mjs

bench:
	@scripts/install-deps --bench
	$(MAKE) --no-print-directory test-binaries
	bench/run.sh $(TESTBUILD)

fuzz:
	@scripts/install-deps --test
	CC=clang cmake -S . -B $(FUZZDIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_FUZZ=ON -DSB_TESTS=OFF >/dev/null
	cmake --build $(FUZZDIR) -j $(JOBS)
	tests/fuzz/run.sh $(FUZZDIR) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(ASAN) $(FUZZDIR)

# ---- installation and packaging (docs/packaging.md) -------------------------
#   make install     the binary, man pages, bash completion, systemd unit and
#                    docs under PREFIX; /etc/switchboard/switchboard.yaml and
#                    /etc/default/switchboard where absent (all under DESTDIR)
#   make uninstall   the same files away (edited ones in /etc are kept)
#   make deb         the Debian package, $(BUILD)/switchboard_VERSION_ARCH.deb
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: install uninstall deb

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

uninstall: build
	scripts/uninstall $(BUILD) "$(PREFIX)" "$(DESTDIR)"

deb: build
	@scripts/install-deps --deb
	scripts/build-deb $(BUILD)
