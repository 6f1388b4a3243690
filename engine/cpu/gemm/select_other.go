//go:build purego || !amd64

package gemm

// kernels is the portable kernel alone.
var kernels = []microKernel{genericKernel}
