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

clean:
	rm -rf .build out
