package cpu

import "github.com/matmix/matmix/engine/cpu/gemm"

// glaMat is a row-major operand of a chunk product, as gemm.Matrix: element
// (i, j) is data[i*stride+j], or data[j*stride+i] when trans is set.
type glaMat[T float] struct {
	data   []T
	stride int
	trans  bool
}

func (a glaMat[T]) at(i, j int) T {
	if a.trans {
		return a.data[j*a.stride+i]
	}
	return a.data[i*a.stride+j]
}

// glaMatMul computes C = A·B, or C += A·B when acc is set, for A m x k, B
// k x n and C m x n with row stride ldc, on the calling goroutine (the
// chunked form is parallel over (sequence, head) pairs already). float32
// goes through the packed SIMD gemm, packing into ws; float64 runs plain
// loops, as exact as the reference.
func glaMatMul[T float](ws *gemm.Workspace, m, n, k int, a, b glaMat[T], c []T, ldc int, acc bool) {
	if c32, ok := any(c).([]float32); ok {
		a32 := gemm.Matrix{Data: any(a.data).([]float32), Stride: a.stride, Trans: a.trans}
		b32 := gemm.Matrix{Data: any(b.data).([]float32), Stride: b.stride, Trans: b.trans}
		ws.MatMul(m, n, k, a32, b32, c32, ldc, acc)
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if !acc {
			clear(row)
		}
		for p := range k {
			x := a.at(i, p)
			if b.trans {
				for j := range row {
					row[j] += x * b.data[j*b.stride+p]
				}
				continue
			}
			for j, y := range b.data[p*b.stride : p*b.stride+n] {
				row[j] += x * y
			}
		}
	}
}
