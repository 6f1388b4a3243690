package bench

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/matmix/matmix/engine/cpu/gemm"
)

// SGEMMCase times the dense float32 baseline C = A*B (n x n), on the CPU
// whatever the backend: the roofline the other workloads are compared with.
// The product is the CPU backend's GEMM (engine/cpu/gemm); sgemm below is
// the one place to change to time another.
func SGEMMCase(n, threads int, refFLOPs float64) (Case, error) {
	if err := positive("bench sgemm", "n", n); err != nil {
		return Case{}, err
	}
	fn := float64(n)
	c := Case{
		Op:      "sgemm",
		Params:  []Param{{"n", n}},
		Backend: "cpu",
		Host:    true,
		FLOPs:   2 * fn * fn * fn,
		Bytes:   3 * 4 * fn * fn,
		Compute: "fp32",
	}
	c.Prepare = func(ctx context.Context, r *rand.Rand) (*Instance, error) {
		a, b := uniform32(r, n*n), uniform32(r, n*n)
		out := make([]float32, n*n)
		for i := range out {
			out[i] = float32(math.NaN())
		}
		return &Instance{
			Run: func(ctx context.Context) error { return sgemm(ctx, n, a, b, out, threads) },
			Check: func(ctx context.Context) Check {
				rows := subsetRows(n, 2*fn*fn, refFLOPs)
				want := make([]float64, rows*n)
				for i := range rows {
					for p := range n {
						x := float64(a[i*n+p])
						for j := range n {
							want[i*n+j] += x * float64(b[p*n+j])
						}
					}
				}
				return CheckTol("rel_frobenius", relFrobenius(out[:rows*n], want), 1e-5, rowsNote("rows", rows, n))
			},
		}, nil
	}
	return c, nil
}

// sgemm is C = A*B for row-major n x n float32 matrices.
func sgemm(ctx context.Context, n int, a, b, c []float32, threads int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	gemm.MatMul(n, n, n, gemm.Matrix{Data: a, Stride: n}, gemm.Matrix{Data: b, Stride: n}, c, n, false, threads)
	return nil
}
