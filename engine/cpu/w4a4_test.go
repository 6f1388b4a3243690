package cpu_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

func w4a4Operands(t testing.TB, m, n, k, group int, frac float64) (*quant.Activations, *quant.Weights) {
	r := check.NewRand(t)
	a, err := quant.QuantizeActivations(check.Float32s(check.Uniform(r, m*k)), m, k, group, frac)
	require.NoError(t, err)
	w, err := quant.QuantizeWeights(check.Float32s(check.Uniform(r, n*k)), n, k, group)
	require.NoError(t, err)
	return a, w
}

// Each output tile is computed the same way whatever the split, so the
// result is bitwise the same for every thread count (and matches ref).
func TestW4A4CPUThreadCounts(t *testing.T) {
	const m, n, k = 277, 150, 77 // several row chunks, partial tiles both ways, odd rows
	a, w := w4a4Operands(t, m, n, k, 16, 0.25)
	want := ref.W4A4(a, w)
	var first []float32
	for _, threads := range []int{1, 2, 3, 7} {
		y, err := tensor.New(tensor.Float32, m, n)
		require.NoError(t, err)
		y.FillNaN()
		require.NoError(t, cpu.New(threads).W4A4GEMM(t.Context(), backend.W4A4Args{A: a, W: w, Y: y}))
		require.Less(t, check.RelFrobenius(check.Float64s(y.Float32()), want), 1e-6, "threads %d", threads)
		if first == nil {
			first = y.Float32()
		} else {
			require.Equal(t, first, y.Float32(), "threads %d", threads)
		}
	}
}

// An empty K gives y = 0 (no groups), every element written.
func TestW4A4CPUEmptyK(t *testing.T) {
	a, w := w4a4Operands(t, 3, 5, 0, 8, 0.5)
	y, err := tensor.New(tensor.Float32, 3, 5)
	require.NoError(t, err)
	y.FillNaN()
	require.NoError(t, cpu.New(2).W4A4GEMM(t.Context(), backend.W4A4Args{A: a, W: w, Y: y}))
	assert.Equal(t, make([]float32, 15), y.Float32())
}

func TestW4A4CPUCancelled(t *testing.T) {
	a, w := w4a4Operands(t, 20, 70, 33, 8, 0)
	y, err := tensor.New(tensor.Float32, 20, 70)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, threads := range []int{1, 4} {
		err = cpu.New(threads).W4A4GEMM(ctx, backend.W4A4Args{A: a, W: w, Y: y})
		assert.ErrorIs(t, err, context.Canceled, "threads %d", threads)
	}
}

func TestW4A4CPUNeedsFloat32HostOutput(t *testing.T) {
	a, w := w4a4Operands(t, 2, 3, 5, 4, 0)
	y, err := tensor.New(tensor.Float64, 2, 3)
	require.NoError(t, err)
	err = cpu.New(1).W4A4GEMM(t.Context(), backend.W4A4Args{A: a, W: w, Y: y})
	assert.ErrorIs(t, err, errs.ErrUnsupported)
}

// BenchmarkW4A4GEMM times the quantized GEMM alone on already quantized
// operands at issue 7's size (2048^3, group 128) and int8 fractions 0 (all
// int4, the target) and 0.25; it reports integer ops (2*M*N*K) per second.
func BenchmarkW4A4GEMM(b *testing.B) {
	const m, n, k, group = 2048, 2048, 2048, 128
	for _, frac := range []float64{0, 0.25} {
		b.Run(fmt.Sprintf("m%d_n%d_k%d_g%d_f%v", m, n, k, group, frac), func(b *testing.B) {
			a, w := w4a4Operands(b, m, n, k, group, frac)
			y, err := tensor.New(tensor.Float32, m, n)
			require.NoError(b, err)
			be := cpu.New(0)
			for b.Loop() {
				require.NoError(b, be.W4A4GEMM(b.Context(), backend.W4A4Args{A: a, W: w, Y: y}))
			}
			b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gop/s")
		})
	}
}

// BenchmarkW4A4Quantize times what BenchmarkW4A4GEMM leaves out: quantizing
// both float32 operands (2048 x 2048 each, group 128, int8 fraction 0).
func BenchmarkW4A4Quantize(b *testing.B) {
	const m, n, k, group = 2048, 2048, 2048, 128
	r := check.NewRand(b)
	x := check.Float32s(check.Uniform(r, m*k))
	wt := check.Float32s(check.Uniform(r, n*k))
	for b.Loop() {
		_, err := quant.QuantizeActivations(x, m, k, group, 0)
		require.NoError(b, err)
		_, err = quant.QuantizeWeights(wt, n, k, group)
		require.NoError(b, err)
	}
}
