package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM tolerances of the spec, per entry and relative to the matching entry
// of |A|*|B|, which bounds the rounding error even where a sum cancels.
const (
	spgemmTol64 = 1e-12
	spgemmTol32 = 1e-5
)

// RandomCSR returns a rows x cols matrix whose elements are stored with
// probability density, with values from check.Uniform (never zero). When
// messy, each row is shuffled and about one entry in six gains a duplicate,
// as SpGEMM inputs may be unsorted and hold duplicates.
func RandomCSR(t testing.TB, r *rand.Rand, rows, cols int, density float64, messy bool) *sparse.CSR[float64] {
	var ri, ci []int
	for i := range rows {
		start := len(ci)
		for j := range cols {
			if r.Float64() < density {
				ri, ci = append(ri, i), append(ci, j)
				if messy && r.IntN(6) == 0 {
					ri, ci = append(ri, i), append(ci, j)
				}
			}
		}
		if messy {
			row := ci[start:]
			r.Shuffle(len(row), func(a, b int) { row[a], row[b] = row[b], row[a] })
		}
	}
	m, err := sparse.FromCOO(rows, cols, ri, ci, check.Uniform(r, len(ci)))
	require.NoError(t, err)
	return m
}

// RequireSpGEMM checks got = a*b in the precision of T against ref.SpGEMM on
// the same (float64-widened) operands: the exact structural pattern, sorted
// rows, and every entry within the spec's tolerance of |a|*|b|.
func RequireSpGEMM[T sparse.Float](t testing.TB, got, a, b *sparse.CSR[T]) {
	t.Helper()
	a64, b64 := sparse.Convert[float64](a), sparse.Convert[float64](b)
	want, err := ref.SpGEMM(a64, b64)
	require.NoError(t, err)
	scale, err := ref.SpGEMM(a64.Abs(), b64.Abs())
	require.NoError(t, err)
	require.NoError(t, got.Validate())
	require.True(t, got.IsCanonical(), "output rows must be sorted without duplicates")
	tol := spgemmTol64
	g32, is32 := any(got).(*sparse.CSR[float32])
	if is32 {
		tol = spgemmTol32
	}
	require.Empty(t, sparse.Diff(sparse.Convert[float64](got), want, scale, tol))
	if is32 { // same pattern, both sorted: the values line up
		require.LessOrEqual(t, check.RelFrobenius(check.Float64s(g32.Val), want.Val), spgemmTol32)
	}
}

// RequireDenseProduct checks got = a*b against a dense triple loop in
// float64, which shares no code with any sparse product: got's pattern must be
// exactly the structural one ({(i,j) : some k has a[i,k] and b[k,j] stored},
// cancelled sums included) and each entry within tol of the matching entry of
// the dense |a|*|b|. For float32, the relative Frobenius error is also held
// to tol. Dense copies cost rows*cols each: keep the operands small.
func RequireDenseProduct[T sparse.Float](t testing.TB, got, a, b *sparse.CSR[T], tol float64) {
	t.Helper()
	require.NoError(t, got.Validate())
	require.True(t, got.IsCanonical(), "output rows must be sorted without duplicates")
	require.Equal(t, [2]int{a.Rows, b.Cols}, [2]int{got.Rows, got.Cols})
	m, k, n := a.Rows, a.Cols, b.Cols
	da, dabs, sa := denseParts(t, a)
	db, dbbs, sb := denseParts(t, b)
	want, scale := make([]float64, m*n), make([]float64, m*n)
	structural := make([]bool, m*n)
	for i := range m {
		for l := range k {
			if !sa[i*k+l] {
				continue
			}
			for j := range n {
				if sb[l*n+j] {
					want[i*n+j] += da[i*k+l] * db[l*n+j]
					scale[i*n+j] += dabs[i*k+l] * dbbs[l*n+j]
					structural[i*n+j] = true
				}
			}
		}
	}
	g64 := sparse.Convert[float64](got)
	gd, _, gs := denseParts(t, g64)
	require.Equal(t, structural, gs, "pattern differs from the structural product")
	for e := range want {
		if d := math.Abs(gd[e] - want[e]); !(d <= tol*scale[e]) {
			require.Failf(t, "entry differs", "(%d, %d): got %.17g, want %.17g, |diff| %.3g > %.3g", e/n, e%n, gd[e], want[e], d, tol*scale[e])
		}
	}
	if _, ok := any(got).(*sparse.CSR[float32]); ok {
		require.LessOrEqual(t, check.RelFrobenius(gd, want), tol)
	}
}

