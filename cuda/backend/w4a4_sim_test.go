//go:build cudasim

package backend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// w4a4Operands quantizes random (never zero) x (m, k) and w (n, k) and
// returns them with y (m, n) poisoned.
func w4a4Operands(t *testing.T, m, n, k, group int, frac float64) backend.W4A4Args {
	r := newRand(t)
	a, err := quant.QuantizeActivations(check.Float32s(uniform(r, m*k)), m, k, group, frac)
	require.NoError(t, err)
	w, err := quant.QuantizeWeights(check.Float32s(uniform(r, n*k)), n, k, group)
	require.NoError(t, err)
	y, err := tensor.New(tensor.Float32, m, n)
	require.NoError(t, err)
	y.FillNaN()
	return backend.W4A4Args{A: a, W: w, Y: y}
}

// TestW4A4GEMM runs both kernels (w4a4_gemm_m16, w4a4_gemm_m64, and the
// plan's choice) on the simulator against the float64 evaluation of the
// quantized formula at the spec's 1e-6, y poisoned: odd M, N and K; int8
// fractions 0, 0.25 and 1 (int4 only, mixed, int8 only); groups of 1, 8,
// 16, 32, 64, 100 and 128 (several groups per stage, groups spanning
// stages, short last groups, K shorter than a group); partial row and
// column tiles, several of each, and more than one stage of 4 steps.
func TestW4A4GEMM(t *testing.T) {
	b := openSim(t)
	cases := []struct {
		m, n, k, group int
		frac           float64
	}{
		{1, 1, 1, 128, 0},
		{3, 5, 7, 128, 1},
		{7, 9, 13, 1, 0.25},
		{17, 65, 301, 128, 0.25},
		{67, 70, 257, 64, 1},
		{70, 129, 333, 100, 0.25},
		{33, 31, 263, 32, 0},
		{65, 67, 149, 8, 0.25},
		{5, 130, 511, 16, 1},
	}
	if testing.Short() {
		cases = cases[:6]
	}
	for _, c := range cases {
		for _, tile := range []int{0, 16, 64} {
			t.Run(fmt.Sprintf("m%d_n%d_k%d_g%d_f%v_tile%d", c.m, c.n, c.k, c.group, c.frac, tile), func(t *testing.T) {
				a := w4a4Operands(t, c.m, c.n, c.k, c.group, c.frac)
				o := cudabackend.W4A4Options{RowTile: tile}
				plan, err := b.W4A4PlanFor(a, o)
				require.NoError(t, err)
				if tile != 0 {
					require.Equal(t, tile, plan.RowTile)
				}
				require.NoError(t, b.W4A4GEMMWith(t.Context(), a, o))
				require.Less(t, relFrobenius(check.Float64s(a.Y.Float32()), ref.W4A4(a.A, a.W)), 1e-6)
			})
		}
	}
}

// TestW4A4GEMMExact sets every scale to 1: y is then the plain sum of the
// integer group sums (codes up to +-127 against +-7 in the 8-bit groups),
// below 2^24 and so exact in float32, which any inexact, overflowing or
// misplaced integer sum breaks; on both kernels, half the groups 8-bit.
func TestW4A4GEMMExact(t *testing.T) {
	b := openSim(t)
	const m, n, k, group = 70, 67, 301, 48
	groups := quant.Groups(k, group)
	for _, tile := range []int{16, 64} {
		a := w4a4Operands(t, m, n, k, group, 0.5)
		for _, s := range [][]float32{a.A.Scales, a.W.Scales} {
			for i := range s {
				s[i] = 1
			}
		}
		sums := ref.W4A4GroupSums(a.A, a.W)
		want := make([]float32, m*n)
		for i := range want {
			var s int64
			for g := range groups {
				s += sums[i*groups+g]
			}
			require.Less(t, max(s, -s), int64(1<<24))
			want[i] = float32(s)
		}
		require.NoError(t, b.W4A4GEMMWith(t.Context(), a, cudabackend.W4A4Options{RowTile: tile}))
		require.Equal(t, want, a.Y.Float32(), "tile %d", tile)
	}
}

// TestW4A4GEMMEmpty: K = 0 gives y = 0 (every element written), M = 0 and
// N = 0 launch nothing.
func TestW4A4GEMMEmpty(t *testing.T) {
	b := openSim(t)
	a, err := quant.NewActivations(nil, nil, nil, 3, 0, 16)
	require.NoError(t, err)
	w, err := quant.NewWeights(nil, nil, 5, 0, 16)
	require.NoError(t, err)
	y, err := tensor.New(tensor.Float32, 3, 5)
	require.NoError(t, err)
	y.FillNaN()
	require.NoError(t, b.W4A4GEMM(t.Context(), backend.W4A4Args{A: a, W: w, Y: y}))
	assert.Equal(t, make([]float32, 15), y.Float32())

	for _, mn := range [][2]int{{0, 4}, {4, 0}} {
		a := w4a4Operands(t, mn[0], mn[1], 9, 4, 0.25)
		require.NoError(t, b.W4A4GEMM(t.Context(), a))
	}
}

// TestW4A4GEMMErrors: bad arguments fail with their error kind before
// anything reaches the device.
func TestW4A4GEMMErrors(t *testing.T) {
	b := openSim(t)
	good := func() backend.W4A4Args { return w4a4Operands(t, 3, 4, 20, 8, 0.25) }
	other := w4a4Operands(t, 3, 4, 21, 8, 0.25)
	otherGroup := w4a4Operands(t, 3, 4, 20, 4, 0.25)
	for name, c := range map[string]struct {
		edit func(*backend.W4A4Args)
		o    cudabackend.W4A4Options
		want error
	}{
		"nil activations": {edit: func(a *backend.W4A4Args) { a.A = nil }, want: errs.ErrArgument},
		"nil weights":     {edit: func(a *backend.W4A4Args) { a.W = nil }, want: errs.ErrArgument},
		"nil y":           {edit: func(a *backend.W4A4Args) { a.Y = nil }, want: errs.ErrArgument},
		"y shape": {edit: func(a *backend.W4A4Args) {
			a.Y, _ = tensor.New(tensor.Float32, 4, 3)
		}, want: errs.ErrShape},
		"y dtype": {edit: func(a *backend.W4A4Args) {
			a.Y, _ = tensor.New(tensor.Float64, 3, 4)
		}, want: errs.ErrDType},
		"k mismatch":     {edit: func(a *backend.W4A4Args) { a.W = other.W }, want: errs.ErrShape},
		"group mismatch": {edit: func(a *backend.W4A4Args) { a.W = otherGroup.W }, want: errs.ErrShape},
		"bad code": {edit: func(a *backend.W4A4Args) {
			a.W.Codes[0] = 0x08 // the nibble -8
		}, want: errs.ErrFormat},
		"bad scale": {edit: func(a *backend.W4A4Args) { a.A.Scales[1] = -1 }, want: errs.ErrFormat},
		"row tile":  {o: cudabackend.W4A4Options{RowTile: 32}, want: errs.ErrArgument},
	} {
		t.Run(name, func(t *testing.T) {
			a := good()
			if c.edit != nil {
				c.edit(&a)
			}
			if a.Y != nil && a.Y.DType() == tensor.Float32 {
				a.Y.FillNaN()
			}
			err := b.W4A4GEMMWith(t.Context(), a, c.o)
			require.ErrorIs(t, err, c.want)
			if a.Y != nil && a.Y.DType() == tensor.Float32 {
				for _, v := range a.Y.Float32() {
					require.True(t, v != v, "y untouched (still NaN)")
				}
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, b.W4A4GEMM(ctx, good()), context.Canceled)
}
