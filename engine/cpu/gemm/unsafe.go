package gemm

import "unsafe"

// unsafeSlice views n floats at p; the kernels take pointers so that the
// assembly and Go kernels share one signature.
func unsafeSlice(p *float32, n int) []float32 { return unsafe.Slice(p, n) }
