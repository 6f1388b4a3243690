package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM32 computes C = A*B in float32 (see spgemm).
func (b *Backend) SpGEMM32(ctx context.Context, x, y *sparse.CSR[float32], opt backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	return spgemm(ctx, b, x, y, opt)
}

// SpGEMM64 computes C = A*B in float64 (see spgemm).
func (b *Backend) SpGEMM64(ctx context.Context, x, y *sparse.CSR[float64], opt backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	return spgemm(ctx, b, x, y, opt)
}

// spgemm is Gustavson's row-wise product in two passes, as cuSPARSE and
// GraphBLAS do it: a symbolic pass counts each output row exactly, then a
// numeric pass fills rows in place, so C is allocated once at its exact size.
// Rows are split over workers in chunks of balanced multiply-add count; each
// worker owns an accumulator (spgemm_acc.go). Every allocation that grows with
// the problem is checked against the memory limit first (spgemm_plan.go).
func spgemm[T sparse.Float](ctx context.Context, b *Backend, x, y *sparse.CSR[T], opt backend.SpGEMMOptions) (*sparse.CSR[T], error) {
	if err := sparse.CheckProduct(x, y); err != nil {
		return nil, err
	}
	if opt.MaxBytes < 0 {
		return nil, errs.Argument("spgemm", "memory limit must be >= 0, got %d", opt.MaxBytes)
	}
	p, err := newPlan[T](x, y, opt.MaxBytes, b.threads)
	if err != nil {
		return nil, err
	}
	if err := p.checkRowPtr(); err != nil {
		return nil, err
	}
	c := &sparse.CSR[T]{Rows: x.Rows, Cols: y.Cols, RowPtr: make([]int64, x.Rows+1)}
	if err := p.split(x, y, c.RowPtr); err != nil {
		return nil, err
	}
	if err := p.checkCount(); err != nil {
		return nil, err
	}

	// Symbolic pass: RowPtr[i+1] = nnz of row i (the split is done with it).
	err = p.run(ctx, b, false, func(w *accumulator[T], i int) {
		c.RowPtr[i+1] = w.count(x, y, i)
	})
	if err != nil {
		return nil, err
	}
	for i := range c.Rows {
		c.RowPtr[i+1] += c.RowPtr[i]
	}
	nnz := c.NNZ()
	if err := p.checkFill(nnz); err != nil {
		return nil, err
	}
	c.ColInd, c.Val = make([]int32, nnz), make([]T, nnz)

	// Numeric pass: each row fills its own exactly sized slot.
	err = p.run(ctx, b, true, func(w *accumulator[T], i int) {
		lo, hi := c.RowPtr[i], c.RowPtr[i+1]
		w.fill(x, y, i, c.ColInd[lo:hi], c.Val[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
