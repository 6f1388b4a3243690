package sparse

// SortedCanonical returns a copy with each row sorted by column and duplicate
// entries summed (in their stored order). A sum that cancels to zero stays as
// an explicit entry, as SpGEMM keeps structural zeros.
func (m *CSR[T]) SortedCanonical() (*CSR[T], error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.IsCanonical() {
		return m.Clone(), nil
	}
	// Transposing twice sorts every row stably (see Transpose).
	t, err := m.Transpose()
	if err != nil {
		return nil, err
	}
	s, err := t.Transpose()
	if err != nil {
		return nil, err
	}
	out := 0
	start := int64(0)
	for i := range s.Rows {
		end := s.RowPtr[i+1]
		for p := start; p < end; p++ {
			if p > start && s.ColInd[p] == s.ColInd[out-1] {
				s.Val[out-1] += s.Val[p]
				continue
			}
			s.ColInd[out], s.Val[out] = s.ColInd[p], s.Val[p]
			out++
		}
		start = end
		s.RowPtr[i+1] = int64(out)
	}
	s.ColInd, s.Val = s.ColInd[:out:out], s.Val[:out:out]
	return s, nil
}

// IsCanonical reports whether every row is sorted with no duplicate column,
// the form SpGEMM returns. It assumes a valid matrix.
func (m *CSR[T]) IsCanonical() bool {
	for i := range m.Rows {
		for p := m.RowPtr[i] + 1; p < m.RowPtr[i+1]; p++ {
			if m.ColInd[p] <= m.ColInd[p-1] {
				return false
			}
		}
	}
	return true
}
