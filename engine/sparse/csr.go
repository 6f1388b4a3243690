// Package sparse holds the CSR matrix type that SpGEMM reads and writes.
package sparse

import (
	"github.com/matmix/matmix/engine/errs"
)

// Float is the set of value types a CSR matrix may hold.
type Float interface{ float32 | float64 }

// CSR is a compressed sparse row matrix: row i holds the entries
// ColInd[RowPtr[i]:RowPtr[i+1]] with values Val[RowPtr[i]:RowPtr[i+1]].
// Input rows may be unsorted and hold duplicate columns (they are summed);
// SpGEMM output rows are sorted and free of duplicates.
type CSR[T Float] struct {
	Rows, Cols int
	RowPtr     []int64 // len Rows+1, RowPtr[0] == 0, non-decreasing
	ColInd     []int32 // len NNZ, each in [0, Cols)
	Val        []T     // len NNZ
}

// MaxDim bounds rows and columns: column indices are int32.
const MaxDim = 1<<31 - 1

// NNZ is the number of stored entries.
func (m *CSR[T]) NNZ() int64 {
	if len(m.RowPtr) == 0 {
		return 0
	}
	return m.RowPtr[len(m.RowPtr)-1]
}

// Validate checks the structure: sizes, row pointers and column range.
func (m *CSR[T]) Validate() error {
	const op = "csr"
	if m == nil {
		return errs.Argument(op, "nil matrix")
	}
	if m.Rows < 0 || m.Cols < 0 || m.Rows > MaxDim || m.Cols > MaxDim {
		return errs.Shape(op, "dimensions %dx%d out of range [0, 2^31-1]", m.Rows, m.Cols)
	}
	if len(m.RowPtr) != m.Rows+1 {
		return errs.Shape(op, "row pointers have %d entries, want rows+1 = %d", len(m.RowPtr), m.Rows+1)
	}
	if m.RowPtr[0] != 0 {
		return errs.Argument(op, "row pointers start at %d, want 0", m.RowPtr[0])
	}
	for i := 0; i < m.Rows; i++ {
		if m.RowPtr[i+1] < m.RowPtr[i] {
			return errs.Argument(op, "row pointers decrease at row %d (%d > %d)", i, m.RowPtr[i], m.RowPtr[i+1])
		}
	}
	nnz := m.NNZ()
	if int64(len(m.ColInd)) != nnz || int64(len(m.Val)) != nnz {
		return errs.Shape(op, "%d column indices and %d values for %d entries", len(m.ColInd), len(m.Val), nnz)
	}
	for p, c := range m.ColInd {
		if uint32(c) >= uint32(m.Cols) { // negative c wraps above MaxDim
			return errs.Argument(op, "column index %d at entry %d out of range [0, %d)", c, p, m.Cols)
		}
	}
	return nil
}
