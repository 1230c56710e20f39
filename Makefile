# Dynatroni developer entry points. `make` alone prints the help.
#
# Every target installs or builds what it needs first (via `deps` and `build`),
# so `make test` and `make demo` work on a fresh Debian 12 machine (as root, or
# with sudo for apt-get).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The virtualenv lives outside the checkout and is built from Debian's Python so
# that the `postgres` user (which runs PostgreSQL and Patroni in the tests) can
# execute it wherever the repository is cloned.
VENV ?= /var/lib/dynatroni/venv
SYSTEM_PYTHON ?= /usr/bin/python3
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
# `make fuzz`: seconds per target (CI); `make fuzz-long FUZZ_SECONDS=...`.
FUZZ_SHORT_SECONDS ?= 10
FUZZ_SECONDS ?= 600
PY := $(VENV)/bin/python
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# What `pip install .` needs to build the core, one package a line: the list docs/install.md shows (python/tests/
# test_docs.py checks it) and `make source-check` installs alone into a fresh Debian 12 chroot to build there. No
# python3-dev: the core is a C ABI library loaded with ctypes, and no PyPI package of $(LOCK) compiles C at install
# (each with C in it comes as a manylinux wheel).
BUILD_PACKAGES := $(shell sed 's/\#.*//' packaging/source/build-deps.txt)
APT_PACKAGES := $(BUILD_PACKAGES) libgtest-dev googletest clang libclang-rt-dev clang-format clang-tidy \
  python3-venv postgresql patroni \
  python3-pytest python3-boto3 faketime etcd-server dpkg-dev prometheus
VENV_STAMP := $(VENV)/.dynatroni-deps
# The virtualenv is built from the lock alone: every PyPI package pinned with its hashes, compiled from
# requirements-dev.txt by `make lock` (pip-tools, in a throwaway virtualenv) for $(SYSTEM_PYTHON).
LOCK := requirements-dev.lock
PIP_TOOLS_VERSION := 7.7.0
# `make lock UPGRADE=all` moves every pin to the newest release requirements-dev.txt allows,
# `make lock UPGRADE="moto boto3"` only those; plain `make lock` keeps the pins that still fit.
UPGRADE ?=
NPM_STAMP := node_modules/.dynatroni-deps

CLANG_FORMAT ?= clang-format
CLANG_TIDY ?= clang-tidy
RUN_CLANG_TIDY ?= run-clang-tidy
# Our C++ sources (never third-party or generated trees).
CXX_SOURCES = $(shell find . \( -path ./.git -o -path ./node_modules -o -path './build*' -o -path './.venv*' \
  -o -path ./dist -o -path ./demo-data -o -path '*/testdata' -o -name site-packages \) -prune -o \
  \( -name '*.h' -o -name '*.cc' \) -type f -print | sort)
# clang-tidy runs on these (regex over compile_commands.json); TIDY_TESTS=1 adds the tests.
TIDY_TESTS ?= 0
TIDY_DIRS := core|http|aws|dynamodb|dcs|cli|testing|examples|bench|python/src
ifeq ($(TIDY_TESTS),1)
TIDY_REGEX := $(CURDIR)/($(TIDY_DIRS))/.*\.cc$$
else
TIDY_REGEX := $(CURDIR)/($(TIDY_DIRS))/.*(?<!_test)(?<!_itest)\.cc$$
endif

CMAKE_PY_FLAGS = -DPython3_EXECUTABLE=$(abspath $(PY)) -DPython_EXECUTABLE=$(abspath $(PY))
# bg:STAGE runs beside the stages after it (tools/run_stages.sh): clang-tidy, CPU-bound (about 540 CPU-seconds),
# at nice 19 beside the Python and cluster tests, which mostly wait on servers and clusters.
TEST_STAGES := deps lint-format build ctest build-asan test-asan build-tsan test-tsan fuzz python-install bg:lint-tidy \
  test-python test-python-302 test-e2e

.PHONY: help deps deps-apt lock build build-asan build-tsan test ctest test-asan test-tsan python-install test-python test-python-302 test-e2e test-e2e-dynalite \
  lint lint-format lint-tidy format demo bench wheel wheels wheels-check dist dist-check deb clean distclean chaos chaos-short

