# The CUDA simulator's own tests (kernels/sim/tests), built by g++ under AddressSanitizer and
# UndefinedBehaviorSanitizer. Included by the top-level Makefile (`include kernels/sim.mk`), or run
# alone: `make -f kernels/sim.mk sim-test`. Paths are relative to the repository root.
#   sim-test        build and run the tests; the last line is "N passed, M failed"
#   sim-nvcc-check  compile every inline-PTX wrapper with nvcc for sm_80 and sm_90 (needs nvcc, no GPU)

# Keep the includer's default goal: the targets below must not become it.
mmsim_saved_goal := $(.DEFAULT_GOAL)

SIM_CXX ?= g++
SIM_SANITIZE ?= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SIM_CXXFLAGS ?= -std=c++20 -O1 -g -Wall -Wextra -Werror $(SIM_SANITIZE)
SIM_BUILD ?= bin/sim
SIM_NVCC ?= nvcc

SIM_TEST_SRCS := kernels/sim/runtime.cc $(wildcard kernels/sim/tests/*.cc)
SIM_TEST_OBJS := $(patsubst %.cc,$(SIM_BUILD)/%.o,$(SIM_TEST_SRCS))

.PHONY: sim-test sim-nvcc-check

sim-test: $(SIM_BUILD)/mmsim_test
	$(SIM_BUILD)/mmsim_test

$(SIM_BUILD)/mmsim_test: $(SIM_TEST_OBJS)
	$(SIM_CXX) $(SIM_CXXFLAGS) -o $@ $^

$(SIM_BUILD)/kernels/%.o: kernels/%.cc
	@mkdir -p $(dir $@)
	$(SIM_CXX) $(SIM_CXXFLAGS) -MMD -MP -c -o $@ $<

-include $(SIM_TEST_OBJS:.o=.d)

sim-nvcc-check:
	@mkdir -p $(SIM_BUILD)
	$(SIM_NVCC) -arch=sm_80 -cubin -o $(SIM_BUILD)/wrappers_sm80.cubin kernels/sim/tests/wrappers_nvcc.cu
	$(SIM_NVCC) -arch=sm_90 -cubin -o $(SIM_BUILD)/wrappers_sm90.cubin kernels/sim/tests/wrappers_nvcc.cu

.DEFAULT_GOAL := $(mmsim_saved_goal)
