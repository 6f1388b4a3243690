# matmix: build, test and benchmark. `make test` is what CI runs.
GO ?= go

.PHONY: all build test vet bench clean

all: build

build:
	$(GO) build -o bin/matmix ./cmd/matmix

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -timeout 20m ./...

bench: build
	./bin/matmix bench all --quick

clean:
	rm -rf bin
