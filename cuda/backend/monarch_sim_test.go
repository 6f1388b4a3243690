//go:build cudasim

package backend_test

import (
	"fmt"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// monarchArith is one of the kernels' arithmetics, with its tolerance
// against the float64 reference (relative Frobenius):
//   - f32 (precise, FMA): the spec's float32 1e-5;
//   - f16, bf16: the spec's 1e-2 for 16-bit operands with float32 accumulation;
//   - tf32: 2e-3. tf32 keeps 10 explicit mantissa bits (cvt.rna: relative
//     rounding error <= 2^-11 = 4.9e-4 per operand, as float16), so the
//     spec's float16 class (1e-2) would apply; observed errors on these
//     tests are 2e-4 to 7.4e-4 (products of two rounded operands, the
//     intermediate rounded again before the second product). 2e-3 keeps a
//     2.7x margin and is below most of what a path rounding to bfloat16
//     gives (1.2e-3 to 3.9e-3 here), which 1e-2 would let through.
type monarchArith struct {
	name string
	dt   tensor.DType
	math cudabackend.MonarchMath
	tol  float64
}

var (
	arithF32  = monarchArith{"f32", tensor.Float32, cudabackend.MonarchPrecise, 1e-5}
	arithTF32 = monarchArith{"tf32", tensor.Float32, cudabackend.MonarchTF32, 2e-3}
	arithF16  = monarchArith{"f16", tensor.Float16, cudabackend.MonarchPrecise, 1e-2}
	arithBF16 = monarchArith{"bf16", tensor.BFloat16, cudabackend.MonarchPrecise, 1e-2}
	allArith  = []monarchArith{arithF32, arithTF32, arithF16, arithBF16}
)

// monarchInputs draws x, w1, w2 (and dy) in dt, never zero, with their
// values as the kernels see them.
type monarchInputs struct {
	x, w1, w2, dy     *tensor.Tensor
	xv, w1v, w2v, dyv []float64
}

func newMonarchInputs(t *testing.T, d ref.MonarchDims, dt tensor.DType) monarchInputs {
	r := newRand(t)
	var in monarchInputs
	in.x, in.xv = conformance.GLATensor(t, dt, uniform(r, d.Batch*d.N()), d.Batch, d.N())
	in.w1, in.w1v = conformance.GLATensor(t, dt, uniform(r, d.K*d.Q*d.P), d.K, d.Q, d.P)
	in.w2, in.w2v = conformance.GLATensor(t, dt, uniform(r, d.L*d.S*d.R), d.L, d.S, d.R)
	in.dy, in.dyv = conformance.GLATensor(t, dt, uniform(r, d.Batch*d.M()), d.Batch, d.M())
	return in
}

func poisoned(t *testing.T, dt tensor.DType, shape ...int) *tensor.Tensor {
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	x.FillNaN()
	return x
}

func requireClose(t *testing.T, name string, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	g, err := got.AsFloat64()
	require.NoError(t, err)
	rel := relFrobenius(g, want)
	t.Logf("%s: relative error %.3g", name, rel)
	assert.LessOrEqual(t, rel, tol, "%s", name)
}

// monarchForwardCase runs one forward on the simulator with y poisoned and
// compares it with ref, checking the plan's path when want is not auto.
func monarchForwardCase(t *testing.T, b *cudabackend.Backend, d ref.MonarchDims, ar monarchArith, o cudabackend.MonarchOptions, want cudabackend.MonarchPath) {
	in := newMonarchInputs(t, d, ar.dt)
	o.Math = ar.math
	a := backend.MonarchArgs{X: in.x, W1: in.w1, W2: in.w2, Y: poisoned(t, ar.dt, d.Batch, d.M())}
	plan, err := b.MonarchPlanFor(a, o)
	require.NoError(t, err)
	t.Logf("plan %+v", plan)
	if want != cudabackend.MonarchAuto {
		require.Equal(t, want, plan.Path)
	}
	require.NoError(t, b.MonarchForwardWith(t.Context(), a, o))
	wantY := make([]float64, d.Batch*d.M())
	ref.MonarchForward(d, in.xv, in.w1v, in.w2v, wantY)
	requireClose(t, "y", a.Y, wantY, ar.tol)
}

// TestMonarchForward checks the fused and two-pass forward kernels of every
// arithmetic against ref: square (n = 256, 16 x 16 blocks), rectangular
// (w1 4x24x12, w2 6x8x16), odd sizes that defeat 16-byte copies, batches
// that are not a multiple of the row tile, every row tile, several tiles
// per thread block, and the two-pass path forced on the same shapes.
func TestMonarchForward(t *testing.T) {
	b := openSim(t)
	fused, two := cudabackend.MonarchFused, cudabackend.MonarchTwoPass
	shapes := []struct {
		name string
		d    ref.MonarchDims
	}{
		{"square", ref.MonarchDims{Batch: 37, K: 16, Q: 16, P: 16, L: 16, S: 16, R: 16}},
		{"rectangular", ref.MonarchDims{Batch: 21, K: 4, Q: 24, P: 12, L: 6, S: 8, R: 16}},
		{"odd", ref.MonarchDims{Batch: 13, K: 5, Q: 3, P: 7, L: 3, S: 9, R: 5}},
		{"one-row", ref.MonarchDims{Batch: 1, K: 3, Q: 4, P: 5, L: 6, S: 2, R: 2}},
	}
	for _, sh := range shapes {
		for _, ar := range allArith {
			t.Run(fmt.Sprintf("%s/%s/fused", sh.name, ar.name), func(t *testing.T) {
				monarchForwardCase(t, b, sh.d, ar, cudabackend.MonarchOptions{}, fused)
			})
			t.Run(fmt.Sprintf("%s/%s/two-pass", sh.name, ar.name), func(t *testing.T) {
				monarchForwardCase(t, b, sh.d, ar, cudabackend.MonarchOptions{Path: two}, two)
			})
		}
	}
	// Row tiles other than the heuristic's 16 at this batch, and fewer
	// thread blocks than tiles (the blocks stride over the tiles, reusing
	// their zeroed padding).
	sq := shapes[0].d
	for _, o := range []cudabackend.MonarchOptions{{RowTile: 32}, {RowTile: 48}, {RowTile: 64}, {RowTile: 16, Blocks: 2}} {
		for _, ar := range []monarchArith{arithF32, arithBF16} {
			t.Run(fmt.Sprintf("tile%d-blocks%d/%s", o.RowTile, o.Blocks, ar.name), func(t *testing.T) {
				monarchForwardCase(t, b, sq, ar, o, fused)
			})
		}
	}
	// The nblocks=4 style: 4 large blocks. Two buffers of one weight block
	// exceed shared memory (bfloat16 256 x 256: 270 KiB; float32 160 x 160:
	// 210 KiB, plus the intermediate), so the backend takes the two-pass
	// path by itself.
	for _, c := range []struct {
		ar monarchArith
		d  ref.MonarchDims
	}{
		{arithBF16, ref.MonarchDims{Batch: 20, K: 4, Q: 256, P: 256, L: 4, S: 256, R: 256}},
		{arithTF32, ref.MonarchDims{Batch: 20, K: 4, Q: 160, P: 160, L: 4, S: 160, R: 160}},
	} {
		t.Run("nblocks4/"+c.ar.name, func(t *testing.T) {
			monarchForwardCase(t, b, c.d, c.ar, cudabackend.MonarchOptions{}, two)
		})
	}
}

// TestMonarchBackward checks dx, dw1 and dw2 of every arithmetic against
// ref.MonarchBackward, all poisoned, on square, rectangular and odd shapes
// and a batch long enough to split the weight gradients (300 rows: two
// splits, the second shorter); each gradient alone too.
func TestMonarchBackward(t *testing.T) {
	b := openSim(t)
	for _, d := range []ref.MonarchDims{
		{Batch: 37, K: 16, Q: 16, P: 16, L: 16, S: 16, R: 16},
		{Batch: 21, K: 4, Q: 24, P: 12, L: 6, S: 8, R: 16},
		{Batch: 13, K: 5, Q: 3, P: 7, L: 3, S: 9, R: 5},
		{Batch: 300, K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4},
	} {
		for _, ar := range allArith {
			t.Run(fmt.Sprintf("%+v/%s", d, ar.name), func(t *testing.T) {
				in := newMonarchInputs(t, d, ar.dt)
				wdx, wdw1, wdw2 := make([]float64, len(in.xv)), make([]float64, len(in.w1v)), make([]float64, len(in.w2v))
				ref.MonarchBackward(d, in.xv, in.w1v, in.w2v, in.dyv, wdx, wdw1, wdw2)
				o := cudabackend.MonarchOptions{Math: ar.math}
				a := backend.MonarchGradArgs{X: in.x, W1: in.w1, W2: in.w2, DY: in.dy,
					DX: poisoned(t, ar.dt, in.x.Shape()...), DW1: poisoned(t, ar.dt, in.w1.Shape()...), DW2: poisoned(t, ar.dt, in.w2.Shape()...)}
				require.NoError(t, b.MonarchBackwardWith(t.Context(), a, o))
				requireClose(t, "dx", a.DX, wdx, ar.tol)
				requireClose(t, "dw1", a.DW1, wdw1, ar.tol)
				requireClose(t, "dw2", a.DW2, wdw2, ar.tol)
				if d.Batch > 100 {
					return // the alone cases below gain nothing from the long batch
				}
				for i, want := range [][]float64{wdx, wdw1, wdw2} {
					g := backend.MonarchGradArgs{X: in.x, W1: in.w1, W2: in.w2, DY: in.dy}
					out := []**tensor.Tensor{&g.DX, &g.DW1, &g.DW2}[i]
					*out = poisoned(t, ar.dt, []*tensor.Tensor{in.x, in.w1, in.w2}[i].Shape()...)
					require.NoError(t, b.MonarchBackwardWith(t.Context(), g, o))
					requireClose(t, []string{"dx alone", "dw1 alone", "dw2 alone"}[i], *out, want, ar.tol)
				}
			})
		}
	}
}

// TestMonarchEmptyBatch: no rows is an empty y and zero weight gradients.
func TestMonarchEmptyBatch(t *testing.T) {
	b := openSim(t)
	d := ref.MonarchDims{Batch: 0, K: 2, Q: 3, P: 4, L: 3, S: 2, R: 2}
	in := newMonarchInputs(t, d, tensor.BFloat16)
	require.NoError(t, b.MonarchForward(t.Context(), backend.MonarchArgs{X: in.x, W1: in.w1, W2: in.w2, Y: poisoned(t, tensor.BFloat16, 0, d.M())}))
	a := backend.MonarchGradArgs{X: in.x, W1: in.w1, W2: in.w2, DY: in.dy, DW1: poisoned(t, tensor.BFloat16, 2, 3, 4), DW2: poisoned(t, tensor.BFloat16, 3, 2, 2)}
	require.NoError(t, b.MonarchBackward(t.Context(), a))
	for _, g := range []*tensor.Tensor{a.DW1, a.DW2} {
		v, err := g.AsFloat64()
		require.NoError(t, err)
		assert.Equal(t, make([]float64, g.Len()), v)
	}
}

// TestMonarchOptionErrors: a forced fused path that does not fit, or a
// row tile that does not, is a limit error; a row tile the kernel does not
// have is an argument error; all before any allocation.
func TestMonarchOptionErrors(t *testing.T) {
	b := openSim(t)
	x, w1, w2 := f32(t, 1, 1024), f32(t, 4, 256, 256), f32(t, 4, 256, 256)
	a := backend.MonarchArgs{X: x, W1: w1, W2: w2, Y: f32(t, 1, 1024)}
	assert.ErrorIs(t, b.MonarchForwardWith(t.Context(), a, cudabackend.MonarchOptions{Path: cudabackend.MonarchFused}), errs.ErrLimit)
	// The shape in bfloat16 (n = 4096, 64 blocks of 64): the
	// intermediate of 16 rows (128 KiB) fits, of 64 rows (512 KiB) not.
	bf := func(shape ...int) *tensor.Tensor { return poisoned(t, tensor.BFloat16, shape...) }
	a = backend.MonarchArgs{X: bf(1, 4096), W1: bf(64, 64, 64), W2: bf(64, 64, 64), Y: bf(1, 4096)}
	assert.ErrorIs(t, b.MonarchForwardWith(t.Context(), a, cudabackend.MonarchOptions{RowTile: 64}), errs.ErrLimit)
	assert.ErrorIs(t, b.MonarchForwardWith(t.Context(), a, cudabackend.MonarchOptions{RowTile: 24}), errs.ErrArgument)
}
