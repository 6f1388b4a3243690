package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
)

// dense is a row-major matrix, the test's oracle for sparse products.
type dense struct {
	rows, cols int
	v          []float64
}

func (d dense) mul(b dense) dense {
	c := dense{d.rows, b.cols, make([]float64, d.rows*b.cols)}
	for i := range d.rows {
		for k := range d.cols {
			for j := range b.cols {
				c.v[i*c.cols+j] += d.v[i*d.cols+k] * b.v[k*b.cols+j]
			}
		}
	}
	return c
}

func (d dense) t() dense {
	c := dense{d.cols, d.rows, make([]float64, len(d.v))}
	for i := range d.rows {
		for j := range d.cols {
			c.v[j*c.cols+i] = d.v[i*d.cols+j]
		}
	}
	return c
}

// randomMtx writes a random rows x cols Matrix Market file by hand: entries
// in random order, some coordinates repeated (they add up), never a zero
// value. It returns the path and the dense matrix the file means.
func randomMtx(t *testing.T, r *rand.Rand, dir, name string, rows, cols int) (string, dense) {
	d := dense{rows, cols, make([]float64, rows*cols)}
	var lines []string
	for range rows * cols / 2 {
		i, j := r.IntN(rows), r.IntN(cols)
		v := uniform(r, 1)[0]
		d.v[i*cols+j] += v
		lines = append(lines, fmt.Sprintf("%d %d %.17g", i+1, j+1, v))
	}
	text := fmt.Sprintf("%%%%MatrixMarket matrix coordinate real general\n%% random test matrix\n%d %d %d\n%s\n", rows, cols, len(lines), strings.Join(lines, "\n"))
	return writeFile(t, dir, name, text), d
}

// denseOf expands a CSR matrix, summing duplicates.
func denseOf(m *sparse.CSR[float64]) dense {
	d := dense{m.Rows, m.Cols, make([]float64, m.Rows*m.Cols)}
	for i := range m.Rows {
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			d.v[i*m.Cols+int(m.ColInd[p])] += m.Val[p]
		}
	}
	return d
}

// requireProduct checks the .mtx file at path against the dense product:
// rows sorted and free of duplicates, every non-zero of want present, and
// each value within 1e-12 (relative to the row's scale) of want.
func requireProduct(t *testing.T, path string, want dense) {
	t.Helper()
	c, err := mtx.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, []int{want.rows, want.cols}, []int{c.Rows, c.Cols})
	got := dense{c.Rows, c.Cols, make([]float64, len(want.v))}
	present := make([]bool, len(want.v))
	for i := range c.Rows {
		for p := c.RowPtr[i]; p < c.RowPtr[i+1]; p++ {
			j := int(c.ColInd[p])
			if p > c.RowPtr[i] {
				require.Greater(t, j, int(c.ColInd[p-1]), "row %d not sorted or has duplicates", i)
			}
			present[i*c.Cols+j] = true
			got.v[i*c.Cols+j] = c.Val[p]
		}
	}
	for i, w := range want.v {
		if w != 0 {
			require.True(t, present[i], "entry (%d, %d) = %v missing", i/want.cols, i%want.cols, w)
		}
		require.InDelta(t, w, got.v[i], 1e-12*math.Max(1, math.Abs(w)), "entry (%d, %d)", i/want.cols, i%want.cols)
	}
}

func TestRunSpGEMM(t *testing.T) {
	r := newRand(t)
	dir := t.TempDir()
	a, da := randomMtx(t, r, dir, "a.mtx", 9, 7)
	b, db := randomMtx(t, r, dir, "b.mtx", 7, 11)
	bt, dbt := randomMtx(t, r, dir, "bt.mtx", 11, 7)
	sq, dsq := randomMtx(t, r, dir, "sq.mtx", 8, 8)
	out := filepath.Join(dir, "c.mtx")
	cases := []struct {
		name string
		args []string
		want dense
	}{
		{"A*B", []string{"--a", a, "--b", b}, da.mul(db)},
		{"A*A", []string{"--a", sq}, dsq.mul(dsq)},
		{"A*B^T", []string{"--a", a, "--b", bt, "--transpose-b"}, da.mul(dbt.t())},
		{"A*A^T", []string{"--a", a, "--transpose-b"}, da.mul(da.t())},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "spgemm", "--out", out, "--backend", "cpu"}, c.args...)
			require.Empty(t, requireOK(t, args...))
			requireProduct(t, out, c.want)
		})
	}
}

// TestRunSpGEMMRealMatrices runs products of SuiteSparse matrices: A*A^T of
// a rectangular one and A*A of a pattern one.
func TestRunSpGEMMRealMatrices(t *testing.T) {
	const data = "../../../shared/data/matrices/"
	dir := t.TempDir()
	out := filepath.Join(dir, "c.mtx")
	for _, c := range []struct {
		file  string
		trans bool
	}{{"ash219.mtx", true}, {"cover.mtx", false}, {"bcsstk01.mtx", false}} {
		t.Run(c.file, func(t *testing.T) {
			a, err := mtx.ReadFile(data + c.file)
			require.NoError(t, err)
			da := denseOf(a)
			args := []string{"run", "spgemm", "--a", data + c.file, "--out", out}
			want := da.mul(da)
			if c.trans {
				args = append(args, "--transpose-b")
				want = da.mul(da.t())
			}
			requireOK(t, args...)
			requireProduct(t, out, want)
		})
	}
}

func TestRunSpGEMMErrors(t *testing.T) {
	r := newRand(t)
	dir := t.TempDir()
	a, _ := randomMtx(t, r, dir, "a.mtx", 5, 4)
	b, _ := randomMtx(t, r, dir, "b.mtx", 5, 6)
	out := filepath.Join(dir, "c.mtx")
	header := "%%MatrixMarket matrix coordinate real general\n"
	malformed := []struct{ name, text string }{
		{"not matrix market", "hello\n"},
		{"array format", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n"},
		{"complex field", "%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1 0\n"},
		{"index out of range", header + "2 2 1\n3 1 1.5\n"},
		{"index zero", header + "2 2 1\n0 1 1.5\n"},
		{"too few entries", header + "2 2 3\n1 1 1.5\n"},
		{"bad value", header + "2 2 1\n1 1 abc\n"},
		{"negative size", header + "-2 2 1\n1 1 1\n"},
		{"empty", ""},
	}
	type bad struct {
		name string
		args []string
		want string
	}
	cases := []bad{
		{"missing --a", []string{"run", "spgemm", "--out", out}, "missing --a"},
		{"missing --out", []string{"run", "spgemm", "--a", a}, "missing --out"},
		{"missing file", []string{"run", "spgemm", "--a", filepath.Join(dir, "none.mtx"), "--out", out}, "--a"},
		{"inner dimensions", []string{"run", "spgemm", "--a", a, "--b", b, "--out", out}, "spgemm"},
		{"A*A of a rectangular A", []string{"run", "spgemm", "--a", a, "--out", out}, "spgemm"},
		{"transpose mismatch", []string{"run", "spgemm", "--a", a, "--b", b, "--transpose-b", "--out", out}, "spgemm"},
		{"transpose-b takes no value", []string{"run", "spgemm", "--a", a, "--transpose-b", "yes", "--out", out}, "unexpected argument"},
	}
	for _, m := range malformed {
		p := writeFile(t, dir, strings.ReplaceAll(m.name, " ", "_")+".mtx", m.text)
		cases = append(cases, bad{"malformed " + m.name, []string{"run", "spgemm", "--a", a, "--b", p, "--out", out}, "--b"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, requireUserError(t, dir, []string{out}, c.args...), c.want)
		})
	}
}
