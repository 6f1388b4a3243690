package sparse

import (
	"github.com/matmix/matmix/engine/errs"
)

// MaxDenseElements bounds Dense and FromDense, which exist for tests and
// small examples: a dense copy of a large sparse matrix would not fit.
const MaxDenseElements = 1 << 28

// Dense returns the matrix as a row-major rows*cols slice, duplicates summed.
func (m *CSR[T]) Dense() ([]T, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if int64(m.Rows)*int64(m.Cols) > MaxDenseElements {
		return nil, errs.Limit("sparse.Dense", "%dx%d has more than 2^28 elements", m.Rows, m.Cols)
	}
	d := make([]T, m.Rows*m.Cols)
	for i := range m.Rows {
		row := d[i*m.Cols : (i+1)*m.Cols]
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			row[m.ColInd[p]] += m.Val[p]
		}
	}
	return d, nil
}

// FromDense builds a CSR matrix holding the nonzero elements of the
// row-major rows x cols slice d, rows sorted.
func FromDense[T Float](rows, cols int, d []T) (*CSR[T], error) {
	const op = "sparse.FromDense"
	if rows < 0 || cols < 0 || rows > MaxDim || cols > MaxDim || int64(rows)*int64(cols) > MaxDenseElements {
		return nil, errs.Shape(op, "dimensions %dx%d out of range", rows, cols)
	}
	if len(d) != rows*cols {
		return nil, errs.Shape(op, "%d elements for %dx%d", len(d), rows, cols)
	}
	m := &CSR[T]{Rows: rows, Cols: cols, RowPtr: make([]int64, rows+1)}
	for i := range rows {
		for j, x := range d[i*cols : (i+1)*cols] {
			if x != 0 {
				m.ColInd = append(m.ColInd, int32(j))
				m.Val = append(m.Val, x)
			}
		}
		m.RowPtr[i+1] = int64(len(m.Val))
	}
	if m.ColInd == nil {
		m.ColInd, m.Val = []int32{}, []T{}
	}
	return m, nil
}