// denseParts returns the dense matrix, the dense |m| (absolute values of the
// stored entries, duplicates added) and which elements hold an entry.
func denseParts[T sparse.Float](t testing.TB, m *sparse.CSR[T]) (d, abs []float64, stored []bool) {
	d, abs, stored = make([]float64, m.Rows*m.Cols), make([]float64, m.Rows*m.Cols), make([]bool, m.Rows*m.Cols)
	require.NoError(t, m.Validate())
	for i := range m.Rows {
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			e := i*m.Cols + int(m.ColInd[p])
			d[e] += float64(m.Val[p])
			abs[e] += math.Abs(float64(m.Val[p]))
			stored[e] = true
		}
	}
	return d, abs, stored
}

// testSpGEMM runs random products in both precisions (rectangular, odd
// sizes, unsorted rows with duplicates, empty rows), products by the
// identity, empty operands, cancelling sums, a real matrix and bad operands.
func testSpGEMM(t *testing.T, e *engine.Engine) {
	shapes := []struct {
		m, k, n int
		density float64
	}{
		{1, 1, 1, 1},
		{7, 13, 5, 0.3},
		{33, 17, 29, 0.15},
		{40, 50, 3, 0.1},
		{64, 64, 64, 0.02}, // mostly empty rows
	}
	if !testing.Short() {
		shapes = append(shapes, struct {
			m, k, n int
			density float64
		}{150, 120, 170, 0.05})
	}
	for _, s := range shapes {
		t.Run(fmt.Sprintf("random/%dx%dx%d", s.m, s.k, s.n), func(t *testing.T) {
			r := check.NewRand(t)
			a := RandomCSR(t, r, s.m, s.k, s.density, true)
			b := RandomCSR(t, r, s.k, s.n, s.density, true)
			c64, err := engine.SpGEMM(t.Context(), e, a, b)
			require.NoError(t, err)
			RequireSpGEMM(t, c64, a, b)
			a32, b32 := sparse.Convert[float32](a), sparse.Convert[float32](b)
			c32, err := engine.SpGEMM(t.Context(), e, a32, b32)
			require.NoError(t, err)
			RequireSpGEMM(t, c32, a32, b32)
		})
	}
	t.Run("identity", func(t *testing.T) { spgemmIdentity(t, e) })
	t.Run("empty", func(t *testing.T) { spgemmEmpty(t, e) })
	t.Run("cancel", func(t *testing.T) { spgemmCancel(t, e) })
	t.Run("lp_afiro", func(t *testing.T) { spgemmReal(t, e) })
	t.Run("errors", func(t *testing.T) { spgemmErrors(t, e) })
}

// spgemmIdentity: A*I and I*A equal canonical A exactly (each entry is one
// product by 1, duplicates summed in stored order).
func spgemmIdentity(t *testing.T, e *engine.Engine) {
	r := check.NewRand(t)
	a := RandomCSR(t, r, 23, 31, 0.2, true)
	want, err := a.SortedCanonical()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		x, y func(*sparse.CSR[float64]) *sparse.CSR[float64]
	}{
		{"A*I", func(*sparse.CSR[float64]) *sparse.CSR[float64] { return a }, identity(t, a.Cols)},
		{"I*A", identity(t, a.Rows), func(*sparse.CSR[float64]) *sparse.CSR[float64] { return a }},
	} {
		c, err := engine.SpGEMM(t.Context(), e, tc.x(a), tc.y(a))
		require.NoError(t, err, tc.name)
		require.Empty(t, sparse.Diff(c, want, nil, 0), tc.name)
		c32, err := engine.SpGEMM(t.Context(), e, sparse.Convert[float32](tc.x(a)), sparse.Convert[float32](tc.y(a)))
		require.NoError(t, err, tc.name)
		want32, err := sparse.Convert[float32](a).SortedCanonical()
		require.NoError(t, err)
		require.Empty(t, sparse.Diff(c32, want32, nil, 0), tc.name)
	}
}

