//go:build cudasim

package backend_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spgemmBoth runs x*y on the simulator in float64 and float32 with the
// tuning t, checks both against the reference (conformance.RequireSpGEMM:
// exact pattern, sorted rows, the spec's tolerances) and returns the
// plans.
func spgemmBoth(t *testing.T, b *cudabackend.Backend, x, y *sparse.CSR[float64], tune cudabackend.SpGEMMTuning) (p64, p32 cudabackend.SpGEMMPlan) {
	t.Helper()
	c64, p64, err := b.SpGEMM64With(t.Context(), x, y, backend.SpGEMMOptions{}, tune)
	require.NoError(t, err)
	conformance.RequireSpGEMM(t, c64, x, y)
	x32, y32 := sparse.Convert[float32](x), sparse.Convert[float32](y)
	c32, p32, err := b.SpGEMM32With(t.Context(), x32, y32, backend.SpGEMMOptions{}, tune)
	require.NoError(t, err)
	conformance.RequireSpGEMM(t, c32, x32, y32)
	return p64, p32
}

// rowsOfLength returns a matrix of cols columns whose row i holds
// lengths[i] entries at random columns (repeats allowed: summed
// duplicates, unsorted).
func rowsOfLength(t *testing.T, r *rand.Rand, cols int, lengths []int) *sparse.CSR[float64] {
	rows := make([][]int, len(lengths))
	for i, n := range lengths {
		for range n {
			rows[i] = append(rows[i], r.IntN(cols))
		}
	}
	return csrRows(t, r, cols, rows)
}

// csrRows returns the matrix whose row i has entries at columns rows[i],
// with random values.
func csrRows(t *testing.T, r *rand.Rand, cols int, rows [][]int) *sparse.CSR[float64] {
	var ri, ci []int
	for i, row := range rows {
		for _, c := range row {
			ri, ci = append(ri, i), append(ci, c)
		}
	}
	m, err := sparse.FromCOO(len(rows), cols, ri, ci, uniform(r, len(ci)))
	require.NoError(t, err)
	return m
}

// log2s lists the table sizes of a phase's bins, global ones as -L.
func log2s(bins []cudabackend.SpGEMMBin) []int {
	var l []int
	for _, b := range bins {
		if b.Global {
			l = append(l, -b.Log2Slots)
		} else {
			l = append(l, b.Log2Slots)
		}
	}
	return l
}

// TestSpGEMMBins: rows in every shared bin of both phases (tables of 32
// to 16384 slots: several rows a block up to 1024 slots, a block a row
// above) and rows whose tables overflow shared memory (the count's bound
// above 16384 columns and the fill's nnz above 8192: global tables), as
// single entries of A on B's rows of 5 to 17000 distinct columns; then
// rows of A that sum several of B's (about 16 random columns each,
// repeats, some empty) and empty rows of A.
func TestSpGEMMBins(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	const k, n = 1400, 20000
	long := []int{5, 20, 40, 100, 200, 400, 1000, 2000, 4000, 7000, 9000, 17000} // 2n rounded up: 2^5 .. 2^14, 2^15, 2^16
	if testing.Short() {
		long = long[:10] // no global tables: TestSpGEMMGlobalTables has them
	}
	brows := make([][]int, k)
	for i := range brows {
		switch {
		case i < len(long):
			brows[i] = r.Perm(n)[:long[i]]
		case i%50 != 7:
			for range 8 + r.IntN(17) {
				brows[i] = append(brows[i], r.IntN(n))
			}
		}
	}
	y := csrRows(t, r, n, brows)
	var arows [][]int
	for i := range long {
		arows = append(arows, []int{i}, nil)
	}
	for _, l := range []int{1, 2, 3, 5, 9, 17, 33, 65, 129} {
		row := []int{}
		for range l {
			row = append(row, len(long)+r.IntN(k-len(long)))
		}
		arows = append(arows, row)
	}
	x := csrRows(t, r, k, arows)
	p64, p32 := spgemmBoth(t, b, x, y, cudabackend.SpGEMMTuning{})
	for l := 5; l <= 14; l++ {
		assert.Contains(t, log2s(p64.Count), l, "count bin of 2^%d slots", l)
		assert.Contains(t, log2s(p64.Fill), l, "fill bin of 2^%d slots", l)
		assert.Contains(t, log2s(p32.Fill), l, "fill bin of 2^%d slots", l)
	}
	if !testing.Short() {
		// One global bin a phase, its tables sized for the longest row.
		assert.Contains(t, log2s(p64.Count), 15, "count bin of 2^15 slots (9000 columns)")
		assert.Contains(t, log2s(p64.Count), -16, "global count tables")
		assert.Contains(t, log2s(p64.Fill), -16, "global fill tables (float64)")
		assert.Contains(t, log2s(p32.Fill), -16, "global fill tables (float32)")
	}
	for _, bin := range p64.Count {
		if bin.Log2Slots == 5 {
			assert.Equal(t, 32, bin.RowsPerBlock, "short rows share a block")
		}
	}
}

