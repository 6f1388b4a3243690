package sparse_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

func TestSparseFromCOOKeepsOrderAndDuplicates(t *testing.T) {
	m, err := sparse.FromCOO(3, 4, []int32{2, 0, 2, 0, 2}, []int32{3, 1, 0, 1, 3}, []float64{1, 2, 3, 4, 5})
	require.NoError(t, err)
	require.NoError(t, m.Validate())
	require.Equal(t, []int64{0, 2, 2, 5}, m.RowPtr)
	require.Equal(t, []int32{1, 1, 3, 0, 3}, m.ColInd)
	require.Equal(t, []float64{2, 4, 1, 3, 5}, m.Val)
	require.False(t, m.IsCanonical())

	c, err := m.SortedCanonical()
	require.NoError(t, err)
	require.Equal(t, []int64{0, 1, 1, 3}, c.RowPtr)
	require.Equal(t, []int32{1, 0, 3}, c.ColInd)
	require.Equal(t, []float64{6, 3, 6}, c.Val)
	require.True(t, c.IsCanonical())
	require.Equal(t, []float64{2, 4, 1, 3, 5}, m.Val, "SortedCanonical must not modify its input")
}

func TestSparseFromCOOErrors(t *testing.T) {
	_, err := sparse.FromCOO(2, 2, []int{0, 2}, []int{0, 1}, []float32{1, 2})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = sparse.FromCOO(2, 2, []int{0, 1}, []int{-1, 1}, []float32{1, 2})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = sparse.FromCOO(2, 2, []int{0}, []int{0, 1}, []float32{1, 2})
	require.ErrorIs(t, err, errs.ErrShape)
	_, err = sparse.FromCOO(-1, 2, []int{}, []int{}, []float32{})
	require.ErrorIs(t, err, errs.ErrShape)
	_, err = sparse.FromCOO(1, sparse.MaxDim+1, []int{}, []int{}, []float32{})
	require.ErrorIs(t, err, errs.ErrShape)
}

func TestSparseCanonicalKeepsCancelledSum(t *testing.T) {
	m, err := sparse.FromCOO(1, 3, []int{0, 0, 0}, []int{2, 2, 0}, []float64{0.5, -0.5, 1})
	require.NoError(t, err)
	c, err := m.SortedCanonical()
	require.NoError(t, err)
	require.Equal(t, []int32{0, 2}, c.ColInd)
	require.Equal(t, []float64{1, 0}, c.Val)
}

func TestSparseDenseTransposeIdentity(t *testing.T) {
	r := check.NewRand(t)
	m := conformance.RandomCSR(t, r, 9, 14, 0.3, true)
	d, err := m.Dense()
	require.NoError(t, err)
	// Dense sums duplicates: compare against a hand-built dense copy.
	want := make([]float64, 9*14)
	for i := range m.Rows {
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			want[i*14+int(m.ColInd[p])] += m.Val[p]
		}
	}
	require.Equal(t, want, d)

	mt, err := m.Transpose()
	require.NoError(t, err)
	require.NoError(t, mt.Validate())
	require.Equal(t, [2]int{14, 9}, [2]int{mt.Rows, mt.Cols})
	dt, err := mt.Dense()
	require.NoError(t, err)
	for i := range 9 {
		for j := range 14 {
			require.Equal(t, d[i*14+j], dt[j*9+i])
		}
	}
	// Transpose leaves rows sorted (not deduplicated).
	for i := range mt.Rows {
		for p := mt.RowPtr[i] + 1; p < mt.RowPtr[i+1]; p++ {
			require.LessOrEqual(t, mt.ColInd[p-1], mt.ColInd[p])
		}
	}

	back, err := sparse.FromDense(9, 14, d)
	require.NoError(t, err)
	require.True(t, back.IsCanonical())
	canon, err := m.SortedCanonical()
	require.NoError(t, err)
	require.Empty(t, sparse.Diff(back, canon, nil, 0))

	id, err := sparse.Identity[float32](4)
	require.NoError(t, err)
	di, err := id.Dense()
	require.NoError(t, err)
	require.Equal(t, []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, di)
	_, err = sparse.Identity[float32](-1)
	require.ErrorIs(t, err, errs.ErrShape)

	huge := &sparse.CSR[float64]{Rows: 1 << 15, Cols: 1 << 15, RowPtr: make([]int64, 1<<15+1), ColInd: []int32{}, Val: []float64{}}
	_, err = huge.Dense()
	require.ErrorIs(t, err, errs.ErrLimit)
}

