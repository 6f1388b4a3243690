package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
)

// W4A4GEMM computes the mixed-precision quantized GEMM.
func (b *Backend) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	return errs.Unsupported("w4a4", "not implemented yet")
}
