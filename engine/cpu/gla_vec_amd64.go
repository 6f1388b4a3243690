//go:build !purego

package cpu

import (
	"unsafe"

	xcpu "golang.org/x/sys/cpu"
)

// glaVecs lists the GLA vector kernels this CPU runs, fastest first. The
// AVX-512 kernels use ymm forms of EVEX instructions too, hence AVX512VL.
var glaVecs = func() []glaVec {
	var vs []glaVec
	if xcpu.X86.HasAVX512F && xcpu.X86.HasAVX512VL {
		vs = append(vs, glaVec{name: "avx512", width: 16,
			decay: glaDecayAVX512, gates: glaGatesAVX512, mul: glaMulAVX512, scal: glaScalAVX512, dot: glaDotAVX512})
	}
	if xcpu.X86.HasAVX2 && xcpu.X86.HasFMA {
		vs = append(vs, glaVec{name: "avx2", width: 8,
			decay: glaDecayAVX2, gates: glaGatesAVX2, mul: glaMulAVX2, scal: glaScalAVX2, dot: glaDotAVX2})
	}
	return vs
}()

// glaFetch asks the caches for x's lines ahead of their use.
func glaFetch[T float](x []T) {
	if len(x) > 0 {
		glaPrefetch((*byte)(unsafe.Pointer(&x[0])), len(x)*int(unsafe.Sizeof(x[0])))
	}
}
