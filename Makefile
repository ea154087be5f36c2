# spamsink: make run | make test | make bench | make build
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: all deps build run test test-release test-asan bench fuzz clean record-personas

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run-banner
	@exec $(BUILD)/bin/spamsink

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300
	$(MAKE) --no-print-directory test-asan

# The unit, transcript, fuzz-replay and integration tests again, under
# AddressSanitizer + UndefinedBehaviorSanitizer (GCC).
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DSPAMSINK_SANITIZE=ON -DSPAMSINK_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600 -LE no-asan

bench: build
	bench/run-all

# Records tests/personas/{postfix,exim,opensmtpd}.rec from the real MTAs
# (root; Exim and OpenSMTPD are unpacked from their Debian packages into a
# temp dir, never installed). Not part of `make test`, which replays them.
record-personas:
	scripts/record-personas

# libFuzzer builds (clang-14); `make fuzz FUZZ_SECONDS=60` runs each target.
FUZZ_SECONDS ?= 30
fuzz: deps
	CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DSPAMSINK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	for t in $(FUZZ_BUILD)/bin/fuzz_*; do \
	  n=$$(basename $$t); mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  $$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus/$$n fuzz/corpus/$$n || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
