//go:build !purego

package qgemm

import "golang.org/x/sys/cpu"

var (
	vnniKernel = Kernel{Name: "avx512vnni-6x32", MR: 6, NR: 32, fn: dotKernelVNNI}
	avx2Kernel = Kernel{Name: "avx2-4x16", MR: 4, NR: 16, fn: dotKernelAVX2}
)

// kernels lists the kernels this CPU can run, fastest first; fixed at
// start-up from the CPU's features.
var kernels = func() []Kernel {
	var ks []Kernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI {
		ks = append(ks, vnniKernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return ks
}()
