package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/cpu/qgemm"
	"github.com/matmix/matmix/engine/errs"
)

// W4A4GEMM computes y[m,n] = sum_g sa[m,g]*sw[n,g]*I[m,n,g], the spec's W4A4
// GEMM, with the int8 SIMD kernels of package qgemm where the CPU has them
// (AVX-512 VNNI, AVX2) and in portable Go otherwise or under the purego
// build tag. Both keep every group sum I exact in int32 and add the scaled
// groups in group order in float32.
func (b *Backend) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	y := a.Y.Float32()
	if y == nil || len(y) != a.A.M*a.W.N {
		return errs.Unsupported("w4a4", "the cpu backend writes float32 host tensors, got %v", a.Y)
	}
	var err error
	if kn, ok := qgemm.Best(); ok {
		err = b.w4a4SIMD(ctx, a.A, a.W, y, kn, w4a4ChunkBytes)
	} else {
		err = b.w4a4Portable(ctx, a.A, a.W, y)
	}
	if err != nil {
		return err
	}
	// parallelFor does not look at ctx after running on one goroutine.
	return ctx.Err()
}
