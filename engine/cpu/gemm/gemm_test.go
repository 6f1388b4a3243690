package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/matmix/matmix/engine/conformance/check"
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

// layout is how a test stores an operand: plain, transposed, or with a
// column stride (a general-stride view, as Monarch's permuted reads use).
type layout struct {
	trans bool
	col   int
}

func (l layout) String() string {
	switch {
	case l.col > 1:
		return fmt.Sprintf("col%d", l.col)
	case l.trans:
		return "T"
	}
	return "N"
}

// randMatrix stores a random rows x cols operand in layout l, with padding
// between rows (and columns) that the product must not read as data.
func randMatrix(r *rand.Rand, rows, cols int, l layout) Matrix {
	sr, sc := rows, cols // stored shape
	if l.trans {
		sr, sc = cols, rows
	}
	col := max(l.col, 1)
	stride := sc*col + 3
	return Matrix{Data: check.Float32s(check.Uniform(r, sr*stride)), Stride: stride, Trans: l.trans, ColStride: l.col}
}

// checkProduct runs one product with poisoned (or, with acc, random) C and
// compares it with the float64 triple loop; C's padding must stay untouched.
func checkProduct(t *testing.T, r *rand.Rand, run func(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool),
	m, n, k int, la, lb layout, acc bool) {
	t.Helper()
	a, b := randMatrix(r, m, k, la), randMatrix(r, k, n, lb)
	ldc := n + 5
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
	before := append([]float32(nil), c...)
	run(m, n, k, a, b, c, ldc, acc)
	naive(m, n, k, a, b, want, ldc)
	got := make([]float64, 0, m*n)
	exp := make([]float64, 0, m*n)
	for i := range m {
		got = append(got, check.Float64s(c[i*ldc:i*ldc+n])...)
		exp = append(exp, want[i*ldc:i*ldc+n]...)
		for j := n; j < ldc; j++ {
			require.Equal(t, math.Float32bits(before[i*ldc+j]), math.Float32bits(c[i*ldc+j]), "wrote outside C at (%d,%d)", i, j)
		}
	}
	require.Less(t, check.RelFrobenius(got, exp), 1e-5)
}

// Every kernel, with block sizes shrunk to a few tiles so that small
// operands cross every loop boundary (several kc, mc and nc blocks, edge
// tiles in both directions) and every path runs: one goroutine with A packed
// or read in place (row-major A, few columns), split rows, split columns, B
// packed ahead; all layouts of A and B, overwrite and accumulate.
func TestMatMulEveryKernel(t *testing.T) {
	r := check.NewRand(t)
	layouts := []layout{{}, {trans: true}, {col: 3}, {trans: true, col: 2}}
	for _, kern := range kernels {
		mr, nr := kern.mr, kern.nr
		blk := blocking{kc: 8, mc: 2 * mr, nc: 2 * nr, parFlops: 1}
		shapes := [][3]int{
			{1, 1, 1}, {5, 7, 3}, {mr, nr, 8},
			{2*mr + 1, 2*nr + 3, 17}, // several blocks each way, edges in both
			{3*mr - 1, nr - 1, 9},    // split rows, one partial column panel
			{1, 5*nr + 2, 10},        // one row: split columns
		}
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for i, la := range layouts {
				lb := layouts[(i+len(layouts)-1-m%2)%len(layouts)] // vary the pairs across shapes
				for mode, name := range []string{"serial", "parallel", "packedB"} {
					acc := (i+mode)%2 == 1 // both for every layout
					t.Run(fmt.Sprintf("%s/%dx%dx%d/%v%v/%s/acc=%v", kern.name, m, n, k, la, lb, name, acc), func(t *testing.T) {
						checkProduct(t, r, func(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool) {
							switch name {
							case "serial":
								matMul(kern, blk, m, n, k, a, b, c, ldc, acc, 1, nil)
							case "parallel":
								matMul(kern, blk, m, n, k, a, b, c, ldc, acc, 3, nil)
							default:
								var ws Workspace
								ws.MatMulPacked(m, a, packBAll(kern, blk, k, n, b), c, ldc, acc)
							}
						}, m, n, k, la, lb, acc)
					})
				}
			}
		}
	}
}

