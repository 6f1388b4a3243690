package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// w4a4Tol is the spec's tolerance for the float32 W4A4 GEMM against the
// float64 evaluation of the quantized formula (relative Frobenius).
const w4a4Tol = 1e-6

type w4a4Case struct {
	m, n, k, group int
	frac           float64
}

// testW4A4 checks the quantized GEMM against ref on fixed edge shapes (one
// element, K shorter than a group, groups of one column, full and partial
// tiles) and on random sizes with odd K, at int8 fractions 0, 0.25 and 1;
// then the exactness of the integer group sums and the quantize-and-multiply
// entry point.
func testW4A4(t *testing.T, e *engine.Engine) {
	r := check.NewRand(t)
	cases := []w4a4Case{
		{1, 1, 1, 128, 0},
		{3, 5, 7, 128, 1},  // one short group
		{4, 6, 9, 1, 0.25}, // every column a group
		{16, 64, 128, 32, 0.25},
	}
	random := 6
	if testing.Short() {
		random = 2
	} else {
		cases = append(cases, w4a4Case{150, 70, 45, 16, 0.25}) // rows past a CPU row chunk
	}
	for range random {
		for _, frac := range []float64{0, 0.25, 1} {
			cases = append(cases, w4a4Case{
				m: 1 + r.IntN(40), n: 1 + r.IntN(80), k: 2*r.IntN(150) + 1,
				group: []int{8, 16, 32, 64, 128}[r.IntN(5)], frac: frac,
			})
		}
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("m%d_n%d_k%d_g%d_f%v", c.m, c.n, c.k, c.group, c.frac), func(t *testing.T) {
			w4a4GEMMCase(t, e, check.NewRand(t), c)
		})
	}
	t.Run("exact-group-sums", func(t *testing.T) { w4a4ExactCase(t, e, check.NewRand(t)) })
	t.Run("quantize-and-multiply", func(t *testing.T) { w4a4EndToEndCase(t, e, check.NewRand(t)) })
}

// w4a4Matrix returns rows x cols random values, never zero, whose column
// groups differ in magnitude by up to 2^6 either way, so that the int8
// choice has outliers to find.
func w4a4Matrix(t *testing.T, r *rand.Rand, rows, cols, group int) *engine.Tensor {
	v := check.Float32s(check.Uniform(r, rows*cols))
	for g := range quant.Groups(cols, group) {
		s := float32(math.Exp2(float64(r.IntN(13) - 6)))
		lo, hi := quant.GroupBounds(cols, group, g)
		for i := range rows {
			for j := lo; j < hi; j++ {
				v[i*cols+j] *= s
			}
		}
	}
	x, err := tensor.FromFloat32(v, rows, cols)
	require.NoError(t, err)
	return x
}

func w4a4GEMMCase(t *testing.T, e *engine.Engine, r *rand.Rand, c w4a4Case) {
	a, err := engine.QuantizeActivations(w4a4Matrix(t, r, c.m, c.k, c.group), c.group, c.frac)
	require.NoError(t, err)
	w, err := engine.QuantizeWeights(w4a4Matrix(t, r, c.n, c.k, c.group), c.group)
	require.NoError(t, err)
	require.Equal(t, quant.Int8Count(c.frac, quant.Groups(c.k, c.group)), countInt8(a.Is8))
	want := ref.W4A4(a, w)

	y, err := tensor.New(tensor.Float32, c.m, c.n)
	require.NoError(t, err)
	y.FillNaN()
	require.NoError(t, e.W4A4GEMMInto(t.Context(), backend.W4A4Args{A: a, W: w, Y: y}))
	require.Less(t, check.RelFrobenius(check.Float64s(y.Float32()), want), w4a4Tol, "y (into)")

	y, err = e.W4A4GEMM(t.Context(), a, w)
	require.NoError(t, err)
	require.Equal(t, []int{c.m, c.n}, y.Shape())
	require.Equal(t, tensor.Float32, y.DType())
	require.Less(t, check.RelFrobenius(check.Float64s(y.Float32()), want), w4a4Tol, "y")
}

func countInt8(is8 []bool) int {
	n := 0
	for _, b := range is8 {
		if b {
			n++
		}
	}
	return n
}

// w4a4ExactCase sets every scale to 1, so y[m,n] is the plain integer sum of
// the group sums; with extreme codes (+-127 against +-7) and |y| < 2^24 it is
// exact in float32, so any inexact or overflowing integer sum shows.
func w4a4ExactCase(t *testing.T, e *engine.Engine, r *rand.Rand) {
	const m, n, k, group = 19, 67, 301, 64 // |y| <= 127*7*301 < 2^24
	groups := quant.Groups(k, group)
	is8 := make([]bool, groups)
	for g := range is8 {
		is8[g] = g%2 == 0
	}
	extreme := func(qmax int8) int8 {
		if r.IntN(4) == 0 {
			return int8(r.IntN(2*int(qmax)+1)) - qmax
		}
		return []int8{-qmax, qmax}[r.IntN(2)]
	}
	ac := make([]int8, m*k)
	for i := range ac {
		if is8[i%k/group] {
			ac[i] = extreme(127)
		} else {
			ac[i] = extreme(7)
		}
	}
	wc := make([]int8, n*k)
	for i := range wc {
		wc[i] = extreme(7)
	}
	ones := func(l int) []float32 {
		s := make([]float32, l)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	a, err := quant.NewActivations(ac, ones(m*groups), is8, m, k, group)
	require.NoError(t, err)
	w, err := quant.NewWeights(wc, ones(n*groups), n, k, group)
	require.NoError(t, err)
	sums := ref.W4A4GroupSums(a, w)

	y, err := tensor.New(tensor.Float32, m, n)
	require.NoError(t, err)
	y.FillNaN()
	require.NoError(t, e.W4A4GEMMInto(t.Context(), backend.W4A4Args{A: a, W: w, Y: y}))
	for i := range m * n {
		var s int64
		for _, v := range sums[i*groups : (i+1)*groups] {
			s += v
		}
		require.Equal(t, float32(s), y.Float32()[i], "y[%d, %d]", i/n, i%n)
	}
}

// w4a4EndToEndCase checks W4A4 (quantize both operands, multiply, measure the
// error): y as from the quantized GEMM, and the reported error as computed
// here in float64.
func w4a4EndToEndCase(t *testing.T, e *engine.Engine, r *rand.Rand) {
	const m, n, k, group = 9, 70, 99, 32
	x := w4a4Matrix(t, r, m, k, group)
	wt := w4a4Matrix(t, r, n, k, group)
	res, err := e.W4A4(t.Context(), x, wt, group, 0.25)
	require.NoError(t, err)
	a, err := engine.QuantizeActivations(x, group, 0.25)
	require.NoError(t, err)
	w, err := engine.QuantizeWeights(wt, group)
	require.NoError(t, err)
	got := check.Float64s(res.Y.Float32())
	require.Less(t, check.RelFrobenius(got, ref.W4A4(a, w)), w4a4Tol)

	xv, wv := check.Float64s(x.Float32()), check.Float64s(wt.Float32())
	exact := make([]float64, m*n)
	for i := range m {
		for j := range n {
			for l := range k {
				exact[i*n+j] += xv[i*k+l] * wv[j*k+l]
			}
		}
	}
	// The float32 GEMM the engine measures against is within ~1e-6 of this one.
	require.InDelta(t, check.RelFrobenius(got, exact), res.RelErr, 1e-4)
	require.Greater(t, res.RelErr, 0.0, "4-bit quantization is not exact on random data")
	require.Less(t, res.RelErr, 0.5)
}