func TestSparseConvertClone(t *testing.T) {
	r := check.NewRand(t)
	m := conformance.RandomCSR(t, r, 5, 6, 0.5, false)
	f := sparse.Convert[float32](m)
	require.Equal(t, check.Float32s(m.Val), f.Val)
	c := m.Clone()
	require.Equal(t, m, c)
	c.Val[0], c.ColInd[0], c.RowPtr[1] = 42, 5, 0
	require.NotEqual(t, m.Val[0], c.Val[0], "Clone must copy values")
	a := m.Abs()
	for p, x := range a.Val {
		require.Equal(t, math.Abs(m.Val[p]), x)
	}
}

func TestSparseDiff(t *testing.T) {
	a, err := sparse.FromCOO(2, 3, []int{0, 0, 1}, []int{2, 0, 1}, []float64{1, 2, 3})
	require.NoError(t, err)
	require.Empty(t, sparse.Diff(a, a, nil, 0))

	b := a.Clone()
	b.Val[2] = 3 + 1e-9
	require.Contains(t, sparse.Diff(b, a, nil, 1e-12), "entry (1, 1)")
	require.Empty(t, sparse.Diff(b, a, nil, 1e-6))

	scale := sparse.Convert[float64](a)
	scale.Val[2] = 1e6
	require.Empty(t, sparse.Diff(b, a, scale, 1e-12), "the scale widens the bound")

	b = a.Clone()
	b.ColInd[2] = 2
	require.Contains(t, sparse.Diff(b, a, nil, 1), "column")

	b = a.Clone()
	b.Val[0] = math.NaN()
	require.NotEmpty(t, sparse.Diff(b, a, nil, 1))
	require.NotEmpty(t, sparse.Diff(b, b, nil, 1), "NaN never matches")

	// A structural zero is not the same as no entry.
	z, err := sparse.FromCOO(2, 3, []int{0, 0, 1, 1}, []int{2, 0, 1, 2}, []float64{1, 2, 3, 0})
	require.NoError(t, err)
	require.Contains(t, sparse.Diff(z, a, nil, 1), "row 1")
	require.Contains(t, sparse.Diff(a, &sparse.CSR[float64]{Rows: 2, Cols: 4, RowPtr: []int64{0, 0, 0}}, nil, 1), "2x3")
}

func TestSparseValidateErrorKinds(t *testing.T) {
	good := func() *sparse.CSR[float32] {
		m, err := sparse.FromCOO(3, 3, []int{0, 1, 1, 2}, []int{0, 2, 1, 0}, []float32{1, 2, 3, 4})
		require.NoError(t, err)
		return m
	}
	require.NoError(t, good().Validate())
	cases := []struct {
		name  string
		spoil func(m *sparse.CSR[float32])
		kind  error
	}{
		{"decreasing row pointers", func(m *sparse.CSR[float32]) { m.RowPtr[2] = 0 }, errs.ErrArgument},
		{"row pointers not from 0", func(m *sparse.CSR[float32]) { m.RowPtr[0] = 1 }, errs.ErrArgument},
		{"column out of range", func(m *sparse.CSR[float32]) { m.ColInd[1] = 3 }, errs.ErrArgument},
		{"negative column", func(m *sparse.CSR[float32]) { m.ColInd[1] = -1 }, errs.ErrArgument},
		{"short row pointers", func(m *sparse.CSR[float32]) { m.RowPtr = m.RowPtr[:3] }, errs.ErrShape},
		{"short values", func(m *sparse.CSR[float32]) { m.Val = m.Val[:3] }, errs.ErrShape},
		{"long column indices", func(m *sparse.CSR[float32]) { m.ColInd = append(m.ColInd, 0) }, errs.ErrShape},
		{"negative size", func(m *sparse.CSR[float32]) { m.Cols = -3 }, errs.ErrShape},
	}
	for _, c := range cases {
		m := good()
		c.spoil(m)
		require.ErrorIs(t, m.Validate(), c.kind, c.name)
	}
	var nilm *sparse.CSR[float64]
	require.ErrorIs(t, nilm.Validate(), errs.ErrArgument)
}