// TestSpGEMMGlobalTables forces global tables on small products: every row
// above 16 columns uses one, two blocks striding over many rows reuse
// their tables, with 64-thread blocks (so each thread sorts many slots).
func TestSpGEMMGlobalTables(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	x := conformance.RandomCSR(t, r, 37, 41, 0.2, true)
	y := conformance.RandomCSR(t, r, 41, 53, 0.25, true)
	tune := cudabackend.SpGEMMTuning{MaxSharedSlots: 32, GlobalThreads: 64, GlobalBlocks: 2}
	p64, p32 := spgemmBoth(t, b, x, y, tune)
	for _, p := range []cudabackend.SpGEMMPlan{p64, p32} {
		for _, phase := range [][]cudabackend.SpGEMMBin{p.Count, p.Fill} {
			last := phase[len(phase)-1]
			require.True(t, last.Global)
			assert.Equal(t, 2, last.Blocks)
			assert.Equal(t, 64, last.Threads)
			assert.Greater(t, len(last.Rows), 4, "blocks take several rows each")
		}
	}
}

// TestSpGEMMShapes: rectangular products with empty rows and columns on
// either side, a product with no work, empty matrices, and A*A of a real
// matrix (SuiteSparse fs_183_1) and A*A^T of another (ash219).
func TestSpGEMMShapes(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	t.Run("rectangular", func(t *testing.T) {
		x := rowsOfLength(t, r, 9, []int{3, 0, 0, 5, 1, 0, 7})
		y := rowsOfLength(t, r, 300, []int{0, 40, 2, 0, 9, 120, 0, 3, 1})
		spgemmBoth(t, b, x, y, cudabackend.SpGEMMTuning{})
	})
	t.Run("A*A", func(t *testing.T) {
		// B is A: A goes to the device once and counts once against the
		// memory limit. A limit a byte short of the count phase with two
		// operands stops a product with a copy of A there, and A*A only
		// at C (far larger than A).
		a := rowsOfLength(t, r, 40, slices.Repeat([]int{1, 6, 0, 3}, 10))
		spgemmBoth(t, b, a, a, cudabackend.SpGEMMTuning{})
		opt := backend.SpGEMMOptions{MaxBytes: spgemmCountNeed(a, a) - 1}
		_, err := b.SpGEMM64(t.Context(), a, a.Clone(), opt)
		require.ErrorIs(t, err, errs.ErrLimit)
		assert.Contains(t, err.Error(), "count phase")
		_, err = b.SpGEMM64(t.Context(), a, a, opt)
		require.ErrorIs(t, err, errs.ErrLimit)
		assert.Contains(t, err.Error(), "C with")
	})
	t.Run("no work", func(t *testing.T) {
		x := rowsOfLength(t, r, 4, []int{2, 0, 3})
		y := rowsOfLength(t, r, 5, []int{0, 0, 0, 0})
		c, plan, err := b.SpGEMM64With(t.Context(), x, y, backend.SpGEMMOptions{}, cudabackend.SpGEMMTuning{})
		require.NoError(t, err)
		assert.Equal(t, []int64{0, 0, 0, 0}, c.RowPtr)
		assert.Empty(t, plan.Count, "nothing launched")
	})
	t.Run("empty", func(t *testing.T) {
		for _, s := range [][3]int{{0, 0, 0}, {0, 3, 2}, {3, 0, 2}, {2, 3, 0}} {
			x, y := conformance.RandomCSR(t, r, s[0], s[1], 1, false), conformance.RandomCSR(t, r, s[1], s[2], 1, false)
			c, err := b.SpGEMM32(t.Context(), sparse.Convert[float32](x), sparse.Convert[float32](y), backend.SpGEMMOptions{})
			require.NoError(t, err, "%v", s)
			require.NoError(t, c.Validate())
			assert.Equal(t, [3]int64{int64(s[0]), int64(s[2]), 0}, [3]int64{int64(c.Rows), int64(c.Cols), c.NNZ()})
		}
	})
	real := []string{"ash219"}
	if !testing.Short() {
		real = append(real, "fs_183_1")
	}
	for _, name := range real {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(spgemmMatrices(t), name+".mtx"))
			require.NoError(t, err)
			defer f.Close()
			a, err := mtx.Read(f)
			require.NoError(t, err)
			y := a
			if a.Rows != a.Cols {
				y, err = a.Transpose()
				require.NoError(t, err)
			}
			spgemmBoth(t, b, a, y, cudabackend.SpGEMMTuning{})
		})
	}
}

