//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

var (
	avx512Kernel = microKernel{name: "avx512-12x32", mr: 12, nr: 32, fn: sgemmKernelAVX512}
	avx2Kernel   = microKernel{name: "avx2-6x16", mr: 6, nr: 16, fn: sgemmKernelAVX2}
)

// kernels lists the micro-kernels this CPU can run, fastest first; fixed at
// start-up from the CPU's features.
var kernels = func() []microKernel {
	var ks []microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, genericKernel)
}()
