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
PY := $(VENV)/bin/python
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential cmake ninja-build pkg-config libssl-dev libcurl4-openssl-dev \
  nlohmann-json3-dev libgtest-dev googletest zlib1g-dev clang clang-format clang-tidy \
  python3-venv python3-dev postgresql patroni libyaml-cpp-dev
VENV_STAMP := $(VENV)/.dynatroni-deps
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
TEST_STAGES := deps lint-format build ctest build-asan test-asan python-install test-python

.PHONY: help deps deps-apt build build-asan test ctest test-asan python-install test-python \
  lint lint-format lint-tidy format demo bench wheel clean distclean

help:
	@echo "Dynatroni - DynamoDB-backed DCS for Patroni"
	@echo
	@echo "  make demo       3-node Patroni+PostgreSQL cluster on a local DynamoDB; crash the leader; print the failover time"
	@echo "  make test       everything CI runs: format check, build, C++ unit + integration tests,"
	@echo "                  ASan/UBSan unit tests, pip install ., Python tests (stops at first failure)"
	@echo
	@echo "  make deps       install Debian, PyPI ($(VENV)) and npm dependencies (idempotent)"
	@echo "  make build      configure + build into $(BUILD) ($(BUILD_TYPE), Ninja)"
	@echo "  make build-asan unit tests with ASan/UBSan into $(ASAN_BUILD)"
	@echo "  make lint       clang-format check + clang-tidy (TIDY_TESTS=1 to include tests)"
	@echo "  make format     clang-format -i on every C++ source"
	@echo "  make bench      build, then run the benchmarks (bench/run.sh)"
	@echo "  make wheel      build a wheel into dist/ (isolated build, as pip does)"
	@echo "  make clean      remove build trees;  make distclean  also $(VENV) and node_modules"
	@echo
	@echo "Variables: VENV=$(VENV) BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) JOBS=$(JOBS)"

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

# Python tools in a virtualenv (PyPI only).
$(VENV_STAMP): requirements-dev.txt | deps-apt
	@test -x $(PY) || { mkdir -p $(dir $(VENV)) && $(SYSTEM_PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -q -r requirements-dev.txt
	chmod -R a+rX $(VENV) && chmod a+x $(dir $(VENV))
	@touch $@

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

# ---------------------------------------------------------------- tests

test:
	@MAKE="$(MAKE)" tools/run_stages.sh "make test" $(TEST_STAGES)

# C++ unit tests and the `dynamodb_integration` test (run under tools/local_dynamodb.py).
ctest: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 900

# The unit tests again under AddressSanitizer (with LeakSanitizer) and UBSan.
test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) --timeout 900 -E '^dynamodb_integration$$'

# `pip install .` (scikit-build-core + nanobind from the venv; build tree kept in build-python/).
python-install: deps
	$(PY) -m pip install --disable-pip-version-check --no-build-isolation .
	chmod -R a+rX $(VENV)

test-python: python-install
	$(PY) -m pytest python/tests --ignore=python/tests/test_e2e_cluster.py

# A wheel built the way `pip install .` / `python -m build` does, in an isolated env.
wheel: deps
	$(PY) -m build --wheel --outdir dist .

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
# The main job: a 3-node Patroni + PostgreSQL cluster on a local DynamoDB, a crash of the leader and the
# measured failover time (tools/demo.py; DYNAMODB=dynalite or DYNAMODB_ENDPOINT=... select the DynamoDB).
demo: build python-install
	FAILOVER_TIME=$(FAILOVER_TIME) $(PY) tools/demo.py

bench: build
	@if [ -x bench/run.sh ]; then \
	  PY=$(abspath $(PY)) BUILD=$(BUILD) bench/run.sh; \
	else \
	  echo "no benchmarks yet (bench/run.sh is missing)"; exit 1; \
	fi

# ---------------------------------------------------------------- clean

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-python dist .pytest_cache python/dynatroni/_core*.so
	find python -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