func identity(t *testing.T, n int) func(*sparse.CSR[float64]) *sparse.CSR[float64] {
	id, err := sparse.Identity[float64](n)
	require.NoError(t, err)
	return func(*sparse.CSR[float64]) *sparse.CSR[float64] { return id }
}

// spgemmEmpty: zero rows, zero inner dimension, zero columns, no entries.
func spgemmEmpty(t *testing.T, e *engine.Engine) {
	r := check.NewRand(t)
	for _, s := range [][3]int{{0, 0, 0}, {0, 5, 3}, {4, 0, 3}, {3, 4, 0}} {
		a, b := RandomCSR(t, r, s[0], s[1], 1, false), RandomCSR(t, r, s[1], s[2], 1, false)
		c, err := engine.SpGEMM(t.Context(), e, a, b)
		require.NoError(t, err, "%v", s)
		require.NoError(t, c.Validate())
		require.Equal(t, [3]int64{int64(s[0]), int64(s[2]), 0}, [3]int64{int64(c.Rows), int64(c.Cols), c.NNZ()}, "%v", s)
	}
	// Operands with entries whose product has none: A's columns meet only
	// B's empty rows.
	a, err := sparse.FromCOO(3, 4, []int{0, 2}, []int{1, 3}, []float32{0.5, -2})
	require.NoError(t, err)
	b, err := sparse.FromCOO(4, 2, []int{0, 2}, []int{1, 0}, []float32{3, 4})
	require.NoError(t, err)
	c, err := engine.SpGEMM(t.Context(), e, a, b)
	require.NoError(t, err)
	require.Equal(t, []int64{0, 0, 0, 0}, c.RowPtr)
	require.Empty(t, c.ColInd)
}

// spgemmCancel: a sum that cancels to exactly zero stays as an entry.
func spgemmCancel(t *testing.T, e *engine.Engine) {
	a, err := sparse.FromCOO(2, 3, []int{0, 0, 1, 1}, []int{2, 0, 1, 1}, []float64{0.5, 0.5, 0.75, -0.75})
	require.NoError(t, err)
	b, err := sparse.FromCOO(3, 2, []int{0, 2, 1}, []int{1, 1, 0}, []float64{1, -1, 0.25})
	require.NoError(t, err)
	want := &sparse.CSR[float64]{Rows: 2, Cols: 2, RowPtr: []int64{0, 1, 2}, ColInd: []int32{1, 0}, Val: []float64{0, 0}}
	c, err := engine.SpGEMM(t.Context(), e, a, b)
	require.NoError(t, err)
	require.Empty(t, sparse.Diff(c, want, nil, 0))
	c32, err := engine.SpGEMM(t.Context(), e, sparse.Convert[float32](a), sparse.Convert[float32](b))
	require.NoError(t, err)
	require.Empty(t, sparse.Diff(c32, sparse.Convert[float32](want), nil, 0))
}

// spgemmReal: A*A^T and A^T*A of lp_afiro (SuiteSparse; 27x51, 102 entries),
// kept here so the suite needs no files.
func spgemmReal(t *testing.T, e *engine.Engine) {
	a, err := mtx.Read(strings.NewReader(lpAfiro))
	require.NoError(t, err)
	require.Equal(t, [3]int64{27, 51, 102}, [3]int64{int64(a.Rows), int64(a.Cols), a.NNZ()})
	at, err := a.Transpose()
	require.NoError(t, err)
	for _, p := range [][2]*sparse.CSR[float64]{{a, at}, {at, a}} {
		c, err := engine.SpGEMM(t.Context(), e, p[0], p[1])
		require.NoError(t, err)
		RequireSpGEMM(t, c, p[0], p[1])
		x, y := sparse.Convert[float32](p[0]), sparse.Convert[float32](p[1])
		c32, err := engine.SpGEMM(t.Context(), e, x, y)
		require.NoError(t, err)
		RequireSpGEMM(t, c32, x, y)
	}
}

