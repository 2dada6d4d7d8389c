# Thin driver over CMake. `make demo` and `make test` install missing Debian
# packages first (scripts/install-deps.sh).
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan test test-release test-asan demo demo-tdt demo-rnnt demo-long demo-llm bench check-clang fuzz check-valgrind clean

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNC_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Release suite, then the same suite under AddressSanitizer + UBSan.
test: deps
	@$(MAKE) --no-print-directory test-release
	@$(MAKE) --no-print-directory test-asan

test-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 NC_SANITIZED=1 ctest --output-on-failure -j $(JOBS) -LE slow

demo: deps build
	@scripts/demo.sh $(BUILD)/bin/nemoc

# The same data and encoder as a Conformer-TDT / Conformer-RNNT (BPE).
demo-tdt: deps build
	@DEMO_MODEL=tdt scripts/demo.sh $(BUILD)/bin/nemoc

demo-rnnt: deps build
	@DEMO_MODEL=rnnt scripts/demo.sh $(BUILD)/bin/nemoc

# Sentences: FastConformer-CTC (BPE) with the augmentations, <= 60 CPU-minutes.
demo-long: deps build
	@scripts/demo_long.sh $(BUILD)/bin/nemoc

demo-llm: deps build
	@scripts/demo_llm.sh $(BUILD)/bin/nemoc

bench: deps build
	@bench/run.sh $(BUILD)

check-clang:
	@cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build build-clang -j $(JOBS)

fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# Unit tests under valgrind memcheck (slow; not part of `make test`).
check-valgrind:
	@scripts/valgrind.sh $(VALGRIND_TESTS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-clang build-fuzz build-valgrind
