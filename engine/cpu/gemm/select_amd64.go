//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

var (
	avx512Kernel     = microKernel{name: "avx512-12x32", mr: 12, nr: 32, fn: sgemmKernelAVX512, direct: sgemmDirectAVX512}
	avx2Kernel       = microKernel{name: "avx2-6x16", mr: 6, nr: 16, fn: sgemmKernelAVX2, direct: sgemmDirectAVX2}
	avx512LaneKernel = laneKernel{name: "avx512-4x4x16", mr: 4, nr: 4, width: 16, fn: laneKernelAVX512, fence: storeFence}
	avx2LaneKernel   = laneKernel{name: "avx2-4x2x8", mr: 4, nr: 2, width: 8, fn: laneKernelAVX2, fence: storeFence}
)

// kernels and laneKernels list the micro-kernels this CPU can run, fastest
// first; fixed at start-up from the CPU's features.
var kernels, laneKernels = func() ([]microKernel, []laneKernel) {
	var ks []microKernel
	var ls []laneKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
		ls = append(ls, avx512LaneKernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
		ls = append(ls, avx2LaneKernel)
	}
	return append(ks, genericKernel), append(ls, genericLaneKernel)
}()
