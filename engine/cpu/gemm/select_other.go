//go:build purego || !amd64

package gemm

// kernels and laneKernels are the portable kernels alone.
var (
	kernels     = []microKernel{genericKernel}
	laneKernels = []laneKernel{genericLaneKernel}
)
