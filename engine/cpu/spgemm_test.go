package cpu_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/sparse"
)

var noLimit = backend.SpGEMMOptions{}

// Random products against a dense triple loop, for several thread counts so
// that rows split over workers in uneven chunks.
func TestSpGEMMDense(t *testing.T) {
	r := check.NewRand(t)
	shapes := []struct {
		m, k, n int
		density float64
	}{{1, 1, 1, 1}, {2, 3, 4, 1}, {13, 7, 11, 0.4}, {37, 29, 41, 0.1}, {90, 60, 75, 0.05}, {64, 64, 64, 0.01}, {120, 1, 130, 0.5}}
	for _, threads := range []int{1, 2, 3, 7} {
		b := cpu.New(threads)
		for _, s := range shapes {
			t.Run(fmt.Sprintf("t%d/%dx%dx%d", threads, s.m, s.k, s.n), func(t *testing.T) {
				x := conformance.RandomCSR(t, r, s.m, s.k, s.density, true)
				y := conformance.RandomCSR(t, r, s.k, s.n, s.density, true)
				c, err := b.SpGEMM64(t.Context(), x, y, noLimit)
				require.NoError(t, err)
				conformance.RequireDenseProduct(t, c, x, y, 1e-12)
				x32, y32 := sparse.Convert[float32](x), sparse.Convert[float32](y)
				c32, err := b.SpGEMM32(t.Context(), x32, y32, noLimit)
				require.NoError(t, err)
				conformance.RequireDenseProduct(t, c32, x32, y32, 1e-5)
			})
		}
	}
}

func TestSpGEMMIdentity(t *testing.T) {
	r := check.NewRand(t)
	a := conformance.RandomCSR(t, r, 45, 38, 0.15, true)
	id, err := sparse.Identity[float64](38)
	require.NoError(t, err)
	c, err := cpu.New(2).SpGEMM64(t.Context(), a, id, noLimit)
	require.NoError(t, err)
	want, err := a.SortedCanonical()
	require.NoError(t, err)
	require.Empty(t, sparse.Diff(c, want, nil, 0), "A*I = A exactly")
}

// (AB)C = A(BC) in float64, per entry, to 1e-12 of |A||B||C|.
func TestSpGEMMAssociative(t *testing.T) {
	r := check.NewRand(t)
	b := cpu.New(2)
	x := conformance.RandomCSR(t, r, 40, 55, 0.08, true)
	y := conformance.RandomCSR(t, r, 55, 33, 0.1, true)
	z := conformance.RandomCSR(t, r, 33, 47, 0.12, true)
	mul := func(p, q *sparse.CSR[float64]) *sparse.CSR[float64] {
		c, err := b.SpGEMM64(t.Context(), p, q, noLimit)
		require.NoError(t, err)
		return c
	}
	left, right := mul(mul(x, y), z), mul(x, mul(y, z))
	absXY, err := ref.SpGEMM(x.Abs(), y.Abs())
	require.NoError(t, err)
	scale, err := ref.SpGEMM(absXY, z.Abs())
	require.NoError(t, err)
	require.NotZero(t, left.NNZ())
	require.Empty(t, sparse.Diff(left, right, scale, 1e-12))
}

// Unsorted rows with duplicates that cancel: the result is sorted and the
// cancelled entries stay.
func TestSpGEMMDuplicatesAndCancellation(t *testing.T) {
	x, err := sparse.FromCOO(3, 3, []int{0, 0, 0, 2, 2}, []int{2, 0, 2, 1, 1}, []float64{0.5, 0.25, 0.5, 0.75, -0.75})
	require.NoError(t, err)
	y, err := sparse.FromCOO(3, 4, []int{2, 2, 0, 1}, []int{3, 0, 3, 2}, []float64{2, -0.5, -8, 0.125})
	require.NoError(t, err)
	// Row 0: A = {c2: 1, c0: 0.25}; 1*B[2,:] + 0.25*B[0,:] = {c0: -0.5, c3: 2-2}.
	// Row 2: A = {c1: 0 (two entries)}: {c2: 0.09375-0.09375}.
	want := &sparse.CSR[float64]{Rows: 3, Cols: 4, RowPtr: []int64{0, 2, 2, 3}, ColInd: []int32{0, 3, 2}, Val: []float64{-0.5, 0, 0}}
	for _, threads := range []int{1, 3} {
		c, err := cpu.New(threads).SpGEMM64(t.Context(), x, y, noLimit)
		require.NoError(t, err)
		require.Equal(t, want, c)
		c32, err := cpu.New(threads).SpGEMM32(t.Context(), sparse.Convert[float32](x), sparse.Convert[float32](y), noLimit)
		require.NoError(t, err)
		require.Equal(t, sparse.Convert[float32](want), c32)
	}
}

