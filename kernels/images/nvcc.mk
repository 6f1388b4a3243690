# How the kernel images are built: read by cuda/cuda.mk, and one of the
# inputs hashed into SOURCES.sha256 (changing a flag or an architecture makes
# the committed images stale until `make kernels` runs again).
#
# nvcc 11.8 accepts C++17 at most; -lineinfo keeps source lines for profilers
# without changing the code; no fast-math (the tolerances assume IEEE float).
NVCC_FLAGS = -std=c++17 -O3 -lineinfo -Ikernels -Ikernels/include
# SASS for Ampere (A100, A10/RTX 30), Ada (L4/L40/RTX 40) and Hopper (H100/H200).
NVCC_ARCHS = 80 86 89 90
# PTX for every later GPU: the driver JIT-compiles it.
NVCC_PTX_ARCH = 80