help:
	@echo "Dynatroni - DynamoDB-backed DCS for Patroni"
	@echo
	@echo "  make demo       3-node Patroni+PostgreSQL cluster on a local DynamoDB; crash the leader; print the failover time"
	@echo "  make test       everything CI runs: format check, build, C++ unit + integration tests,"
	@echo "                  ASan/UBSan unit tests, TSan tests, pip install ., Python tests (Patroni 4.1 and Debian's 3.0.2),"
	@echo "                  3-node cluster tests (test-e2e), clang-tidy (lint-tidy, beside the Python tests);"
	@echo "                  stops at the first failing stage"
	@echo
	@echo "  make deps       install Debian, PyPI ($(VENV), from $(LOCK)) and npm dependencies (idempotent)"
	@echo "  make lock       recompile $(LOCK) from requirements-dev.txt (UPGRADE=all or UPGRADE=\"pkg ...\" to move pins)"
	@echo "  make build      configure + build into $(BUILD) ($(BUILD_TYPE), Ninja)"
	@echo "  make build-asan unit tests with ASan/UBSan into $(ASAN_BUILD)"
	@echo "  make test-tsan  the tests of the threaded parts under ThreadSanitizer (built into $(TSAN_BUILD); part of make test)"
	@echo "  make fuzz       libFuzzer targets (clang) into $(FUZZ_BUILD), $(FUZZ_SHORT_SECONDS)s each (part of make test)"
	@echo "  make fuzz-long  the same, FUZZ_SECONDS=$(FUZZ_SECONDS) each (see fuzz/README.md)"
	@echo "  make lint       clang-format check + clang-tidy (lint-format, lint-tidy; TIDY_TESTS=1 to include tests)"
	@echo "  make format     clang-format -i on every C++ source"
	@echo "  make bench      build, then run the benchmarks (bench/run.sh)"
	@echo "  make chaos      fault injection on a 3-node cluster (all 15 faults, 12+ min); rewrites docs/reliability.md results"
	@echo "  make chaos-short  the CI subset (kill -9, throttling + dropped replies, a clock step on the sync standby; ~2.5 min)"
	@echo "  make test-e2e-dynalite  the cluster tests (test-e2e) and the clock tests on dynalite instead of moto"
	@echo "                  (DYNATRONI_E2E_BACKEND=dynalite; not part of make test; ~12 min; docs/reliability.md)"
	@echo "  make wheel      build a wheel into dist/ (isolated build, as pip does)"
	@echo "  make dist       python -m build: sdist + wheel into dist/ (compiles the C++ core, ~10 min)"
	@echo "  make wheels     the portable manylinux_2_31 wheel into $(WHEELS_DIR), built in a bullseye chroot (root;"
	@echo "                  not part of make test; docs/install.md, \"Portable wheels\"); TESTS=1 also builds and runs the unit tests there"
	@echo "  make wheels-check  make wheels, then pip install it into fresh bullseye, bookworm and trixie chroots"
	@echo "                  (no compiler) and run the plugin conformance tests in each"
	@echo "  make dist-check make dist, then install the wheel into a fresh virtualenv and run the plugin tests"
	@echo "  make source-check  pip install . in a fresh Debian 12 chroot with only the documented build dependencies"
	@echo "                  (no python3-dev), then the plugin conformance tests and pip uninstall (root; not part of make test)"
	@echo "  make wheels-arm64  the core, its unit tests and the dynatroni command cross-built for aarch64 in a bullseye"
	@echo "                  chroot and run under qemu-aarch64-static (root; not part of make test; docs/install.md)"
	@echo "  make deb        $(DEB_DIR)/dynatroni_<version>_amd64.deb for Debian's patroni package (from the python-install wheel; lintian)"
	@echo "  make clean      remove build trees;  make distclean  also $(VENV) and node_modules"
	@echo
	@echo "Variables: VENV=$(VENV) BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) TSAN_BUILD=$(TSAN_BUILD) JOBS=$(JOBS)"

# ---------------------------------------------------------------- dependencies

deps: deps-apt $(VENV_STAMP) $(NPM_STAMP)

# Debian packages: apt-get runs only when something is missing.
deps-apt:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else \
	  echo "deps: Debian packages present"; \
	fi

