package sparse

import (
	"github.com/matmix/matmix/engine/errs"
)

// Index is the set of integer types FromCOO takes for coordinates.
type Index interface{ ~int | ~int32 | ~int64 }

// FromCOO builds a rows x cols CSR matrix from coordinate (triplet) lists:
// entry p is v[p] at row ri[p], column ci[p], all 0-based. Entries keep their
// input order within each row and duplicate coordinates stay separate entries
// (SpGEMM sums them; SortedCanonical merges them).
func FromCOO[T Float, I Index](rows, cols int, ri, ci []I, v []T) (*CSR[T], error) {
	const op = "sparse.FromCOO"
	if rows < 0 || cols < 0 || rows > MaxDim || cols > MaxDim {
		return nil, errs.Shape(op, "dimensions %dx%d out of range [0, 2^31-1]", rows, cols)
	}
	if len(ri) != len(v) || len(ci) != len(v) {
		return nil, errs.Shape(op, "%d row indices, %d column indices and %d values", len(ri), len(ci), len(v))
	}
	for p := range v {
		if int64(ri[p]) < 0 || int64(ri[p]) >= int64(rows) || int64(ci[p]) < 0 || int64(ci[p]) >= int64(cols) {
			return nil, errs.Argument(op, "entry %d at (%d, %d) outside %dx%d", p, int64(ri[p]), int64(ci[p]), rows, cols)
		}
	}
	// Counting sort by row: stable, so each row keeps the input order.
	m := &CSR[T]{Rows: rows, Cols: cols, RowPtr: make([]int64, rows+1), ColInd: make([]int32, len(v)), Val: make([]T, len(v))}
	for _, r := range ri {
		m.RowPtr[r+1]++
	}
	for i := range rows {
		m.RowPtr[i+1] += m.RowPtr[i]
	}
	next := make([]int64, rows)
	copy(next, m.RowPtr[:rows])
	for p, r := range ri {
		q := next[r]
		next[r]++
		m.ColInd[q] = int32(ci[p])
		m.Val[q] = v[p]
	}
	return m, nil
}

// Identity is the n x n identity matrix.
func Identity[T Float](n int) (*CSR[T], error) {
	if n < 0 || n > MaxDim {
		return nil, errs.Shape("sparse.Identity", "size %d out of range [0, 2^31-1]", n)
	}
	m := &CSR[T]{Rows: n, Cols: n, RowPtr: make([]int64, n+1), ColInd: make([]int32, n), Val: make([]T, n)}
	for i := range n {
		m.RowPtr[i+1] = int64(i + 1)
		m.ColInd[i] = int32(i)
		m.Val[i] = 1
	}
	return m, nil
}
