package cpu_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// monarchCase holds random operands of one dtype and their float64 values.
type monarchCase struct {
	d                 ref.MonarchDims
	x, w1, w2, dy     *tensor.Tensor
	xv, w1v, w2v, dyv []float64
}

func newMonarchCase(t testing.TB, r *rand.Rand, dt tensor.DType, d ref.MonarchDims) *monarchCase {
	t.Helper()
	mk := func(shape ...int) (*tensor.Tensor, []float64) {
		x, err := tensor.New(dt, shape...)
		require.NoError(t, err)
		require.NoError(t, x.SetFromFloat64(check.Uniform(r, x.Len())))
		v, err := x.AsFloat64()
		require.NoError(t, err)
		return x, v
	}
	c := &monarchCase{d: d}
	c.x, c.xv = mk(d.Batch, d.N())
	c.w1, c.w1v = mk(d.K, d.Q, d.P)
	c.w2, c.w2v = mk(d.L, d.S, d.R)
	c.dy, c.dyv = mk(d.Batch, d.M())
	return c
}

func monarchPoisoned(t *testing.T, dt tensor.DType, shape ...int) *tensor.Tensor {
	t.Helper()
	y, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	y.FillNaN()
	return y
}

func monarchRequireClose(t *testing.T, name string, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	g, err := got.AsFloat64()
	require.NoError(t, err)
	rel := check.RelFrobenius(g, want)
	require.LessOrEqualf(t, rel, tol, "%s: relative Frobenius error %.3g", name, rel)
}

// The float32 path splits work by row chunks when there are enough rows and
// by blocks otherwise; every thread count and row count around the chunk
// size (48) must give the reference's result, forward and backward. The
// second factor runs its blocks side by side in SIMD lanes (16 or 8 wide)
// and the rest one by one: L of 16 and 32 fills whole vectors, 18 leaves
// two blocks over, and under 8 runs them all one by one. With L of 32 the
// intermediate is padded and its runs of L split the first factor's blocks.
func TestMonarchFloat32Paths(t *testing.T) {
	r := check.NewRand(t)
	shapes := []ref.MonarchDims{
		{K: 4, Q: 4, P: 4, L: 4, S: 4, R: 4},
		{K: 3, Q: 10, P: 7, L: 5, S: 9, R: 6},
		{K: 16, Q: 2, P: 3, L: 1, S: 5, R: 32},
		{K: 4, Q: 8, P: 5, L: 16, S: 6, R: 2},
		{K: 2, Q: 18, P: 3, L: 18, S: 5, R: 2},
		{K: 4, Q: 24, P: 5, L: 32, S: 6, R: 3},
	}
	for _, threads := range []int{1, 2, 3, 8} {
		b := cpu.New(threads)
		for _, sh := range shapes {
			for _, batch := range []int{0, 1, 2, 7, 47, 49, 101} {
				d := sh
				d.Batch = batch
				t.Run(fmt.Sprintf("threads%d/%dx%dx%d-%dx%dx%d/batch%d", threads, d.K, d.Q, d.P, d.L, d.S, d.R, batch), func(t *testing.T) {
					c := newMonarchCase(t, r, tensor.Float32, d)
					want := make([]float64, d.Batch*d.M())
					ref.MonarchForward(d, c.xv, c.w1v, c.w2v, want)
					y := monarchPoisoned(t, tensor.Float32, d.Batch, d.M())
					require.NoError(t, b.MonarchForward(t.Context(), backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2, Y: y}))
					monarchRequireClose(t, "y", y, want, 1e-5)

					wdx, wdw1, wdw2 := make([]float64, len(c.xv)), make([]float64, len(c.w1v)), make([]float64, len(c.w2v))
					ref.MonarchBackward(d, c.xv, c.w1v, c.w2v, c.dyv, wdx, wdw1, wdw2)
					a := backend.MonarchGradArgs{X: c.x, W1: c.w1, W2: c.w2, DY: c.dy,
						DX: monarchPoisoned(t, tensor.Float32, c.x.Shape()...), DW1: monarchPoisoned(t, tensor.Float32, c.w1.Shape()...),
						DW2: monarchPoisoned(t, tensor.Float32, c.w2.Shape()...)}
					require.NoError(t, b.MonarchBackward(t.Context(), a))
					monarchRequireClose(t, "dx", a.DX, wdx, 1e-5)
					monarchRequireClose(t, "dw1", a.DW1, wdw1, 1e-5)
					monarchRequireClose(t, "dw2", a.DW2, wdw2, 1e-5)
				})
			}
		}
	}
}

