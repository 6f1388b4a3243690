# CUDA targets. The root Makefile includes this file (`include cuda/cuda.mk`);
# it also works alone from the repository root: `make -f cuda/cuda.mk kernels`.
#
#   kernels       rebuild kernels/images (cubins for NVCC_ARCHS, PTX) with nvcc,
#                 record `ptxas -v` in kernels/ptxas.txt (fails on any spill)
#                 and the hashes in kernels/images/SOURCES.sha256
#   cudasim-test  the CUDA packages' tests and the conformance suite on the
#                 CPU simulator (build tag cudasim), then the runtime's and
#                 the fault tests under AddressSanitizer and the race
#                 detector, and the command's tests with the simulator as the GPU

include kernels/images/nvcc.mk

GO ?= go
NVCC ?= nvcc
CUDA_KERNELS := $(basename $(notdir $(wildcard kernels/*.cu)))
PTXAS_LOG := kernels/ptxas.txt

.PHONY: kernels cudasim-test

kernels:
	@command -v $(NVCC) >/dev/null || { echo "kernels: $(NVCC) not found (Debian: apt-get install nvidia-cuda-toolkit, see shared/device/README.md)"; exit 1; }
	rm -f kernels/images/*.cubin kernels/images/*.ptx
	@echo "# ptxas -v for every kernel, written by make kernels ($$($(NVCC) --version | grep -o 'release.*'))." > $(PTXAS_LOG)
	@echo "# Flags: $(NVCC_FLAGS)" >> $(PTXAS_LOG)
	@set -e; for k in $(CUDA_KERNELS); do \
	  for a in $(NVCC_ARCHS); do \
	    echo "nvcc kernels/$$k.cu -> kernels/images/$$k.sm_$$a.cubin"; \
	    echo "" >> $(PTXAS_LOG); echo "## kernels/$$k.cu sm_$$a" >> $(PTXAS_LOG); \
	    $(NVCC) $(NVCC_FLAGS) -cubin -arch=sm_$$a -Xptxas -v -o kernels/images/$$k.sm_$$a.cubin kernels/$$k.cu 2>> $(PTXAS_LOG) \
	      || { tail -n 30 $(PTXAS_LOG); exit 1; }; \
	  done; \
	  echo "nvcc kernels/$$k.cu -> kernels/images/$$k.compute_$(NVCC_PTX_ARCH).ptx"; \
	  $(NVCC) $(NVCC_FLAGS) -ptx -arch=compute_$(NVCC_PTX_ARCH) -o kernels/images/$$k.compute_$(NVCC_PTX_ARCH).ptx kernels/$$k.cu; \
	done
	@if grep -E '[1-9][0-9]* bytes spill (stores|loads)' $(PTXAS_LOG); then echo "kernels: a kernel spills registers (see $(PTXAS_LOG))"; exit 1; fi
	$(GO) run ./kernels/gen -manifest -nvcc "$$($(NVCC) --version | grep -o 'release.*')"

# The generator runs first: its digest of kernels/ in cuda/sim/kernels_gen.cc
# is what makes the go command rebuild the simulator after a kernel changes
# (`go test ./kernels/gen`, in make test, fails when the committed files are
# stale). Every simulator test runs plainly; the conformance suite and the
# fault tests run again under AddressSanitizer over Go, cgo and the
# simulator's C++ (go test -asan; cuda/sim adds -fsanitize=address to its C++
# flags under the asan tag), which slows the fibers about tenfold, hence the
# subset. The Go race detector cannot be combined with -asan.
CUDASIM_ASAN_RUN ?= Conformance|Fault|ASan
cudasim-test:
	$(GO) run ./kernels/gen
	$(GO) test -tags cudasim -timeout 20m ./cuda/... ./engine/sched/...
	$(GO) test -tags cudasim -asan -run '$(CUDASIM_ASAN_RUN)' -timeout 20m ./cuda/sim ./cuda/backend
	$(GO) test -tags cudasim -race -run 'CUDASim|Runtime|Faults' -timeout 20m ./engine/sched/ ./cuda/backend ./cuda/sim
	$(GO) test -tags cudasim -timeout 20m ./cmd/matmix

# The binaries cuda/device-check.sh runs on a lent GPU (no Go or CUDA toolkit there): the CUDA
# packages' tests compiled for the real driver, matmix, and the GPU peers script (../shared does not
# travel), in one archive, bin/device/device-bin.tar.gz, that the script unpacks there. The device tool
# carries at most 64 MiB with the working tree: the binaries are stripped of symbols and DWARF (-s -w;
# panics still print file:line) and compressed, about 20 MiB, where they would be about 66 MiB as they are.
DEVICE_LDFLAGS := -s -w
DEVICE_BUILD := bin/device-build
.PHONY: device-bin
device-bin:
	@rm -rf $(DEVICE_BUILD) bin/device && mkdir -p $(DEVICE_BUILD) bin/device
	$(GO) test -c -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BUILD)/backend.test ./cuda/backend
	$(GO) test -c -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BUILD)/device.test ./cuda/device
	$(GO) test -c -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BUILD)/driver.test ./cuda/driver
	$(GO) build -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BUILD)/matmix ./cmd/matmix
	cp -f ../shared/device/gpu_peers.py $(DEVICE_BUILD)/
	tar -czf bin/device/device-bin.tar.gz -C $(DEVICE_BUILD) .
	@du -b bin/device/device-bin.tar.gz | awk '{ printf "bin/device/device-bin.tar.gz: %.1f MiB (carry bin/device; the tool takes 64 MiB with the tree)\n", $$1 / 1048576 }'
