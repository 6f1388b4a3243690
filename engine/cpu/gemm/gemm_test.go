package gemm

import (
	"fmt"
	"math"
	"testing"

	"github.com/matmix/matmix/engine/internal/check"
	"github.com/stretchr/testify/require"
)

// naive is the triple loop in float64 the kernels are checked against.
func naive(m, n, k int, a, b Matrix, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			s := 0.0
			for p := range k {
				s += float64(a.at(i, p)) * float64(b.at(p, j))
			}
			c[i*ldc+j] += s
		}
	}
}

func TestMatMulEveryKernel(t *testing.T) {
	r := check.NewRand(t)
	shapes := [][3]int{{1, 1, 1}, {5, 7, 3}, {12, 32, 16}, {13, 33, 17}, {37, 70, 1}, {200, 65, 400}, {25, 3100, 9}, {1, 40, 800}}
	for _, kern := range kernels {
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, acc := range []bool{false, true} {
					name := fmt.Sprintf("%s/%dx%dx%d/ta=%v,tb=%v,acc=%v", kern.name, m, n, k, tr[0], tr[1], acc)
					t.Run(name, func(t *testing.T) {
						lda, ldb, ldc := k+3, n+1, n+5
						if tr[0] {
							lda = m + 2
						}
						if tr[1] {
							ldb = k + 4
						}
						a := Matrix{Data: check.Float32s(check.Uniform(r, max(m, k)*lda)), Stride: lda, Trans: tr[0]}
						b := Matrix{Data: check.Float32s(check.Uniform(r, max(k, n)*ldb)), Stride: ldb, Trans: tr[1]}
						c := make([]float32, m*ldc)
						want := make([]float64, m*ldc)
						for i := range c {
							if acc {
								c[i] = float32(r.Float64() + 0.5)
								want[i] = float64(c[i])
							} else {
								c[i] = float32(math.NaN()) // poisoned: every element must be written
							}
						}
						matMul(kern, m, n, k, a, b, c, ldc, acc, 2)
						naive(m, n, k, a, b, want, ldc)
						got := make([]float64, 0, m*n)
						exp := make([]float64, 0, m*n)
						for i := range m {
							got = append(got, check.Float64s(c[i*ldc:i*ldc+n])...)
							exp = append(exp, want[i*ldc:i*ldc+n]...)
							for j := n; j < ldc && i*ldc+j < len(c); j++ {
								if !acc {
									require.True(t, math.IsNaN(float64(c[i*ldc+j])), "wrote outside C at (%d,%d)", i, j)
								}
							}
						}
						require.Less(t, check.RelFrobenius(got, exp), 1e-5)
					})
				}
			}
		}
	}
}

func TestMatMulZeroK(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	MatMul(2, 2, 0, Matrix{Stride: 1}, Matrix{Stride: 2}, c, 2, true, 1)
	require.Equal(t, []float32{1, 2, 3, 4}, c)
	MatMul(2, 2, 0, Matrix{Stride: 1}, Matrix{Stride: 2}, c, 2, false, 1)
	require.Equal(t, []float32{0, 0, 0, 0}, c)
}

func BenchmarkMatMul(b *testing.B) {
	for _, kern := range kernels {
		for _, n := range []int{256, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/n=%d", kern.name, n), func(b *testing.B) {
				x := make([]float32, n*n)
				for i := range x {
					x[i] = float32(i%13) - 6
				}
				c := make([]float32, n*n)
				b.SetBytes(0)
				for b.Loop() {
					matMul(kern, n, n, n, Matrix{Data: x, Stride: n}, Matrix{Data: x, Stride: n}, c, n, false, 2)
				}
				b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkKernel times one micro-kernel on panels that stay in cache: the
// ceiling the blocked loops can reach on one core.
func BenchmarkKernel(b *testing.B) {
	for _, kern := range kernels {
		b.Run(kern.name, func(b *testing.B) {
			const kc = kcBlock
			a := make([]float32, kern.mr*kc)
			bb := make([]float32, kern.nr*kc)
			for i := range a {
				a[i] = 1e-3
			}
			for i := range bb {
				bb[i] = 1e-3
			}
			c := make([]float32, kern.mr*kern.nr)
			for b.Loop() {
				kern.fn(kc, &a[0], &bb[0], &c[0], kern.nr, true)
			}
			b.ReportMetric(2*float64(kern.mr*kern.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
