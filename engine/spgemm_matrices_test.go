package engine_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
)

// realMatrices are the SuiteSparse matrices of shared/data/matrices with
// their sizes from its SOURCES.md.
var realMatrices = map[string][3]int64{
	"bcsstk16.mtx": {4884, 4884, 147631},
	"mbeacxc.mtx":  {492, 490, 49920},
	"fs_183_1.mtx": {183, 183, 1069},
	"west0067.mtx": {67, 67, 299},
	"bcsstk01.mtx": {48, 48, 224},
	"ash219.mtx":   {219, 85, 438},
	"lp_afiro.mtx": {27, 51, 102},
	"ibm32a.mtx":   {32, 31, 123},
	"cover.mtx":    {7, 7, 12},
}

// matricesDir finds shared/data/matrices in the working directory or one
// above it (tests run in their package's directory), or takes
// $MATMIX_MATRICES. A missing directory fails the test: it is part of the
// project.
func matricesDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MATMIX_MATRICES"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		d := filepath.Join(dir, "shared", "data", "matrices")
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		up := filepath.Dir(dir)
		if up == dir {
			require.FailNow(t, "shared/data/matrices not found above the test directory; set MATMIX_MATRICES")
		}
		dir = up
	}
}

// Every real matrix: A*A where square and A*A^T, in float64 and float32,
// against an independent evaluation (a dense triple loop for the small ones,
// bitset patterns and inner products for the large ones).
func TestSpGEMMRealMatrices(t *testing.T) {
	dir := matricesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.mtx"))
	require.NoError(t, err)
	seen := map[string]bool{}
	e := engine.New(cpu.New(2))
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			a, err := mtx.ReadFile(f)
			require.NoError(t, err)
			if want, ok := realMatrices[name]; ok {
				require.Equal(t, want, [3]int64{int64(a.Rows), int64(a.Cols), a.NNZ()})
			}
			at, err := a.Transpose()
			require.NoError(t, err)
			pairs := [][2]*sparse.CSR[float64]{{a, at}}
			if a.Rows == a.Cols {
				pairs = append(pairs, [2]*sparse.CSR[float64]{a, a})
			}
			for _, p := range pairs {
				small := int64(p[0].Rows)*int64(p[0].Cols)*int64(p[1].Cols) <= 1<<25
				c, err := engine.SpGEMM(t.Context(), e, p[0], p[1])
				require.NoError(t, err)
				x32, y32 := sparse.Convert[float32](p[0]), sparse.Convert[float32](p[1])
				c32, err := engine.SpGEMM(t.Context(), e, x32, y32)
				require.NoError(t, err)
				if small {
					conformance.RequireDenseProduct(t, c, p[0], p[1], 1e-12)
					conformance.RequireDenseProduct(t, c32, x32, y32, 1e-5)
				} else {
					// float32 against the verified float64 product: the
					// operands' rounding adds at most 2^-23 of the scale.
					diff, scale := innerProductDiff(c, p[0], p[1], 1e-12)
					require.Empty(t, diff)
					require.Empty(t, sparse.Diff(sparse.Convert[float64](c32), c, scale, 1e-5))
				}
			}
		})
	}
	for name := range realMatrices {
		require.True(t, seen[name], "%s missing from %s", name, dir)
	}
}