# Python tools in a virtualenv (PyPI only), exactly as the lock pins them: hashes checked, nothing resolved.
$(VENV_STAMP): $(LOCK) | deps-apt
	@test -x $(PY) || { mkdir -p $(dir $(VENV)) && $(SYSTEM_PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -q --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip check
	chmod -R a+rX $(VENV) && chmod a+x $(dir $(VENV))
	@touch $@

# Recompiles the lock from requirements-dev.txt with pip-tools from a throwaway virtualenv (never the project's).
# Upgrading the lock is deliberate: its own commit, after `make test` passed on it.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(SYSTEM_PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/pip" install --disable-pip-version-check --progress-bar off -q 'pip-tools==$(PIP_TOOLS_VERSION)' && \
	CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links \
	  $(if $(filter all,$(UPGRADE)),--upgrade,$(addprefix --upgrade-package ,$(UPGRADE))) \
	  --output-file $(LOCK) requirements-dev.txt
	@echo "lock: $(LOCK) has $$(grep -c '^[a-z0-9]' $(LOCK)) pinned packages"

# dynalite from the npm registry, exactly as package-lock.json pins it.
$(NPM_STAMP): package.json package-lock.json | deps-apt
	npm ci --no-audit --no-fund
	@touch $@

# ---------------------------------------------------------------- build

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DDYNATRONI_BUILD_PYTHON=ON $(CMAKE_PY_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDYNATRONI_SANITIZE=ON \
	  -DDYNATRONI_BUILD_CLI=OFF -DDYNATRONI_BUILD_BENCH=OFF -DDYNATRONI_BUILD_PYTHON=OFF $(CMAKE_PY_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS) --target dynatroni_unit_tests

# The unit tests under ThreadSanitizer (-O1: TSan's recommended level; no CLI, benchmarks or Python).
build-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	  -DDYNATRONI_TSAN=ON -DDYNATRONI_BUILD_CLI=OFF -DDYNATRONI_BUILD_BENCH=OFF -DDYNATRONI_BUILD_PYTHON=OFF $(CMAKE_PY_FLAGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target dynatroni_unit_tests

# libFuzzer targets (fuzz/): clang with ASan/UBSan, coverage-instrumented core and CLI library, no
# tests/Python (the CLI library is there for fuzz_cli; only the fuzz targets are built).
build-fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1" -DDYNATRONI_BUILD_FUZZ=ON -DDYNATRONI_BUILD_TESTS=OFF \
	  -DDYNATRONI_BUILD_CLI=ON -DDYNATRONI_BUILD_BENCH=OFF -DDYNATRONI_BUILD_PYTHON=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all

# ---------------------------------------------------------------- tests

# Replays every corpus (regressions included), then fuzzes each target briefly.
fuzz: build-fuzz
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SHORT_SECONDS)

fuzz-long: build-fuzz
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

test:
	@MAKE="$(MAKE)" tools/run_stages.sh "make test" $(TEST_STAGES)

# C++ unit tests and the `dynamodb_integration` test (run under tools/local_dynamodb.py).
ctest: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 900

# The unit tests again under AddressSanitizer (with LeakSanitizer) and UBSan (the mutation matrix is not
# built there: it runs in `make ctest`).
test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) --timeout 900 -E '^(dynamodb_integration|lease_mutation_matrix)$$'

# The unit tests of the threaded parts under ThreadSanitizer: the connection pool (CurlTransport, against
# the threaded test HTTP server), the credential cache and its background refresh thread, the DynamoDB
# client and the fake transport used from many threads, OpenSSL digests from many threads, and Dcs's
# mutex-guarded state shared by the HA loop, REST and watch() threads. Any report fails the test
# (halt_on_error); nothing is suppressed (libcurl and OpenSSL are not instrumented: TSan sees their locks
# through its interceptors, not their memory accesses).
TSAN_TESTS := ^(Unit/CurlTransportBothFramings\.|Unit\.CurlTransport|CacheTest\.|DcsConcurrency\.|FakeTransport\.IsSafeForConcurrentSends|DynamoDbClient\.IsSafeForConcurrentUse|Crypto\.DigestsFromManyThreads)
test-tsan: build-tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS) --timeout 900 -R '$(TSAN_TESTS)'

# `pip wheel .` (scikit-build-core from the venv; build tree kept in build-python/), then `pip install`
# of that wheel: the venv holds exactly the wheel python/tests/test_plain_patroni.py installs into fresh ones.
WHEELHOUSE := build-python/wheel
python-install: deps
	rm -rf $(WHEELHOUSE)
	$(PY) -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps -w $(WHEELHOUSE) .
	$(PY) -m pip install --disable-pip-version-check --force-reinstall --no-deps $(WHEELHOUSE)/dynatroni-*.whl
	chmod -R a+rX $(VENV)

# Tests that run whole Patroni + PostgreSQL clusters (test-e2e); everything else in python/tests is test-python.
CLUSTER_TESTS = $(sort $(wildcard python/tests/test_e2e_*.py python/tests/test_chaos*.py))

test-python: python-install
	$(PY) -m pytest python/tests $(addprefix --ignore=,$(CLUSTER_TESTS))

# Real 3-node Patroni 4.1 and Debian 3.0.2 clusters with PostgreSQL 15 on a local moto (docs: issue 5).
test-e2e: python-install
	$(PY) -m pytest $(CLUSTER_TESTS)

# The cluster tests and the clock tests again on dynalite instead of moto (DYNATRONI_E2E_BACKEND, read by
# tools/local_dynamodb.py); not part of `make test` (no room in CI's budget). Skipped there, with the reason:
# what depends on a moto-only feature (docs/reliability.md, "Commands").
CLOCK_TESTS = python/tests/test_plugin_wall_clock_jump.py python/tests/test_plugin_clock_offset.py \
  python/tests/test_plugin_signature_clock.py
test-e2e-dynalite: python-install
	DYNATRONI_E2E_BACKEND=dynalite $(PY) -m pytest -rs $(CLUSTER_TESTS) $(CLOCK_TESTS)

# The plugin conformance suite again under Debian's Python and Debian's Patroni 3.0.2 package, with our
# package on PYTHONPATH (a copy of what `pip install` put into the venv, as docs/install.md describes).
test-python-302: python-install
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
	cp -r "$$($(PY) -c 'import dynatroni, os; print(os.path.dirname(dynatroni.__file__))')" "$$site/" && \
	PYTHONPATH="$$site" $(SYSTEM_PYTHON) -c 'import patroni.version as v, dynatroni; print("test-python-302: Patroni", v.__version__, "from", v.__file__)' && \
	$(PY) -m tools.local_dynamodb run -- env PYTHONPATH="$$site" $(SYSTEM_PYTHON) -m pytest -p no:cacheprovider \
	  python/tests/test_plugin_conformance.py

# A wheel built the way `pip install .` / `python -m build` does, in an isolated env.
wheel: deps
	$(PY) -m build --wheel --outdir dist .

# sdist + wheel exactly as `python -m build` makes them (the wheel is built from the sdist, in an isolated env).
dist: deps
	rm -rf dist
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m build --outdir dist .

# The wheel in a FRESH virtualenv from $(SYSTEM_PYTHON) with $(LOCK) (Patroni 4.1, pytest, boto3, moto): the `dynatroni`
# command, the entry points, the plugin conformance tests; then the Debian `pip install --target` way.
dist-check: dist
	SYSTEM_PYTHON=$(SYSTEM_PYTHON) tools/dist_check.sh dist build-distcheck

# The portable wheel (issue #20 part 2, docs/install.md "Portable wheels"): built where the oldest glibc is, in a
# bullseye chroot (tools/chroot.sh), with clang-16, a static libc++ and static OpenSSL 3.5, curl and yaml-cpp built
# from Debian's sources; auditwheel repair --plat manylinux_2_31_x86_64. Everything it builds is cached under
# /var/cache/dynatroni/. As root (debootstrap, chroot). Not part of `make test`. TESTS=1 also builds the C++ unit
# tests the same way (clang-16, static libc++) and runs them all, natively, in the chroot.
WHEELS_DIR ?= dist/wheels
wheels:
	@command -v debootstrap >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; }
	$(SUDO) env JOBS=$(JOBS) $(if $(TESTS),TESTS=$(TESTS)) packaging/wheels/build.sh $(WHEELS_DIR)

