package conformance

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// monarchTolerances are the spec's relative Frobenius tolerances by dtype.
var monarchTolerances = []struct {
	dt  tensor.DType
	tol float64
}{
	{tensor.Float64, 1e-12},
	{tensor.Float32, 1e-5},
	{tensor.Float16, 1e-2},
	{tensor.BFloat16, 1e-2},
}

// testMonarch checks the forward and backward Monarch products against
// ref on square and rectangular shapes, one row, odd row counts and a batch
// long enough to split into partial row chunks.
func testMonarch(t *testing.T, e *engine.Engine) {
	shapes := []struct {
		name string
		d    ref.MonarchDims
	}{
		{"square", ref.MonarchDims{Batch: 5, K: 4, Q: 4, P: 4, L: 4, S: 4, R: 4}},
		{"rectangular", ref.MonarchDims{Batch: 7, K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4}},
		{"batch1", ref.MonarchDims{Batch: 1, K: 3, Q: 4, P: 5, L: 6, S: 2, R: 2}},
		{"odd", ref.MonarchDims{Batch: 13, K: 5, Q: 3, P: 7, L: 3, S: 9, R: 5}},
		{"many-rows", ref.MonarchDims{Batch: 37, K: 8, Q: 8, P: 8, L: 8, S: 8, R: 8}},
	}
	if !testing.Short() {
		shapes = append(shapes, struct {
			name string
			d    ref.MonarchDims
		}{"larger", ref.MonarchDims{Batch: 19, K: 16, Q: 12, P: 16, L: 8, S: 24, R: 24}})
	}
	for _, sh := range shapes {
		for _, tc := range monarchTolerances {
			t.Run(fmt.Sprintf("%s/%v", sh.name, tc.dt), func(t *testing.T) {
				r := check.NewRand(t)
				monarchForwardCase(t, e, r, sh.d, tc.dt, tc.tol)
				monarchBackwardCase(t, e, r, sh.d, tc.dt, tc.tol)
			})
		}
	}
}

func monarchForwardCase(t *testing.T, e *engine.Engine, r *rand.Rand, d ref.MonarchDims, dt tensor.DType, tol float64) {
	x, xv := monarchRandom(t, r, dt, d.Batch, d.N())
	w1, w1v := monarchRandom(t, r, dt, d.K, d.Q, d.P)
	w2, w2v := monarchRandom(t, r, dt, d.L, d.S, d.R)
	want := make([]float64, d.Batch*d.M())
	ref.MonarchForward(d, xv, w1v, w2v, want)

	y, err := tensor.New(dt, d.Batch, d.M())
	require.NoError(t, err)
	y.FillNaN()
	require.NoError(t, e.MonarchInto(t.Context(), y, x, w1, w2))
	monarchRequireClose(t, "y (into)", y, want, tol)

	y, err = e.Monarch(t.Context(), x, w1, w2)
	require.NoError(t, err)
	require.Equal(t, []int{d.Batch, d.M()}, y.Shape())
	require.Equal(t, dt, y.DType())
	monarchRequireClose(t, "y", y, want, tol)
}

func monarchBackwardCase(t *testing.T, e *engine.Engine, r *rand.Rand, d ref.MonarchDims, dt tensor.DType, tol float64) {
	x, xv := monarchRandom(t, r, dt, d.Batch, d.N())
	w1, w1v := monarchRandom(t, r, dt, d.K, d.Q, d.P)
	w2, w2v := monarchRandom(t, r, dt, d.L, d.S, d.R)
	dy, dyv := monarchRandom(t, r, dt, d.Batch, d.M())
	wdx, wdw1, wdw2 := make([]float64, len(xv)), make([]float64, len(w1v)), make([]float64, len(w2v))
	ref.MonarchBackward(d, xv, w1v, w2v, dyv, wdx, wdw1, wdw2)

	poisoned := func(like *tensor.Tensor) *tensor.Tensor {
		g, err := tensor.New(dt, like.Shape()...)
		require.NoError(t, err)
		g.FillNaN()
		return g
	}
	a := backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: dy, DX: poisoned(x), DW1: poisoned(w1), DW2: poisoned(w2)}
	require.NoError(t, e.MonarchBackwardInto(t.Context(), a))
	monarchRequireClose(t, "dx", a.DX, wdx, tol)
	monarchRequireClose(t, "dw1", a.DW1, wdw1, tol)
	monarchRequireClose(t, "dw2", a.DW2, wdw2, tol)

	// Each gradient alone: a backend must not depend on the others being wanted.
	for i, want := range [][]float64{wdx, wdw1, wdw2} {
		b := backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: dy}
		out := []**tensor.Tensor{&b.DX, &b.DW1, &b.DW2}[i]
		*out = poisoned([]*tensor.Tensor{x, w1, w2}[i])
		require.NoError(t, e.MonarchBackwardInto(t.Context(), b))
		monarchRequireClose(t, []string{"dx alone", "dw1 alone", "dw2 alone"}[i], *out, want, tol)
	}

	g, err := e.MonarchBackward(t.Context(), x, w1, w2, dy)
	require.NoError(t, err)
	monarchRequireClose(t, "dx (allocated)", g.DX, wdx, tol)
	monarchRequireClose(t, "dw1 (allocated)", g.DW1, wdw1, tol)
	monarchRequireClose(t, "dw2 (allocated)", g.DW2, wdw2, tol)
}

// monarchRandom returns a random tensor of dtype dt, never zero, and its
// values as the backend sees them (after rounding to dt), in float64.
func monarchRandom(t *testing.T, r *rand.Rand, dt tensor.DType, shape ...int) (*tensor.Tensor, []float64) {
	t.Helper()
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	require.NoError(t, x.SetFromFloat64(check.Uniform(r, x.Len())))
	v, err := x.AsFloat64()
	require.NoError(t, err)
	return x, v
}

func monarchRequireClose(t *testing.T, name string, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	g, err := got.AsFloat64()
	require.NoError(t, err)
	rel := check.RelFrobenius(g, want)
	require.LessOrEqualf(t, rel, tol, "%s: relative Frobenius error %.3g over %.1g", name, rel, tol)
}