// spgemmMatrices finds shared/data/matrices above the test's directory (or
// $MATMIX_MATRICES), as the engine's tests do.
func spgemmMatrices(t *testing.T) string {
	if d := os.Getenv("MATMIX_MATRICES"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for ; ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(filepath.Join(dir, "shared", "data", "matrices")); err == nil && fi.IsDir() {
			return filepath.Join(dir, "shared", "data", "matrices")
		}
		require.NotEqual(t, "/", dir, "shared/data/matrices not found; set MATMIX_MATRICES")
	}
}

// TestSpGEMMErrors: bad operands, options and tuning fail with their kind
// before anything runs; memory limits fail the count phase (the operands
// alone), the fill phase (C of an outer product, 100x its operands), or
// shrink the global tables to what fits.
func TestSpGEMMErrors(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	good := conformance.RandomCSR(t, r, 5, 6, 0.5, true)
	ctx := t.Context()
	_, err := b.SpGEMM64(ctx, good, good, backend.SpGEMMOptions{})
	assert.ErrorIs(t, err, errs.ErrShape)
	bad := good.Clone()
	bad.ColInd[0] = -1
	_, err = b.SpGEMM64(ctx, bad, conformance.RandomCSR(t, r, 6, 2, 0.5, false), backend.SpGEMMOptions{})
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = b.SpGEMM32(ctx, nil, sparse.Convert[float32](good), backend.SpGEMMOptions{})
	assert.ErrorIs(t, err, errs.ErrArgument)
	y := conformance.RandomCSR(t, r, 6, 4, 0.5, true)
	_, err = b.SpGEMM64(ctx, good, y, backend.SpGEMMOptions{MaxBytes: -1})
	assert.ErrorIs(t, err, errs.ErrArgument)
	for _, tune := range []cudabackend.SpGEMMTuning{{MaxSharedSlots: 48}, {MaxSharedSlots: 16}, {GlobalThreads: 40}, {GlobalThreads: 2048}, {GlobalBlocks: -1}} {
		_, _, err = b.SpGEMM64With(ctx, good, y, backend.SpGEMMOptions{}, tune)
		assert.ErrorIs(t, err, errs.ErrArgument, "%+v", tune)
	}

	// An outer product: 100 rows and columns from 200 entries.
	col := rowsOfLength(t, r, 1, slices.Repeat([]int{1}, 100))
	row := rowsOfLength(t, r, 100, []int{100})
	row, err = row.SortedCanonical() // 100 random columns with repeats: fewer distinct
	require.NoError(t, err)
	_, err = b.SpGEMM64(ctx, col, row, backend.SpGEMMOptions{MaxBytes: 1000})
	require.ErrorIs(t, err, errs.ErrLimit)
	assert.Contains(t, err.Error(), "count phase")
	_, err = b.SpGEMM64(ctx, col, row, backend.SpGEMMOptions{MaxBytes: 20000})
	require.ErrorIs(t, err, errs.ErrLimit)
	assert.Contains(t, err.Error(), "C with")
	c, err := b.SpGEMM64(ctx, col, row, backend.SpGEMMOptions{MaxBytes: 1 << 20})
	require.NoError(t, err)
	conformance.RequireSpGEMM(t, c, col, row)

	// Global count tables (4 bytes a slot) as many as fit beyond the rest:
	// many, one, none.
	tune := cudabackend.SpGEMMTuning{MaxSharedSlots: 32, GlobalThreads: 64}
	c, plan, err := b.SpGEMM64With(ctx, col, row, backend.SpGEMMOptions{MaxBytes: 1 << 20}, tune)
	require.NoError(t, err)
	conformance.RequireSpGEMM(t, c, col, row)
	global := plan.Count[len(plan.Count)-1]
	require.True(t, global.Global)
	assert.Greater(t, global.Blocks, 1, "room for many tables")
	table := int64(4) << global.Log2Slots
	_, plan, err = b.SpGEMM64With(ctx, col, row, backend.SpGEMMOptions{MaxBytes: spgemmCountNeed(col, row) + table*3/2}, tune)
	if assert.ErrorIs(t, err, errs.ErrLimit) { // the fill phase's C does not fit, but the count ran
		assert.Contains(t, err.Error(), "C with")
		assert.Equal(t, 1, plan.Count[len(plan.Count)-1].Blocks, "one table fits")
	}
	_, _, err = b.SpGEMM64With(ctx, col, row, backend.SpGEMMOptions{MaxBytes: spgemmCountNeed(col, row) + table/2}, tune)
	if assert.ErrorIs(t, err, errs.ErrLimit, "no table fits") {
		assert.Contains(t, err.Error(), "global hash table")
	}
}

// spgemmCountNeed is the count phase's bytes without its global tables
// (spgemm.go): A and B on the device, counts and row lists, C's row
// pointers on the host.
func spgemmCountNeed(x, y *sparse.CSR[float64]) int64 {
	return 8*int64(x.Rows+1+y.Rows+1) + 12*(x.NNZ()+y.NNZ()) + 8*int64(x.Rows) + 8*int64(x.Rows+1)
}