// Every layout pair, both modes, through the public entry points with the
// real block sizes (k crosses one kc block).
func TestMatMulLayouts(t *testing.T) {
	r := check.NewRand(t)
	layouts := []layout{{}, {trans: true}, {col: 4}}
	var ws Workspace
	for _, la := range layouts {
		for _, lb := range layouts {
			for _, acc := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v%v/acc=%v", la, lb, acc), func(t *testing.T) {
					checkProduct(t, r, func(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool) {
						MatMul(m, n, k, a, b, c, ldc, acc, 2)
					}, 20, 40, 260, la, lb, acc)
					// One workspace serves products of any size in turn.
					checkProduct(t, r, ws.MatMul, 13, 45, 20, la, lb, acc)
					checkProduct(t, r, ws.MatMul, 17, 33, 260, la, lb, acc)
					checkProduct(t, r, func(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool) {
						ws.MatMulPacked(m, a, PackB(k, n, b), c, ldc, acc)
					}, 11, 50, 260, la, lb, acc)
				})
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
	c = []float32{1, 2, 3, 4}
	var ws Workspace
	pb := PackB(0, 2, Matrix{Stride: 2})
	ws.MatMulPacked(2, Matrix{Stride: 1}, pb, c, 2, true)
	require.Equal(t, []float32{1, 2, 3, 4}, c)
	ws.MatMulPacked(2, Matrix{Stride: 1}, pb, c, 2, false)
	require.Equal(t, []float32{0, 0, 0, 0}, c)
}

// The assembly kernels write C unchecked: a C too short for its shape must
// panic before they run.
func TestMatMulShortC(t *testing.T) {
	a := Matrix{Data: make([]float32, 64*64), Stride: 64}
	require.Panics(t, func() { MatMul(64, 64, 64, a, a, make([]float32, 64*64-1), 64, false, 2) })
	var ws Workspace
	require.Panics(t, func() { ws.MatMulPacked(64, a, PackB(64, 64, a), make([]float32, 63*64), 64, false) })
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
				for b.Loop() {
					matMul(kern, defaultBlocking(), n, n, n, Matrix{Data: x, Stride: n}, Matrix{Data: x, Stride: n}, c, n, false, 2, nil)
				}
				b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkKernel times one micro-kernel on panels that stay in L1: the
// ceiling the blocked loops can reach on one core (2 FMA units x 16 lanes x
// 2 flops per cycle with AVX-512). Besides the mean it reports the best of
// its batches of 256 calls: on a shared machine the mean counts the time
// other processes held the core, the best batch shows the kernel itself.
func BenchmarkKernel(b *testing.B) {
	for _, kern := range kernels {
		b.Run(kern.name, func(b *testing.B) {
			const kc = 128
			a := make([]float32, kern.mr*kc)
			bb := make([]float32, kern.nr*kc)
			for i := range a {
				a[i] = 1e-3
			}
			for i := range bb {
				bb[i] = 1e-3
			}
			c := make([]float32, kern.mr*kern.nr)
			benchKernel(b, 2*float64(kern.mr*kern.nr*kc), func() { kern.fn(kc, &a[0], &bb[0], &c[0], kern.nr, true) })
		})
	}
}

// benchKernel runs call under b.Loop and reports its mean and best-batch
// GFLOP/s, flops per call.
func benchKernel(b *testing.B, flops float64, call func()) {
	const batch = 256
	best := 0.0
	n, start := 0, time.Now()
	for b.Loop() {
		call()
		if n++; n == batch {
			best = max(best, batch*flops/time.Since(start).Seconds()/1e9)
			n, start = 0, time.Now()
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(best, "best-GFLOP/s")
}
