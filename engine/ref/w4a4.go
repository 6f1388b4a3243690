package ref

import "github.com/matmix/matmix/engine/quant"

// W4A4GroupSums returns the exact integer group sums of a quantized GEMM,
// I[m,n,g] = sum over k in group g of qa[m,k] * qw[n,k], as an M x N x Groups
// array. a and w must be valid and share K and Group.
func W4A4GroupSums(a *quant.Activations, w *quant.Weights) []int64 {
	// Codes are read one at a time with Code (not the row unpackers the
	// backends use), so that the reference shares no decoding loop with them.
	qa := make([]int64, a.M*a.K)
	for m := range a.M {
		for k := range a.K {
			qa[m*a.K+k] = int64(a.Code(m, k))
		}
	}
	qw := make([]int64, w.N*w.K)
	for n := range w.N {
		for k := range w.K {
			qw[n*w.K+k] = int64(w.Code(n, k))
		}
	}
	groups := quant.Groups(a.K, a.Group)
	out := make([]int64, a.M*w.N*groups)
	for m := range a.M {
		for n := range w.N {
			for g := range groups {
				lo, hi := quant.GroupBounds(a.K, a.Group, g)
				var s int64
				for k := lo; k < hi; k++ {
					s += qa[m*a.K+k] * qw[n*w.K+k]
				}
				out[(m*w.N+n)*groups+g] = s
			}
		}
	}
	return out
}

// W4A4 evaluates the W4A4 GEMM in float64 straight from the spec's formula,
// y[m,n] = sum_g sa[m,g] * sw[n,g] * I[m,n,g], with I the exact group sums.
// The result is M x N, row-major.
func W4A4(a *quant.Activations, w *quant.Weights) []float64 {
	groups := quant.Groups(a.K, a.Group)
	sums := W4A4GroupSums(a, w)
	y := make([]float64, a.M*w.N)
	for m := range a.M {
		for n := range w.N {
			var acc float64
			for g := range groups {
				acc += float64(a.Scales[m*groups+g]) * float64(w.Scales[n*groups+g]) * float64(sums[(m*w.N+n)*groups+g])
			}
			y[m*w.N+n] = acc
		}
	}
	return y
}
