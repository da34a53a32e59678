# ota: the two commands that matter are `make demo` and `make test`.
SWIFT ?= swift
OTA := .build/release/ota

.PHONY: deps build release test demo bench clean format lint

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product ota

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: release
	scripts/demo.sh $(OTA)

bench: release
	bench/run.sh $(OTA)

# Style: swift format with the checked-in .swift-format (reports; not yet enforced in CI).
lint:
	$(SWIFT) format lint -r Sources Tests

format:
	$(SWIFT) format -i -r Sources Tests

clean:
	rm -rf .build out