func TestSpGEMMEmpty(t *testing.T) {
	b := cpu.New(2)
	for _, s := range [][3]int{{0, 0, 0}, {0, 7, 2}, {5, 0, 3}, {3, 4, 0}, {6, 6, 6}} {
		x := &sparse.CSR[float32]{Rows: s[0], Cols: s[1], RowPtr: make([]int64, s[0]+1)}
		y := &sparse.CSR[float32]{Rows: s[1], Cols: s[2], RowPtr: make([]int64, s[1]+1)}
		c, err := b.SpGEMM32(t.Context(), x, y, noLimit)
		require.NoError(t, err, "%v", s)
		require.NoError(t, c.Validate())
		require.Equal(t, [3]int{s[0], s[2], 0}, [3]int{c.Rows, c.Cols, int(c.NNZ())})
	}
}

func TestSpGEMMBadOperands(t *testing.T) {
	b := cpu.New(2)
	r := check.NewRand(t)
	x := conformance.RandomCSR(t, r, 4, 6, 1, false)
	_, err := b.SpGEMM64(t.Context(), x, x, noLimit)
	require.ErrorIs(t, err, errs.ErrShape)
	y := conformance.RandomCSR(t, r, 6, 3, 1, false)
	for _, c := range []struct {
		name  string
		spoil func(m *sparse.CSR[float64])
		kind  error
	}{
		{"decreasing row pointers", func(m *sparse.CSR[float64]) { m.RowPtr[2] = m.RowPtr[1] - 1 }, errs.ErrArgument},
		{"column out of range", func(m *sparse.CSR[float64]) { m.ColInd[3] = int32(m.Cols) }, errs.ErrArgument},
		{"wrong value count", func(m *sparse.CSR[float64]) { m.Val = append(m.Val, 1) }, errs.ErrShape},
		{"wrong row pointer count", func(m *sparse.CSR[float64]) { m.RowPtr = m.RowPtr[:len(m.RowPtr)-1] }, errs.ErrShape},
	} {
		bad := y.Clone()
		c.spoil(bad)
		_, err := b.SpGEMM64(t.Context(), x, bad, noLimit)
		require.ErrorIs(t, err, c.kind, c.name)
		_, err = b.SpGEMM32(t.Context(), sparse.Convert[float32](bad), sparse.Convert[float32](x), noLimit)
		require.Error(t, err, c.name)
	}
	_, err = b.SpGEMM64(t.Context(), x, y, backend.SpGEMMOptions{MaxBytes: -1})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = b.SpGEMM64(t.Context(), nil, y, noLimit)
	require.ErrorIs(t, err, errs.ErrArgument)
}

// The memory guard fails before allocating: at the row pointers, at the
// symbolic pass, and at C once its exact size is known.
func TestSpGEMMLimit(t *testing.T) {
	b := cpu.New(1)
	r := check.NewRand(t)
	x := conformance.RandomCSR(t, r, 100, 100, 0.2, false)
	c, err := b.SpGEMM64(t.Context(), x, x, noLimit)
	require.NoError(t, err)
	nnz := c.NNZ()
	rowPtr := int64(101 * 8)
	marker := int64(104)                  // the byte map: a byte per column, in 8-byte words
	fill := rowPtr + 104 + 100*8 + nnz*12 // row pointers, byte map and values, C

	for _, tc := range []struct {
		limit int64
		says  string
	}{
		{rowPtr - 1, "row pointers"},
		{rowPtr + marker - 1, "symbolic pass"},
		{fill - 1, fmt.Sprintf("C with %d entries", nnz)},
	} {
		_, err = b.SpGEMM64(t.Context(), x, x, backend.SpGEMMOptions{MaxBytes: tc.limit})
		require.ErrorIs(t, err, errs.ErrLimit)
		require.Contains(t, err.Error(), tc.says)
		require.Contains(t, err.Error(), fmt.Sprintf("limit of %d bytes", tc.limit))
	}
	got, err := b.SpGEMM64(t.Context(), x, x, backend.SpGEMMOptions{MaxBytes: fill})
	require.NoError(t, err, "the exact need fits")
	require.Equal(t, c, got)

	one := &sparse.CSR[float32]{Rows: 1, Cols: 1, RowPtr: []int64{0, 0}}
	_, err = b.SpGEMM32(t.Context(), one, one, backend.SpGEMMOptions{MaxBytes: 8})
	require.ErrorIs(t, err, errs.ErrLimit, "16 bytes of row pointers")
}

