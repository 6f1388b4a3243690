package sparse

import (
	"math"
	"slices"
)

// Convert copies m with its values converted to To (float64 to float32
// rounds to nearest). The copy shares nothing with m.
func Convert[To, From Float](m *CSR[From]) *CSR[To] {
	v := make([]To, len(m.Val))
	for p, x := range m.Val {
		v[p] = To(x)
	}
	return &CSR[To]{Rows: m.Rows, Cols: m.Cols, RowPtr: slices.Clone(m.RowPtr), ColInd: slices.Clone(m.ColInd), Val: v}
}

// Clone returns a deep copy of m.
func (m *CSR[T]) Clone() *CSR[T] { return Convert[T](m) }

// Abs returns a copy of m with every value replaced by its absolute value.
// Tests use |A|*|B| as the scale of the rounding error of A*B.
func (m *CSR[T]) Abs() *CSR[T] {
	c := m.Clone()
	for p, x := range c.Val {
		c.Val[p] = T(math.Abs(float64(x)))
	}
	return c
}
