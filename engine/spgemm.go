package engine

import (
	"context"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// CSR is the sparse matrix type of SpGEMM.
type CSR[T sparse.Float] = sparse.CSR[T]

// SpGEMM returns C = A*B with sorted, duplicate-free rows. Products whose
// FLOPs, nnz or memory would overflow or pass the engine's limit fail with
// ErrLimit before any large allocation.
func SpGEMM[T sparse.Float](ctx context.Context, e *Engine, a, b *sparse.CSR[T]) (*sparse.CSR[T], error) {
	return nil, errs.Unsupported("spgemm", "not implemented yet")
}