func TestSparseCheckProduct(t *testing.T) {
	a, err := sparse.FromCOO(2, 3, []int{0, 1}, []int{2, 0}, []float64{1, 2})
	require.NoError(t, err)
	b, err := sparse.FromCOO(3, 4, []int{2, 2, 0}, []int{1, 3, 0}, []float64{1, 2, 3})
	require.NoError(t, err)
	require.NoError(t, sparse.CheckProduct(a, b))
	err = sparse.CheckProduct(a, a)
	require.ErrorIs(t, err, errs.ErrShape)
	require.Contains(t, err.Error(), "2x3")

	bad := b.Clone()
	bad.ColInd[0] = 9
	err = sparse.CheckProduct(a, bad)
	require.ErrorIs(t, err, errs.ErrArgument)
	require.Contains(t, err.Error(), "operand b")

	// A*A validates A once, and still rejects a bad one; a negative column
	// is out of range as well.
	sq, err := sparse.FromCOO(3, 3, []int{0, 2}, []int{1, 2}, []float64{1, 2})
	require.NoError(t, err)
	require.NoError(t, sparse.CheckProduct(sq, sq))
	for _, col := range []int32{3, -1} {
		badSq := sq.Clone()
		badSq.ColInd[1] = col
		err = sparse.CheckProduct(badSq, badSq)
		require.ErrorIs(t, err, errs.ErrArgument)
		require.Contains(t, err.Error(), "operand a")
		require.Contains(t, err.Error(), fmt.Sprintf("column index %d", col))
	}
}

func TestSparseSpGEMMFLOPs(t *testing.T) {
	// Row 0 of A hits row 2 of B (2 entries) twice (a duplicate) and row 0
	// (1 entry); row 1 hits row 1 (empty): 2 * (2 + 2 + 1) = 10.
	a, err := sparse.FromCOO(2, 3, []int{0, 0, 0, 1}, []int{2, 2, 0, 1}, []float64{1, 2, 3, 4})
	require.NoError(t, err)
	b, err := sparse.FromCOO(3, 4, []int{2, 2, 0}, []int{1, 3, 0}, []float64{1, 2, 3})
	require.NoError(t, err)
	f, err := sparse.SpGEMMFLOPs(a, b)
	require.NoError(t, err)
	require.Equal(t, int64(10), f)
	per := make([]int64, 2)
	w, err := sparse.SpGEMMWork(a, b, per)
	require.NoError(t, err)
	require.Equal(t, int64(5), w)
	require.Equal(t, []int64{5, 0}, per)

	_, err = sparse.SpGEMMFLOPs(a, a)
	require.ErrorIs(t, err, errs.ErrShape)
}

// The FLOP count of a product too large to build is checked with operands
// that only claim their sizes: SpGEMMWork reads A's columns and B's row
// pointers, nothing else, so no memory stands behind the 2^62 entries.
func TestSparseSpGEMMFLOPsOverflow(t *testing.T) {
	b := &sparse.CSR[float64]{Rows: 1, Cols: 1, RowPtr: []int64{0, 1<<61 - 1}}
	two := &sparse.CSR[float64]{Rows: 1, Cols: 1, RowPtr: []int64{0, 2}, ColInd: []int32{0, 0}, Val: []float64{1, 1}}
	w, err := sparse.SpGEMMWork(two, b, nil)
	require.NoError(t, err, "2^62-2 multiply-adds: 2^63-4 flops still fit")
	require.Equal(t, int64(1)<<62-2, w)

	b.RowPtr[1] = 1 << 61 // 2^62 multiply-adds: 2^63 flops overflow
	_, err = sparse.SpGEMMWork(two, b, nil)
	require.ErrorIs(t, err, errs.ErrLimit)

	b.RowPtr[1] = math.MaxInt64 // the sum itself overflows
	_, err = sparse.SpGEMMWork(two, b, nil)
	require.ErrorIs(t, err, errs.ErrLimit)

	many := &sparse.CSR[float64]{Rows: 3, Cols: 1, RowPtr: []int64{0, 1, 2, 3}, ColInd: []int32{0, 0, 0}}
	b.RowPtr[1] = 1 << 61 // rows of 2^61 each: 3*2^61 > 2^62 across rows
	_, err = sparse.SpGEMMWork(many, b, nil)
	require.ErrorIs(t, err, errs.ErrLimit)
}

func TestSpGEMMMulSumOverflow(t *testing.T) {
	n, ok := sparse.MulSum(3, 4, 5, 6)
	require.True(t, ok)
	require.Equal(t, int64(42), n)
	_, ok = sparse.MulSum(1<<62, 2)
	require.False(t, ok)
	_, ok = sparse.MulSum(math.MaxInt64, 1, 1, 1)
	require.False(t, ok)
	_, ok = sparse.MulSum(1<<31, 1<<31, 1<<31, 1<<31) // 2^62 twice: 2^63
	require.False(t, ok)
}
