# matmix: build, test and benchmark. `make test` is what CI runs (.ci/run).
GO ?= go
# go-nvml's cgo preamble uses declarations newer glibc headers mark deprecated.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: all build test vet test-go test-purego bench clean

all: build

build:
	$(GO) build -o bin/matmix ./cmd/matmix

vet:
	$(GO) vet ./...
	$(GO) vet -tags cudasim ./cuda/... ./engine/...

# Everything under the race detector; the CPU backend again on its portable
# path (purego: no assembly); the simulator's own C++ tests under ASan and
# UBSan; and the CUDA backend over the simulator under ASan.
test: vet test-go test-purego sim-test cudasim-test

test-go:
	$(GO) test -race -timeout 20m ./...

test-purego:
	$(GO) test -race -tags purego -timeout 20m ./engine/cpu/... ./engine/conformance/...

bench: build
	./bin/matmix bench all --quick

clean:
	rm -rf bin

include kernels/sim.mk
include cuda/cuda.mk
