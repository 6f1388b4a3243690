//go:build !purego

package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu/qgemm"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
)

// Every SIMD kernel the CPU runs (not only the one W4A4GEMM picks) gives
// the GEMM within the spec's 1e-6 of ref, bitwise the same for every thread
// count and chunk size (one activation panel a task, or all), on shapes
// that leave partial tiles, short last groups and int8 groups.
func TestW4A4SIMDKernels(t *testing.T) {
	r := check.NewRand(t)
	for _, kn := range qgemm.Kernels() {
		for _, c := range []struct {
			m, n, k, group int
			frac           float64
		}{
			{1, 1, 1, 128, 0}, {277, 150, 77, 16, 0.25}, {40, 70, 301, 64, 1}, {9, 33, 45, 7, 0.5},
		} {
			t.Run(fmt.Sprintf("%s/m%d_n%d_k%d_g%d_f%v", kn.Name, c.m, c.n, c.k, c.group, c.frac), func(t *testing.T) {
				a, err := quant.QuantizeActivations(check.Float32s(check.Uniform(r, c.m*c.k)), c.m, c.k, c.group, c.frac)
				require.NoError(t, err)
				w, err := quant.QuantizeWeights(check.Float32s(check.Uniform(r, c.n*c.k)), c.n, c.k, c.group)
				require.NoError(t, err)
				want := ref.W4A4(a, w)
				var first []float32
				for _, run := range []struct{ threads, chunkBytes int }{{1, w4a4ChunkBytes}, {2, w4a4ChunkBytes}, {5, w4a4ChunkBytes}, {2, 1}} {
					threads := run.threads
					y := make([]float32, c.m*c.n)
					for i := range y {
						y[i] = float32(math.NaN())
					}
					require.NoError(t, New(threads).w4a4SIMD(t.Context(), a, w, y, kn, run.chunkBytes))
					require.Less(t, check.RelFrobenius(check.Float64s(y), want), 1e-6, "threads %d, chunk bytes %d", threads, run.chunkBytes)
					if first == nil {
						first = y
					} else {
						require.Equal(t, first, y, "threads %d, chunk bytes %d", threads, run.chunkBytes)
					}
				}
			})
		}
	}
}