# The wheel installed with pip into fresh bullseye, bookworm and trixie chroots (no compiler, no -dev package), where
# the plugin conformance tests run against moto and dynalite on the host's loopback (packaging/wheels/check.sh).
wheels-check: wheels deps
	$(SUDO) env PY=$(abspath $(PY)) packaging/wheels/check.sh $(WHEELS_DIR)

# Building from source (issue #20 part 4, docs/install.md "3. From source"): `pip install .` in a fresh Debian 12 chroot
# with only packaging/source/build-deps.txt and python3-venv (no python3-dev, no Python.h), then the installed files,
# a smoke test, the plugin conformance tests against moto and dynalite on the host's loopback, and `pip uninstall`
# (packaging/source/check.sh). As root. Not part of `make test`.
.PHONY: source-check
source-check: deps
	@command -v debootstrap >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; }
	$(SUDO) env PY=$(abspath $(PY)) JOBS=$(JOBS) $(if $(TESTS),TESTS=$(TESTS)) packaging/source/check.sh

# arm64 (issue #20 part 2, docs/install.md "Portable wheels"): the static aarch64 dependencies, the core's unit tests
# and the `dynatroni` command cross-built with clang-16 in the bullseye chroot (cmake/toolchain-aarch64-linux-gnu.cmake),
# then run under qemu-aarch64-static -L (this host has no binfmt_misc). As root. Not part of `make test`.
# GTEST_FILTER narrows the unit tests run under emulation. Then the aarch64 wheel (py3-none-manylinux_2_31_aarch64),
# pip-installed into a venv of bullseye's arm64 Python under qemu; with the venv of `make deps` (PY) against moto on
# the loopback. CONFORMANCE=1 also runs python/tests/test_plugin_conformance.py in that venv (Patroni and the test
# tools pip-installed there from PyPI; bullseye's amd64 postgresql-13 in the chroot for --validate-config).
.PHONY: wheels-arm64
WHEELS_ARM64_DIR ?= dist/wheels-arm64
wheels-arm64:
	@command -v debootstrap >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; }
	@command -v qemu-aarch64-static >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static; }
	$(SUDO) env $(if $(GTEST_FILTER),GTEST_FILTER='$(GTEST_FILTER)') $(if $(CONFORMANCE),CONFORMANCE=$(CONFORMANCE)) \
	  $(if $(wildcard $(PY)),PY=$(abspath $(PY))) \
	  packaging/wheels/build-arm64.sh $(WHEELS_ARM64_DIR)

