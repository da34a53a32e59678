# ota: the two commands that matter are `make demo` and `make test`.
SWIFT ?= swift
OTA := .build/release/ota

.PHONY: deps build release test demo bench fuzz fuzz-build fuzz-smoke clean format lint

# Fuzzing (Fuzz/README.md): seconds per harness for `make fuzz`; FUZZ_TARGETS names a subset.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product ota

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	SWIFT=$(SWIFT) Fuzz/run.sh build
	SWIFT=$(SWIFT) Fuzz/run.sh smoke

demo: release
	scripts/demo.sh $(OTA)

# The benches also drive the records test rig (never part of `release`).
bench: release
	$(SWIFT) build -c release --product ota-records-rig
	bench/run.sh $(OTA)

# libFuzzer harnesses (-sanitize=fuzzer,address, in .build-fuzz/): each for FUZZ_SECONDS.
fuzz: deps
	SWIFT=$(SWIFT) Fuzz/run.sh build
	SWIFT=$(SWIFT) Fuzz/run.sh campaign $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: deps
	SWIFT=$(SWIFT) Fuzz/run.sh build

# Every harness over its seeds and regression inputs, plus a few seconds of mutation (in `make test`).
fuzz-smoke: deps
	SWIFT=$(SWIFT) Fuzz/run.sh build
	SWIFT=$(SWIFT) Fuzz/run.sh smoke

# Style: swift format with the checked-in .swift-format (reports; not yet enforced in CI).
lint:
	$(SWIFT) format lint -r Sources Tests

format:
	$(SWIFT) format -i -r Sources Tests

clean:
	rm -rf .build .build-fuzz out
