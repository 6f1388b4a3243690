package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM32 computes C = A*B in float32.
func (b *Backend) SpGEMM32(ctx context.Context, x, y *sparse.CSR[float32], opt backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	return nil, errs.Unsupported("spgemm", "not implemented yet")
}

// SpGEMM64 computes C = A*B in float64.
func (b *Backend) SpGEMM64(ctx context.Context, x, y *sparse.CSR[float64], opt backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	return nil, errs.Unsupported("spgemm", "not implemented yet")
}