// A product with 2^31-1 columns (hypersparse) cannot use a dense
// accumulator per worker (8 GiB each); the sort accumulator computes it with
// memory in proportion to its rows, bit for bit as the dense one would.
func TestSpGEMMHypersparse(t *testing.T) {
	r := check.NewRand(t)
	const wide = 1<<31 - 1
	x := conformance.RandomCSR(t, r, 30, 20, 0.3, true)
	small := conformance.RandomCSR(t, r, 20, 50, 0.3, true)
	// Spread small's 50 columns over [0, 2^31-1) in order.
	spread := small.Clone()
	spread.Cols = wide
	for p, c := range spread.ColInd {
		spread.ColInd[p] = int32(int64(c) * (wide / 50))
	}
	for _, threads := range []int{1, 2} {
		b := cpu.New(threads)
		want, err := b.SpGEMM64(t.Context(), x, small, noLimit)
		require.NoError(t, err)
		got, err := b.SpGEMM64(t.Context(), x, spread, noLimit)
		require.NoError(t, err)
		require.Equal(t, wide, got.Cols)
		for p, c := range want.ColInd {
			want.ColInd[p] = int32(int64(c) * (wide / 50))
		}
		want.Cols = wide
		require.Equal(t, want, got)

		x32 := sparse.Convert[float32](x)
		want32, err := b.SpGEMM32(t.Context(), x32, sparse.Convert[float32](small), noLimit)
		require.NoError(t, err)
		got32, err := b.SpGEMM32(t.Context(), x32, sparse.Convert[float32](spread), noLimit)
		require.NoError(t, err)
		require.Equal(t, want32.Val, got32.Val)
	}
}

// countdownCtx is a context that reports cancellation after n checks, so a
// test can stop a product between row chunks.
type countdownCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestSpGEMMContext(t *testing.T) {
	r := check.NewRand(t)
	x := conformance.RandomCSR(t, r, 200, 200, 0.05, false)
	b := cpu.New(2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.SpGEMM64(ctx, x, x, noLimit)
	require.ErrorIs(t, err, context.Canceled)
	for _, n := range []int64{2, 5, 20} {
		c := &countdownCtx{Context: t.Context()}
		c.n.Store(n)
		got, err := b.SpGEMM32(c, sparse.Convert[float32](x), sparse.Convert[float32](x), noLimit)
		require.ErrorIs(t, err, context.Canceled, "cancelled after %d checks", n)
		require.Nil(t, got)
	}
}

// Inf inputs propagate as IEEE arithmetic says.
func TestSpGEMMInf(t *testing.T) {
	x, err := sparse.FromCOO(1, 2, []int{0, 0}, []int{0, 1}, []float64{math.Inf(1), 1})
	require.NoError(t, err)
	y, err := sparse.FromCOO(2, 1, []int{0, 1}, []int{0, 0}, []float64{2, 3})
	require.NoError(t, err)
	c, err := cpu.New(1).SpGEMM64(t.Context(), x, y, noLimit)
	require.NoError(t, err)
	require.Equal(t, []float64{math.Inf(1)}, c.Val)
}

// Every accumulator, forced on every row, gives the bits of the automatic
// choice, which matches a dense triple loop: wide products (several bitmap
// summary words), unsorted rows with duplicates (spans tracked per
// product) and sorted ones (spans from row ends, copied rows), in both
// precisions and with uneven chunks.
func TestSpGEMMAccumulatorsAgree(t *testing.T) {
	r := check.NewRand(t)
	shapes := []struct {
		m, k, n int
		density float64
		messy   bool
	}{
		{12, 40, 5000, 0.005, true},
		{12, 40, 5000, 0.005, false},
		{30, 25, 300, 0.1, true},
		{30, 25, 300, 0.1, false},
		{20, 300, 70, 0.05, true},
		{1, 3, 5000, 1, false},
	}
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%dx%dx%d/messy=%v", s.m, s.k, s.n, s.messy), func(t *testing.T) {
			x := conformance.RandomCSR(t, r, s.m, s.k, 0.3, true)
			y := conformance.RandomCSR(t, r, s.k, s.n, s.density, s.messy)
			if !s.messy {
				var err error
				y, err = y.SortedCanonical()
				require.NoError(t, err)
			}
			want, err := cpu.SpGEMMForced(cpu.New(1), x, y, "", 0)
			require.NoError(t, err)
			conformance.RequireDenseProduct(t, want, x, y, 1e-12)
			x32, y32 := sparse.Convert[float32](x), sparse.Convert[float32](y)
			want32, err := cpu.SpGEMMForced(cpu.New(1), x32, y32, "", 0)
			require.NoError(t, err)
			conformance.RequireDenseProduct(t, want32, x32, y32, 1e-5)
			for kind := range cpu.SpGEMMKinds {
				for _, threads := range []int{1, 3} {
					got, err := cpu.SpGEMMForced(cpu.New(threads), x, y, kind, 0)
					require.NoError(t, err)
					require.Equal(t, want, got, "%s accumulator, %d threads", kind, threads)
					got32, err := cpu.SpGEMMForced(cpu.New(threads), x32, y32, kind, 0)
					require.NoError(t, err)
					require.Equal(t, want32, got32, "%s accumulator, %d threads, float32", kind, threads)
				}
			}
		})
	}
}

