package cpu

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/matmix/matmix/engine/sparse"
)

// accumulator gathers one output row at a time. The dense form is
// Gustavson's sparse accumulator: a marker and a value per column of C, so a
// row costs its multiply-adds plus a sort of its columns. When C has so many
// columns that a dense array per worker would dwarf the work (hypersparse
// products), the sort form instead collects the row's partial products and
// sorts them, costing memory proportional to the longest row's work.
type accumulator[T sparse.Float] struct {
	dense bool
	mark  []int32 // dense: mark[j] == i+1 when column j is already in row i
	val   []T     // dense: the running sums; nil in the symbolic pass
	cols  []int32 // sort, symbolic pass: the row's columns, repeats included
	pairs []pair[T]
}

type pair[T sparse.Float] struct {
	col int32
	v   T
}

func newAccumulator[T sparse.Float](dense, numeric bool, cols int, maxRowWork int64) *accumulator[T] {
	w := &accumulator[T]{dense: dense}
	switch {
	case dense:
		w.mark = make([]int32, cols)
		if numeric {
			w.val = make([]T, cols)
		}
	case numeric:
		w.pairs = make([]pair[T], 0, maxRowWork)
	default:
		w.cols = make([]int32, 0, maxRowWork)
	}
	return w
}

// count returns the number of distinct columns of row i of A*B.
func (w *accumulator[T]) count(a, b *sparse.CSR[T], i int) int64 {
	stamp := int32(i + 1) // rows < 2^31-1, so i+1 fits
	n := int64(0)
	w.cols = w.cols[:0]
	for _, k := range a.ColInd[a.RowPtr[i]:a.RowPtr[i+1]] {
		for _, j := range b.ColInd[b.RowPtr[k]:b.RowPtr[k+1]] {
			switch {
			case !w.dense:
				w.cols = append(w.cols, j)
			case w.mark[j] != stamp:
				w.mark[j] = stamp
				n++
			}
		}
	}
	if w.dense {
		return n
	}
	slices.Sort(w.cols)
	return int64(len(slices.Compact(w.cols)))
}

// fill writes row i of A*B, sorted, into cols and vals, whose length count
// returned. Partial products are summed in the order A's row, then B's rows,
// list them, in both forms, so the two give bit-identical results.
func (w *accumulator[T]) fill(a, b *sparse.CSR[T], i int, cols []int32, vals []T) {
	aLo, aHi := a.RowPtr[i], a.RowPtr[i+1]
	if !w.dense {
		w.pairs = w.pairs[:0]
		for p := aLo; p < aHi; p++ {
			k, av := a.ColInd[p], a.Val[p]
			for q := b.RowPtr[k]; q < b.RowPtr[k+1]; q++ {
				w.pairs = append(w.pairs, pair[T]{b.ColInd[q], av * b.Val[q]})
			}
		}
		slices.SortStableFunc(w.pairs, func(x, y pair[T]) int { return cmp.Compare(x.col, y.col) })
		n := -1
		for t, e := range w.pairs {
			if t > 0 && e.col == cols[n] {
				vals[n] += e.v
				continue
			}
			n++
			cols[n], vals[n] = e.col, e.v
		}
		return
	}
	stamp := int32(i + 1)
	n := 0
	for p := aLo; p < aHi; p++ {
		k, av := a.ColInd[p], a.Val[p]
		bc, bv := b.ColInd[b.RowPtr[k]:b.RowPtr[k+1]], b.Val[b.RowPtr[k]:b.RowPtr[k+1]]
		for q, j := range bc {
			if w.mark[j] != stamp {
				w.mark[j] = stamp
				w.val[j] = av * bv[q]
				cols[n] = j
				n++
			} else {
				w.val[j] += av * bv[q]
			}
		}
	}
	// A row dense enough that sorting costs more than a scan of the marker
	// is read off the marker in column order instead.
	if len(cols) > 1 && len(cols)*bits.Len(uint(len(cols))) > len(w.mark) {
		n = 0
		for j, m := range w.mark {
			if m == stamp {
				cols[n] = int32(j)
				n++
			}
		}
	} else {
		slices.Sort(cols)
	}
	for t, j := range cols {
		vals[t] = w.val[j]
	}
}
