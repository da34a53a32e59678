# ota: the two commands that matter are `make demo` and `make test`.
SWIFT ?= swift
OTA := .build/release/ota

.PHONY: deps build release install test tsan demo bench fuzz fuzz-build fuzz-smoke clean format lint

# Fuzzing (Fuzz/README.md): seconds per harness for `make fuzz`; FUZZ_TARGETS names a subset.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Four executables: `ota` (vehicle side and tools, no server stack), `ota-fleet` (the fleet
# service, which `ota fleet ...` runs from beside `ota` or from PATH), `ota-patch` (the
# vehicle-side patch applier alone, without Foundation or libcurl) and `ota-diff` (the patch
# maker without Foundation, which `ota delta create` runs in the same way).
release: deps
	$(SWIFT) build -c release --product ota
	$(SWIFT) build -c release --product ota-fleet
	$(SWIFT) build -c release --product ota-patch
	$(SWIFT) build -c release --product ota-diff

PREFIX ?= /usr/local
install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 .build/release/ota .build/release/ota-fleet .build/release/ota-patch .build/release/ota-diff $(DESTDIR)$(PREFIX)/bin/

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	SWIFT=$(SWIFT) Fuzz/run.sh build
	SWIFT=$(SWIFT) Fuzz/run.sh smoke

# ThreadSanitizer over the installer's pipelined delta and the pipelined decoder in process (in
# .build-tsan/; a 45-minute build on a loaded 2-core machine, so not part of `make test`). A race
# fails the run (the test process exits 66). Not the executables: ota-patch and ota-diff link the
# runtime and libdispatch statically, where TSan sees no Dispatch synchronisation (false reports),
# and the x86/AArch64 scan crashes TSan (docs/SECURITY.md, "ThreadSanitizer").
TSAN_SUITES ?= DeltaFrameThreadTests|OTAInstallerTests.DeltaTests|InstallPipelineTests|AdversarialPatchTests
tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --filter '$(TSAN_SUITES)'

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

FORMATTED = Sources Tests Fuzz/Sources Package.swift

# The style is enforced: CI fails on any finding (.swift-format, 120 columns).
lint:
	$(SWIFT) format lint --strict -r -p $(FORMATTED)

format:
	$(SWIFT) format format -i -r -p $(FORMATTED)

clean:
	rm -rf .build .build-fuzz .build-tsan out
