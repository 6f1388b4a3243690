package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM32 computes C = A*B in float32 (see spgemm).
func (b *Backend) SpGEMM32(ctx context.Context, x, y *sparse.CSR[float32], opt backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	return spgemm(ctx, b, b.spgemmPool(), x, y, opt, spgemmTuning{})
}

// SpGEMM64 computes C = A*B in float64 (see spgemm).
func (b *Backend) SpGEMM64(ctx context.Context, x, y *sparse.CSR[float64], opt backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	return spgemm(ctx, b, b.spgemmPool(), x, y, opt, spgemmTuning{})
}

// spgemm is Gustavson's row-wise product in two passes, as cuSPARSE and
// GraphBLAS do it: a symbolic pass counts each output row exactly, then a
// numeric pass fills rows in place, so C is allocated once at its exact size
// and nothing else grows with it. One pass into per-worker buffers and a
// copy holds C twice; with C allocated from a sampled estimate instead, it
// measured slower on all three matrices of issue 7 (bcsstk16 by 2x) and
// doubled memory where the estimate fell short, so only random products,
// where nearly every partial product is an entry of C and the bound is
// tight, skip the symbolic pass (onePass, spgemm_onepass.go). Each row picks
// its accumulator by its work (spgemm_plan.go, spgemm_acc.go); rows are
// handed out to the workers in chunks of equal work, heaviest first when
// skewed. Every allocation that grows with the problem is checked against
// the memory limit first. tune is for tests (the zero value: the
// defaults).
func spgemm[T sparse.Float](ctx context.Context, b *Backend, pool *spgemmPool, x, y *sparse.CSR[T], opt backend.SpGEMMOptions, tune spgemmTuning) (*sparse.CSR[T], error) {
	if err := sparse.CheckProduct(x, y); err != nil {
		return nil, err
	}
	if opt.MaxBytes < 0 {
		return nil, errs.Argument("spgemm", "memory limit must be >= 0, got %d", opt.MaxBytes)
	}
	p := newPlan(x, y, opt.MaxBytes, b.threads)
	p.tune = tune
	if err := p.checkRowPtr(); err != nil {
		return nil, err
	}
	c := &sparse.CSR[T]{Rows: x.Rows, Cols: y.Cols, RowPtr: make([]int64, x.Rows+1)}
	if err := p.classify(ctx, b, x, y, c.RowPtr); err != nil {
		return nil, err
	}
	if err := p.checkCount(); err != nil {
		return nil, err
	}
	if bound, ok := p.tryOnePass(x, y, c.RowPtr, pool); ok {
		return onePass(ctx, b, pool, p, x, y, c, bound)
	}
	p.schedule(c.RowPtr)

	// Symbolic pass: RowPtr[i+1] holds row i's work, then its nnz (rows
	// without work, which the schedule may leave out, hold 0 already).
	err := p.run(ctx, b, pool, x, y, false, func(w *spgemmWork[T], _, i int) {
		c.RowPtr[i+1] = w.count(p, x, y, i, c.RowPtr[i+1])
	}, nil)
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
	c.ColInd, c.Val = allocC[T](nnz)

	// Numeric pass: each row fills its own exactly sized slot.
	err = p.run(ctx, b, pool, x, y, true, func(w *spgemmWork[T], _, i int) {
		lo, hi := c.RowPtr[i], c.RowPtr[i+1]
		w.fill(p, x, y, i, c.ColInd[lo:hi:hi], c.Val[lo:hi:hi])
	}, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// allocC allocates C's columns and values, asking for huge pages.
func allocC[T sparse.Float](n int64) ([]int32, []T) {
	cols, vals := make([]int32, n), make([]T, n)
	adviseHuge(cols)
	adviseHuge(vals)
	return cols, vals
}
