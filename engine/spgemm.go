package engine

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// CSR is the sparse matrix type of SpGEMM.
type CSR[T sparse.Float] = sparse.CSR[T]

// SpGEMM returns C = A*B with sorted, duplicate-free rows. Products whose
// FLOPs, nnz or memory would overflow or pass the engine's limit fail with
// ErrLimit before any large allocation.
//
// Input rows may be unsorted and hold duplicate columns, which are summed; an
// entry whose sum cancels to exactly zero is kept (a structural zero), as in
// GraphBLAS and cuSPARSE. Invalid operands fail with ErrArgument or ErrShape,
// and a.Cols != b.Rows with ErrShape.
func SpGEMM[T sparse.Float](ctx context.Context, e *Engine, a, b *sparse.CSR[T]) (*sparse.CSR[T], error) {
	if e == nil || ctx == nil {
		return nil, errs.Argument("spgemm", "nil engine or context")
	}
	if err := sparse.CheckProduct(a, b); err != nil {
		return nil, err
	}
	opt := backend.SpGEMMOptions{MaxBytes: e.opts.MaxSpGEMMBytes}
	switch a := any(a).(type) {
	case *sparse.CSR[float32]:
		c, err := e.b.SpGEMM32(ctx, a, any(b).(*sparse.CSR[float32]), opt)
		return any(c).(*sparse.CSR[T]), err
	case *sparse.CSR[float64]:
		c, err := e.b.SpGEMM64(ctx, a, any(b).(*sparse.CSR[float64]), opt)
		return any(c).(*sparse.CSR[T]), err
	}
	// Unreachable: sparse.Float has only these two members.
	return nil, errs.DType("spgemm", "unsupported value type %T", a)
}

// SpGEMMFLOPs is the FLOP count of A*B: 2 * sum over A's entries (i,k) of
// nnz(B[k,:]), in int64 (ErrLimit on overflow).
func SpGEMMFLOPs[T sparse.Float](a, b *sparse.CSR[T]) (int64, error) {
	return sparse.SpGEMMFLOPs(a, b)
}
