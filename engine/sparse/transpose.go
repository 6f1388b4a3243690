package sparse

// Transpose returns A^T. Its rows come out sorted by column (A's row index);
// duplicates of A stay separate, in A's order.
func (m *CSR[T]) Transpose() (*CSR[T], error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	nnz := m.NNZ()
	t := &CSR[T]{Rows: m.Cols, Cols: m.Rows, RowPtr: make([]int64, m.Cols+1), ColInd: make([]int32, nnz), Val: make([]T, nnz)}
	for _, c := range m.ColInd {
		t.RowPtr[c+1]++
	}
	for j := range m.Cols {
		t.RowPtr[j+1] += t.RowPtr[j]
	}
	next := make([]int64, m.Cols)
	copy(next, t.RowPtr[:m.Cols])
	// Walking A's rows in order fills each row of A^T in increasing order.
	for i := range m.Rows {
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			c := m.ColInd[p]
			q := next[c]
			next[c]++
			t.ColInd[q] = int32(i)
			t.Val[q] = m.Val[p]
		}
	}
	return t, nil
}
