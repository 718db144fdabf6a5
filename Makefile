# The two commands: `make demo` runs the kiosk, `make test` runs every test.
# Both set the machine up first (idempotent; see build/setup.sh).

SHELL := /bin/bash
GO ?= go
TAGS ?= libsqlite3
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

# One place for the environment the kiosk and its tests run in.
export KIOSK_SHARED_DIR ?= $(abspath $(CURDIR)/../shared)
export KIOSK_MODELS_DIR ?= $(HOME)/.cache/kiosk/models
export LANG := en_US.UTF-8
export LIBGL_ALWAYS_SOFTWARE := 1
export XDG_CONFIG_HOME ?= $(CURDIR)/.cache/xdg-config

.PHONY: demo test setup build check lint unit bench clean rpi

demo: setup
	./bin/kiosk doctor --mode demo || true
	./bin/kiosk run --demo

test: setup check rpi

setup:
	./build/setup.sh

build:
	$(GO) build -tags '$(TAGS)' -ldflags '-X main.version=$(VERSION)' -o bin/kiosk ./cmd/kiosk

check: lint unit

lint:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet -tags '$(TAGS) matprofile' ./...
	@echo "== staticcheck"; $(GO) tool staticcheck -tags '$(TAGS) matprofile' ./...

# Every package's tests, with gocv's Mat profile on so a leaked Mat fails
# the vision tests, and the UI screenshot test required to run (not skip).
unit:
	@echo "== go test"; KIOSK_REQUIRE_XVFB=1 $(GO) test -tags '$(TAGS) matprofile' -timeout 30m -count=1 ./...

# The Raspberry Pi build (build/rpi/README.md): cross-build the arm64 binary
# (cgo, against an arm64 sysroot cached in ~/.cache/kiosk/rpi), check that it
# is an ARM aarch64 ELF and smoke-test it under qemu-aarch64-static (doctor,
# the units' ExecStart arguments, sd_notify READY/WATCHDOG), build the .deb,
# and install/upgrade/remove/purge it in a throwaway root, where
# systemd-analyze verifies the units and scores their exposure (<= 3.0).
rpi:
	@echo "== rpi: arm64 build"; ./build/rpi/build.sh
	@echo "== rpi: arm64 check (file, qemu smoke)"; ./build/rpi/check.sh
	@echo "== rpi: .deb"; ./build/deb/build.sh
	@echo "== rpi: .deb test (throwaway root, systemd-analyze)"; ./build/deb/test.sh

bench: setup
	./build/bench.sh

clean:
	rm -rf bin .cache
