package cpu

import (
	"context"
	"slices"

	"github.com/matmix/matmix/engine/backend"
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
// and nothing else grows with it but the kept columns below (4 bytes an
// entry at most, 1/3 of C). One pass into per-worker buffers and a
// copy holds C twice; with C allocated from a sampled estimate instead, it
// measured slower on all three matrices of issue 7 (bcsstk16 by 2x) and
// doubled memory where the estimate fell short, so only random products,
// where nearly every partial product is an entry of C and the bound is
// tight, skip the symbolic pass (onePass, spgemm_onepass.go). Each row picks
// its accumulator by its work (spgemm_plan.go, spgemm_acc.go); byte-map
// rows with many products an entry keep the columns their count found, so
// their numeric pass only multiplies and adds, and B's rows that nest (finite
// element matrices) are counted once and added together; rows are
// handed out to the workers in chunks of equal work, heaviest first when
// skewed. Every allocation that grows with the problem is checked against
// the memory limit first. tune is for tests (the zero value: the
// defaults).
func spgemm[T sparse.Float](ctx context.Context, b *Backend, pool *spgemmPool, x, y *sparse.CSR[T], opt backend.SpGEMMOptions, tune spgemmTuning) (*sparse.CSR[T], error) {
	if err := sparse.CheckProduct(x, y); err != nil {
		return nil, err
	}
	lim, err := sparse.NewSpGEMMLimit(x.Rows, y.Cols, opt.MaxBytes)
	if err != nil {
		return nil, err
	}
	p := newPlan(x, y, lim.Bytes, b.threads)
	p.tune = tune
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
	if err := p.nestRows(ctx, b, x, y); err != nil {
		return nil, err
	}
	p.keepFor()

	// Symbolic pass: RowPtr[i+1] holds row i's work, then its nnz (rows
	// without work, which the schedule may leave out, hold 0 already).
	// With p.keep, chunk ch's byte-map rows list their columns in
	// kept[ch], in the schedule's order (spgemm_acc.go).
	var kept [][]int32
	var listed func(w *spgemmWork[T], ch int)
	if p.keep {
		kept = make([][]int32, len(p.bounds)-1)
		listed = func(w *spgemmWork[T], ch int) {
			kept[ch] = slices.Clone(w.pat) // exact, where w.pat grew by doubling
			w.pat, w.listedRow = w.pat[:0], 0
		}
	}
	err = p.run(ctx, b, pool, x, y, false, func(w *spgemmWork[T], _, i int) {
		c.RowPtr[i+1] = w.count(p, x, y, i, c.RowPtr[i+1])
	}, listed)
	if err != nil {
		return nil, err
	}
	for i := range c.Rows {
		c.RowPtr[i+1] += c.RowPtr[i]
	}
	nnz := c.NNZ()
	p.nest = nil // for counts only
	p.keptBytes = keptBytes(kept)
	if p.checkFill(nnz) != nil { // the numeric pass does without the shortcuts
		p.keep, p.keptBytes, kept, p.prefix = false, 0, nil, nil
		if err := p.checkFill(nnz); err != nil {
			return nil, err
		}
	}
	c.ColInd, c.Val = allocC[T](nnz)

	// Numeric pass: each row fills its own exactly sized slot.
	var used func(w *spgemmWork[T], ch int)
	if p.keep {
		used = func(w *spgemmWork[T], _ int) { w.kept, w.patAt = nil, 0 }
	}
	err = p.run(ctx, b, pool, x, y, true, func(w *spgemmWork[T], ch, i int) {
		lo, hi := c.RowPtr[i], c.RowPtr[i+1]
		if p.keep {
			w.kept = kept[ch]
		}
		w.fill(p, x, y, i, c.ColInd[lo:hi:hi], c.Val[lo:hi:hi])
	}, used)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// keptBytes is the size of the kept column lists.
func keptBytes(kept [][]int32) int64 {
	n := int64(0)
	for _, k := range kept {
		n += 4 * int64(len(k))
	}
	return n
}

// allocC allocates C's columns and values, asking for huge pages.
func allocC[T sparse.Float](n int64) ([]int32, []T) {
	cols, vals := make([]int32, n), make([]T, n)
	adviseHuge(cols)
	adviseHuge(vals)
	return cols, vals
}