// Random products with several workers: one where nearly every partial
// product is an entry of C, in one pass (made eligible at this size) and
// in two, and a skewed one (a few heavy rows, ordered first), against
// package ref, bit for bit (both sum in the same order), and unchanged by
// the accumulator.
func TestSpGEMMLargeRandom(t *testing.T) {
	er := sparse.ErdosRenyi(4000, 5, 5)
	rmat := sparse.RMAT(10, 8, 5)
	for name, a := range map[string]*sparse.CSR[float64]{"erdos-renyi": er, "rmat": rmat} {
		t.Run(name, func(t *testing.T) {
			want, err := ref.SpGEMM(a, a)
			require.NoError(t, err)
			for _, threads := range []int{1, 2, 5} {
				for _, onePassWork := range []int64{0, 1} {
					got, err := cpu.SpGEMMForced(cpu.New(threads), a, a, "", onePassWork)
					require.NoError(t, err)
					require.Empty(t, sparse.Diff(got, want, nil, 0), "%d threads", threads)
					require.True(t, got.IsCanonical())
					require.Equal(t, got.NNZ(), int64(len(got.Val)))
				}
				got, err := cpu.SpGEMMForced(cpu.New(threads), a, a, "hash", 1)
				require.NoError(t, err)
				require.Empty(t, sparse.Diff(got, want, nil, 0), "%d threads, hash", threads)
			}
		})
	}
}

// nestedCSR is an n x n lower triangular matrix shaped like a finite
// element matrix: rows in blocks of 3 (a node's degrees of freedom), row i
// holding the columns from two blocks back to i, and a few far columns per
// block, so each row holds the one before within a block, not across, and
// some rows are dense next to their neighbours. Values random, nonzero.
func nestedCSR(t *testing.T, r *rand.Rand, n int) *sparse.CSR[float64] {
	var ri, ci []int
	for i := range n {
		g := i / 3
		far := (g * 7919) % max(1, 3*g-6)
		if 3*g-6 > 0 {
			ri, ci = append(ri, i), append(ci, far)
		}
		for j := max(0, 3*g-6); j <= i; j++ {
			ri, ci = append(ri, i), append(ci, j)
		}
	}
	m, err := sparse.FromCOO(n, n, ri, ci, check.Uniform(r, len(ri)))
	require.NoError(t, err)
	m, err = m.SortedCanonical()
	require.NoError(t, err)
	return m
}

// The byte-map rows' shortcuts (kept columns, nested B rows skipped in the
// counts) change no bit: each product agrees with the one without them and
// with package ref, on rows that nest (nestedCSR) and on random ones, and
// in float32.
func TestSpGEMMKeptAndNested(t *testing.T) {
	r := check.NewRand(t)
	mats := map[string]*sparse.CSR[float64]{
		"nested": nestedCSR(t, r, 301),
		"random": conformance.RandomCSR(t, r, 200, 200, 0.2, false),
	}
	for name, a := range mats {
		t.Run(name, func(t *testing.T) {
			want, err := ref.SpGEMM(a, a)
			require.NoError(t, err)
			a32 := sparse.Convert[float32](a)
			plain32, err := cpu.SpGEMMPlain(cpu.New(1), a32, a32, false, false)
			require.NoError(t, err)
			for _, threads := range []int{1, 3} {
				for _, keep := range []bool{false, true} {
					for _, nest := range []bool{false, true} {
						got, err := cpu.SpGEMMPlain(cpu.New(threads), a, a, keep, nest)
						require.NoError(t, err)
						require.Empty(t, sparse.Diff(got, want, nil, 0), "keep %v, nest %v, %d threads", keep, nest, threads)
						got32, err := cpu.SpGEMMPlain(cpu.New(threads), a32, a32, keep, nest)
						require.NoError(t, err)
						require.Equal(t, plain32, got32, "float32, keep %v, nest %v, %d threads", keep, nest, threads)
					}
				}
			}
		})
	}
}