// Half-precision operands are widened to float32, computed there and
// rounded once: the result equals rounding the float32 path's result.
func TestMonarchHalfRoundsFloat32Result(t *testing.T) {
	r := check.NewRand(t)
	b := cpu.New(2)
	d := ref.MonarchDims{Batch: 11, K: 3, Q: 10, P: 7, L: 5, S: 9, R: 6}
	for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16} {
		t.Run(dt.String(), func(t *testing.T) {
			c := newMonarchCase(t, r, dt, d)
			f32 := func(v []float64, shape ...int) *tensor.Tensor {
				x, err := tensor.FromFloat32(check.Float32s(v), shape...)
				require.NoError(t, err)
				return x
			}
			x32, w132, w232, dy32 := f32(c.xv, c.x.Shape()...), f32(c.w1v, c.w1.Shape()...), f32(c.w2v, c.w2.Shape()...), f32(c.dyv, c.dy.Shape()...)
			rounded := func(t32 *tensor.Tensor) []float64 {
				h, err := tensor.New(dt, t32.Shape()...)
				require.NoError(t, err)
				require.NoError(t, h.SetFromFloat64(check.Float64s(t32.Float32())))
				v, err := h.AsFloat64()
				require.NoError(t, err)
				return v
			}
			asF64 := func(x *tensor.Tensor) []float64 {
				v, err := x.AsFloat64()
				require.NoError(t, err)
				return v
			}

			y32 := monarchPoisoned(t, tensor.Float32, d.Batch, d.M())
			require.NoError(t, b.MonarchForward(t.Context(), backend.MonarchArgs{X: x32, W1: w132, W2: w232, Y: y32}))
			y := monarchPoisoned(t, dt, d.Batch, d.M())
			require.NoError(t, b.MonarchForward(t.Context(), backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2, Y: y}))
			require.Equal(t, rounded(y32), asF64(y))

			g32 := backend.MonarchGradArgs{X: x32, W1: w132, W2: w232, DY: dy32,
				DX: monarchPoisoned(t, tensor.Float32, c.x.Shape()...), DW1: monarchPoisoned(t, tensor.Float32, c.w1.Shape()...),
				DW2: monarchPoisoned(t, tensor.Float32, c.w2.Shape()...)}
			require.NoError(t, b.MonarchBackward(t.Context(), g32))
			g := backend.MonarchGradArgs{X: c.x, W1: c.w1, W2: c.w2, DY: c.dy,
				DX: monarchPoisoned(t, dt, c.x.Shape()...), DW1: monarchPoisoned(t, dt, c.w1.Shape()...), DW2: monarchPoisoned(t, dt, c.w2.Shape()...)}
			require.NoError(t, b.MonarchBackward(t.Context(), g))
			require.Equal(t, rounded(g32.DX), asF64(g.DX))
			require.Equal(t, rounded(g32.DW1), asF64(g.DW1))
			require.Equal(t, rounded(g32.DW2), asF64(g.DW2))
		})
	}
}

func TestMonarchCancelled(t *testing.T) {
	r := check.NewRand(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := cpu.New(2)
	d := ref.MonarchDims{Batch: 20, K: 4, Q: 4, P: 4, L: 4, S: 4, R: 4}
	for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32, tensor.Float16, tensor.BFloat16} {
		c := newMonarchCase(t, r, dt, d)
		err := b.MonarchForward(ctx, backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2, Y: monarchPoisoned(t, dt, d.Batch, d.M())})
		require.ErrorIs(t, err, context.Canceled, "%v forward", dt)
		err = b.MonarchBackward(ctx, backend.MonarchGradArgs{X: c.x, W1: c.w1, W2: c.w2, DY: c.dy, DX: monarchPoisoned(t, dt, c.x.Shape()...)})
		require.ErrorIs(t, err, context.Canceled, "%v backward", dt)
	}
}

// monarchFakeBuffer stands for device memory the CPU cannot read.
type monarchFakeBuffer struct{ n int64 }

func (f monarchFakeBuffer) Device() string { return "fake:0" }
func (f monarchFakeBuffer) Bytes() int64   { return f.n }

// Called directly, the backend validates its arguments and refuses device
// tensors with errors, never a panic.
func TestMonarchBackendRejectsBadArguments(t *testing.T) {
	r := check.NewRand(t)
	b := cpu.New(1)
	d := ref.MonarchDims{Batch: 3, K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4}
	c := newMonarchCase(t, r, tensor.Float32, d)
	dev, err := tensor.OnDevice(tensor.Float32, monarchFakeBuffer{1 << 20}, d.Batch, d.M())
	require.NoError(t, err)
	err = b.MonarchForward(t.Context(), backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2, Y: dev})
	require.ErrorIs(t, err, errs.ErrUnsupported)
	devDX, err := tensor.OnDevice(tensor.Float32, monarchFakeBuffer{1 << 20}, c.x.Shape()...)
	require.NoError(t, err)
	err = b.MonarchBackward(t.Context(), backend.MonarchGradArgs{X: c.x, W1: c.w1, W2: c.w2, DY: c.dy, DX: devDX})
	require.ErrorIs(t, err, errs.ErrUnsupported)

	err = b.MonarchForward(t.Context(), backend.MonarchArgs{X: c.x, W1: c.w2, W2: c.w1, Y: monarchPoisoned(t, tensor.Float32, d.Batch, d.M())})
	require.ErrorIs(t, err, errs.ErrShape)
	err = b.MonarchForward(t.Context(), backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2})
	require.ErrorIs(t, err, errs.ErrArgument)
	err = b.MonarchBackward(t.Context(), backend.MonarchGradArgs{X: c.x, W1: c.w1, W2: c.w2, DY: c.x})
	require.ErrorIs(t, err, errs.ErrShape)
}

// One backend serves concurrent calls (run under -race).
func TestMonarchConcurrentCalls(t *testing.T) {
	r := check.NewRand(t)
	b := cpu.New(2)
	d := ref.MonarchDims{Batch: 17, K: 3, Q: 10, P: 7, L: 5, S: 9, R: 6}
	cases := make([]*monarchCase, 4)
	wants := make([][]float64, len(cases))
	for i := range cases {
		cases[i] = newMonarchCase(t, r, tensor.Float32, d)
		wants[i] = make([]float64, d.Batch*d.M())
		ref.MonarchForward(d, cases[i].xv, cases[i].w1v, cases[i].w2v, wants[i])
	}
	ys := make([]*tensor.Tensor, len(cases))
	errsOut := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		ys[i] = monarchPoisoned(t, tensor.Float32, d.Batch, d.M())
		wg.Go(func() {
			errsOut[i] = b.MonarchForward(context.Background(), backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2, Y: ys[i]})
		})
	}
	wg.Wait()
	for i := range cases {
		require.NoError(t, errsOut[i])
		monarchRequireClose(t, "y", ys[i], wants[i], 1e-5)
	}
}