// spgemmErrors: mismatched shapes and malformed CSR fail with their kind.
func spgemmErrors(t *testing.T, e *engine.Engine) {
	r := check.NewRand(t)
	a, b := RandomCSR(t, r, 4, 5, 0.5, false), RandomCSR(t, r, 6, 3, 0.5, false)
	_, err := engine.SpGEMM(t.Context(), e, a, b)
	require.ErrorIs(t, err, engine.ErrShape)
	_, err = engine.SpGEMM(t.Context(), e, sparse.Convert[float32](a), sparse.Convert[float32](b))
	require.ErrorIs(t, err, engine.ErrShape)

	good := RandomCSR(t, r, 5, 5, 1, false)
	bad := good.Clone()
	bad.ColInd[0] = 5
	_, err = engine.SpGEMM(t.Context(), e, good, bad)
	require.ErrorIs(t, err, engine.ErrArgument)
	bad = good.Clone()
	bad.RowPtr[2] = bad.RowPtr[3] + 1
	_, err = engine.SpGEMM(t.Context(), e, bad, good)
	require.ErrorIs(t, err, engine.ErrArgument)
	bad = good.Clone()
	bad.Val = bad.Val[:len(bad.Val)-1]
	_, err = engine.SpGEMM(t.Context(), e, good, bad)
	require.ErrorIs(t, err, engine.ErrShape)
	_, err = engine.SpGEMM[float64](t.Context(), e, nil, good)
	require.ErrorIs(t, err, engine.ErrArgument)
}

const lpAfiro = `%%MatrixMarket matrix coordinate real general
% lp_afiro: SuiteSparse Matrix Collection matrix, as stored in the SuiteSparse:GraphBLAS test set (0-based triplets there, 1-based here; the size is read off the largest indices)
27 51 102
3 1 1
4 2 1
7 3 1
8 4 1
9 5 1
10 6 1
13 7 1
14 8 1
17 9 1
18 10 1
19 11 1
20 12 1
21 13 1
22 14 1
23 15 1
24 16 1
25 17 1
26 18 1
27 19 1
1 20 -1
2 20 -1.06
3 20 1
24 20 0.301
1 21 1
4 21 -1
1 22 1
22 22 -1
2 23 1
26 23 1
5 24 -1
6 24 -1.06
7 24 1
25 24 0.301
5 25 -1
6 25 -1.06
8 25 1
25 25 0.313
5 26 -1
6 26 -0.96
9 26 1
25 26 0.313
5 27 -1
6 27 -0.86
10 27 1
25 27 0.326
7 28 -1
21 28 2.364
8 29 -1
21 29 2.386
9 30 -1
21 30 2.408
10 31 -1
21 31 2.429
4 32 1.4
5 32 1
5 33 1
23 33 -1
6 34 1
27 34 1
11 35 -1
12 35 -0.43
13 35 1
22 35 0.109
11 36 1
14 36 -1
11 37 1
24 37 -1
11 38 1
21 38 -1
12 39 1
26 39 1
15 40 -0.43
16 40 1
17 40 1
23 40 0.109
15 41 -0.43
16 41 1
18 41 1
23 41 0.108
15 42 -0.39
16 42 1
19 42 1
23 42 0.108
15 43 -0.37
16 43 1
20 43 1
23 43 0.107
17 44 -1
21 44 2.191
18 45 -1
21 45 2.219
19 46 -1
21 46 2.249
20 47 -1
21 47 2.279
14 48 1.4
16 48 -1
16 49 1
25 49 -1
15 50 1
27 50 1
16 51 1
`