// innerProductDiff checks got = a*b in a way that shares nothing with
// Gustavson's row-by-row accumulation, and returns "" or the first
// difference. Each stored entry (i,j) is the inner product of a's row i
// (scattered into a dense vector) with b's column j (a row of b^T), within
// tol of the same product of absolute values; the same loop counts the
// entry's paths, c_ij = #{(p,q) : a's entry p at (i,k), b's entry q at (k,j)},
// which must be positive. That no structural entry is missing follows from
// sum_j c_ij = (P_a (P_b 1))_i for every row, with P the 0/1 patterns
// (multiplicities counted) and exact integer arithmetic: a missing entry
// would take at least 1 from the left side. The scale (|a|*|b| on got's
// pattern) comes back for further checks. It runs on one goroutine, so the
// race detector and checkptr (math.Abs), which slow its loops twentyfold, are
// told to skip it.
//
//go:norace
//go:nocheckptr
func innerProductDiff(got, a, b *sparse.CSR[float64], tol float64) (diff string, scale *sparse.CSR[float64]) {
	if err := got.Validate(); err != nil {
		return err.Error(), nil
	}
	if !got.IsCanonical() || got.Rows != a.Rows || got.Cols != b.Cols {
		return fmt.Sprintf("got %dx%d (canonical %v), want %dx%d", got.Rows, got.Cols, got.IsCanonical(), a.Rows, b.Cols), nil
	}
	bt, err := b.Transpose()
	if err != nil {
		return err.Error(), nil
	}
	scale = got.Clone()
	bPaths := make([]int64, b.Rows) // P_b 1: entries per row of b
	for k := range b.Rows {
		bPaths[k] = b.RowPtr[k+1] - b.RowPtr[k]
	}
	row, rowAbs, rowCount := make([]float64, a.Cols), make([]float64, a.Cols), make([]int64, a.Cols)
	for i := range a.Rows {
		want := int64(0)
		for p := a.RowPtr[i]; p < a.RowPtr[i+1]; p++ {
			k := a.ColInd[p]
			row[k] += a.Val[p]
			rowAbs[k] += math.Abs(a.Val[p])
			rowCount[k]++
			want += bPaths[k]
		}
		paths := int64(0)
		for q := got.RowPtr[i]; q < got.RowPtr[i+1]; q++ {
			j := got.ColInd[q]
			v, s, count := 0.0, 0.0, int64(0)
			for r := bt.RowPtr[j]; r < bt.RowPtr[j+1]; r++ {
				k := bt.ColInd[r]
				v += row[k] * bt.Val[r]
				s += rowAbs[k] * math.Abs(bt.Val[r])
				count += rowCount[k]
			}
			if count == 0 {
				return fmt.Sprintf("row %d: column %d is not in the structural product", i, j), nil
			}
			paths += count
			if d := math.Abs(got.Val[q] - v); !(d <= tol*s) {
				return fmt.Sprintf("(%d, %d): got %.17g, want %.17g, |diff| %.3g > %.3g", i, j, got.Val[q], v, d, tol*s), nil
			}
			scale.Val[q] = s
		}
		if paths != want {
			return fmt.Sprintf("row %d: its entries hold %d of its %d paths: structural entries are missing", i, paths, want), nil
		}
		for p := a.RowPtr[i]; p < a.RowPtr[i+1]; p++ {
			k := a.ColInd[p]
			row[k], rowAbs[k], rowCount[k] = 0, 0, 0
		}
	}
	return "", scale
}

// The inner-product check agrees with the dense one where both run, and
// catches a wrong value and a missing entry.
func TestSpGEMMInnerProductCheck(t *testing.T) {
	a, err := mtx.ReadFile(filepath.Join(matricesDir(t), "west0067.mtx"))
	require.NoError(t, err)
	c, err := engine.SpGEMM(t.Context(), engine.New(cpu.New(1)), a, a)
	require.NoError(t, err)
	conformance.RequireDenseProduct(t, c, a, a, 1e-12)
	diff, _ := innerProductDiff(c, a, a, 1e-12)
	require.Empty(t, diff)

	for _, spoil := range []func(m *sparse.CSR[float64]){
		func(m *sparse.CSR[float64]) { m.Val[len(m.Val)/2] *= 1 + 1e-9 },
		func(m *sparse.CSR[float64]) { // drop row 3's last entry
			m.ColInd = append(m.ColInd[:m.RowPtr[4]-1:m.RowPtr[4]-1], m.ColInd[m.RowPtr[4]:]...)
			m.Val = append(m.Val[:m.RowPtr[4]-1:m.RowPtr[4]-1], m.Val[m.RowPtr[4]:]...)
			for i := 4; i < len(m.RowPtr); i++ {
				m.RowPtr[i]--
			}
		},
	} {
		bad := c.Clone()
		spoil(bad)
		require.NoError(t, bad.Validate())
		diff, _ := innerProductDiff(bad, a, a, 1e-12)
		require.NotEmpty(t, diff, "the check must catch a spoiled product")
	}
}
