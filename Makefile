# Entry points for people and CI. `make run` and `make test` work on a fresh Debian 12 machine.
.PHONY: deps build release test run asan fuzz clean

JOBS ?= $(shell nproc)

deps:
	./scripts/install-deps

release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build: deps
	cmake --preset debug >/dev/null
	cmake --build --preset debug -j $(JOBS)

# Installs, builds and runs every test (unit, golden, integration against the emulators).
test: build
	ctest --preset debug -j $(JOBS)
	./scripts/check-test-logs build/debug

# Installs, builds and runs shoal's main job on the embedded default store.
run: release
	./scripts/run-example

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

clean:
	rm -rf build