# The Debian package for Debian's own patroni (bookworm, 3.0.2 on /usr/bin/python3): the wheel python-install built,
# laid out beside Patroni in /usr/lib/python3/dist-packages by tools/build_deb.sh (packaging/deb/, docs/install.md),
# then checked by lintian (installed here, not by `make deps`: it is for this target only).
# python/tests/test_deb_package.py (test-python) builds the same package, installs it with apt and removes it again.
DEB_DIR ?= build-deb
deb: python-install
	@dpkg-query -W -f='$${Status}\n' lintian 2>/dev/null | grep -q '^install ok installed$$' || \
	  { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends lintian; }
	rm -f $(DEB_DIR)/dynatroni_*.deb
	tools/build_deb.sh $(WHEELHOUSE)/dynatroni-$$(cat VERSION)-*.whl $(DEB_DIR)
	lintian --fail-on error $(DEB_DIR)/dynatroni_*.deb

# ---------------------------------------------------------------- lint

lint: lint-format lint-tidy

lint-format:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "clang-format missing: run make deps"; exit 1; }
	$(CLANG_FORMAT) --dry-run -Werror $(CXX_SOURCES)
	@echo "lint-format: $(words $(CXX_SOURCES)) files formatted"

lint-tidy: build
	$(RUN_CLANG_TIDY) -p $(BUILD) -clang-tidy-binary $(CLANG_TIDY) -quiet -j$(JOBS) '$(TIDY_REGEX)'

format:
	$(CLANG_FORMAT) -i $(CXX_SOURCES)

# ---------------------------------------------------------------- demo, bench

FAILOVER_TIME ?= 15
# Fault injection on a real 3-node cluster behind tools/fault_proxy.py (tools/chaos.py; docs/reliability.md).
# The results table in docs/reliability.md is rewritten from the run's JSON (chaos-out/results.json).
CHAOS_OUT ?= chaos-out
CHAOS_SEED ?= 1
CHAOS_FAILOVER_TIME ?= 30
chaos: python-install
	$(PY) -m tools.chaos --seed $(CHAOS_SEED) --failover-time $(CHAOS_FAILOVER_TIME) --out $(CHAOS_OUT) --json $(CHAOS_OUT)/results.json --doc docs/reliability.md

chaos-short: python-install
	$(PY) -m tools.chaos --short --seed $(CHAOS_SEED) --out $(CHAOS_OUT) --json $(CHAOS_OUT)/results-short.json

# The main job: a 3-node Patroni + PostgreSQL cluster on a local DynamoDB, a crash of the leader and the
# measured failover time (tools/demo.py; DYNAMODB=dynalite or DYNAMODB_ENDPOINT=... select the DynamoDB).
demo: build python-install
	FAILOVER_TIME=$(FAILOVER_TIME) $(PY) -m tools.demo

# BENCH=client|cluster|all selects the part (bench/run.sh; docs/benchmarks.md is regenerated from bench/results/).
BENCH ?= all
bench: build
	@if [ -x bench/run.sh ]; then \
	  PY=$(abspath $(PY)) BUILD=$(BUILD) BENCH=$(BENCH) bench/run.sh; \
	else \
	  echo "no benchmarks yet (bench/run.sh is missing)"; exit 1; \
	fi

# ---------------------------------------------------------------- clean

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(DEB_DIR) build-python dist .pytest_cache python/dynatroni/*.so
	find python -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
