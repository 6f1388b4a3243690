package mtx_test

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
)

func dense(t *testing.T, m *sparse.CSR[float64]) []float64 {
	t.Helper()
	d, err := m.Dense()
	require.NoError(t, err)
	return d
}

func TestMtxReadGeneral(t *testing.T) {
	in := "%%MatrixMarket matrix coordinate real general\n" +
		"% a comment\n\n" +
		"3 4 4\n" +
		"3 4 -1.5e-3\n" +
		"1 1 2\n" +
		"\n% comments between entries are tolerated\n" +
		"1 3\t0.25\n" +
		"   3 2   1e300   \n"
	m, err := mtx.Read(strings.NewReader(in))
	require.NoError(t, err)
	require.NoError(t, m.Validate())
	require.Equal(t, [2]int{3, 4}, [2]int{m.Rows, m.Cols})
	require.Equal(t, []int64{0, 2, 2, 4}, m.RowPtr)
	require.Equal(t, []int32{0, 2, 3, 1}, m.ColInd, "rows keep the file's order")
	require.Equal(t, []float64{2, 0.25, -1.5e-3, 1e300}, m.Val)

	m32, err := mtx.Read32(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []float32{2, 0.25, -1.5e-3, float32(math.Inf(1))}, m32.Val, "float32 rounds once, overflow to Inf as strtod")
}

func TestMtxReadFieldsAndSymmetry(t *testing.T) {
	cases := []struct {
		name, in string
		rows     int
		want     []float64
	}{
		{"integer", "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 2 -7\n2 1 3\n", 2,
			[]float64{0, -7, 3, 0}},
		{"pattern", "%%MatrixMarket matrix coordinate pattern general\n2 3 2\n1 3\n2 1\n", 2,
			[]float64{0, 0, 1, 1, 0, 0}},
		{"symmetric", "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n1 1 4\n3 1 -2\n3 2 0.5\n", 3,
			[]float64{4, 0, -2, 0, 0, 0.5, -2, 0.5, 0}},
		{"symmetric pattern", "%%MatrixMarket matrix coordinate pattern symmetric\n2 2 2\n2 1\n2 2\n", 2,
			[]float64{0, 1, 1, 1}},
		{"skew-symmetric", "%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 2\n2 1 1.5\n3 2 -4\n", 3,
			[]float64{0, -1.5, 0, 1.5, 0, 4, 0, -4, 0}},
		{"skew zero diagonal", "%%MatrixMarket matrix coordinate integer skew-symmetric\n2 2 2\n1 1 0\n2 1 3\n", 2,
			[]float64{0, -3, 3, 0}},
		{"upper triangle mirrored", "%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 5\n", 2,
			[]float64{0, 5, 5, 0}},
		{"case, CRLF, second banner", "%%matrixmarket MATRIX Coordinate Real General\r\n%%GraphBLAS GrB_BOOL\r\n1 1 1\r\n1 1 9\r\n", 1,
			[]float64{9}},
		{"empty", "%%MatrixMarket matrix coordinate real general\n0 0 0\n", 0, []float64{}},
		{"no entries", "%%MatrixMarket matrix coordinate real general\n2 5 0\n", 2, make([]float64, 10)},
	}
	for _, c := range cases {
		m, err := mtx.Read(strings.NewReader(c.in))
		require.NoError(t, err, c.name)
		require.NoError(t, m.Validate(), c.name)
		require.Equal(t, c.rows, m.Rows, c.name)
		require.Equal(t, c.want, dense(t, m), c.name)
	}
	// The skew diagonal zero stays an explicit entry: it is in the file.
	m, err := mtx.Read(strings.NewReader(cases[5].in))
	require.NoError(t, err)
	require.Equal(t, int64(3), m.NNZ())
}

func TestMtxReadErrors(t *testing.T) {
	const h = "%%MatrixMarket matrix coordinate real general\n"
	cases := []struct {
		name, in string
		line     int
	}{
		{"empty file", "", 1},
		{"no banner", "3 3 0\n", 1},
		{"blank before banner", "\n" + h + "1 1 0\n", 1},
		{"short banner", "%%MatrixMarket matrix coordinate real\n1 1 0\n", 1},
		{"long banner", "%%MatrixMarket matrix coordinate real general x\n1 1 0\n", 1},
		{"vector", "%%MatrixMarket vector coordinate real general\n1 1 0\n", 1},
		{"array", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n", 1},
		{"complex", "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n", 1},
		{"hermitian", "%%MatrixMarket matrix coordinate real hermitian\n1 1 0\n", 1},
		{"unknown field", "%%MatrixMarket matrix coordinate quaternion general\n1 1 0\n", 1},
		{"unknown symmetry", "%%MatrixMarket matrix coordinate real diagonal\n1 1 0\n", 1},
		{"pattern skew", "%%MatrixMarket matrix coordinate pattern skew-symmetric\n1 1 0\n", 1},
		{"no size line", h + "% only a comment\n", 2},
		{"size line with two numbers", h + "3 3\n", 2},
		{"size line with four numbers", h + "3 3 1 1\n", 2},
		{"negative size", h + "-3 3 0\n", 2},
		{"fractional size", h + "3.0 3 0\n", 2},
		{"rows over 2^31-1", h + "2147483648 1 0\n", 2},
		{"columns over 2^31-1", h + "1 99999999999 0\n", 2},
		{"entries over int64", h + "1 1 99999999999999999999\n", 2},
		{"symmetric not square", "%%MatrixMarket matrix coordinate real symmetric\n2 3 0\n", 2},
		{"row index 0", h + "2 2 1\n0 1 1\n", 3},
		{"row index past rows", h + "2 2 1\n3 1 1\n", 3},
		{"column index past columns", h + "2 2 2\n1 1 1\n\n2 3 1\n", 5},
		{"negative index", h + "2 2 1\n1 -1 1\n", 3},
		{"index not an integer", h + "2 2 1\n1.0 1 1\n", 3},
		{"index over int64", h + "2 2 1\n1 99999999999999999999 1\n", 3},
		{"bad value", h + "2 2 1\n1 1 x1\n", 3},
		{"missing value", h + "2 2 1\n1 1\n", 3},
		{"extra field", h + "2 2 1\n1 1 1 1\n", 3},
		{"pattern with value", "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 1\n", 3},
		{"integer with fraction", "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1.5\n", 3},
		{"skew nonzero diagonal", "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 2 1\n", 3},
		{"truncated", h + "2 2 3\n1 1 1\n2 2 1\n", 4},
		{"truncated mid-line", h + "2 2 2\n1 1 1\n2", 4},
		{"too many entries", h + "2 2 1\n1 1 1\n2 2 1\n", 4},
		{"line too long", h + "2 2 1\n1 1 " + strings.Repeat("1", 2<<20) + "\n", 3},
	}
	for _, c := range cases {
		_, err := mtx.Read(strings.NewReader(c.in))
		require.ErrorIs(t, err, errs.ErrFormat, c.name)
		msg := err.Error()
		require.NotContains(t, msg, "\n", c.name)
		require.Contains(t, msg, "line "+strconv.Itoa(c.line)+":", c.name)
		require.Less(t, len(msg), 200, c.name)
	}
}

func TestMtxReadHugeHeaderAllocatesLittle(t *testing.T) {
	// A header claiming 10^12 entries, or 2^31-1 columns, over two entries.
	for _, in := range []string{
		"%%MatrixMarket matrix coordinate real general\n3 3 1000000000000\n1 1 1\n2 2 2\n",
		"%%MatrixMarket matrix coordinate real symmetric\n3 3 1000000000000\n1 1 1\n2 2 2\n",
		"%%MatrixMarket matrix coordinate real general\n3 2147483647 1000000000000\n1 1 1\n2 2 2\n",
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := mtx.Read(strings.NewReader(in))
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, errs.ErrFormat)
		require.Contains(t, err.Error(), "ends after 2 of 1000000000000 entries")
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "allocated from the header's count")
	}
}

func TestMtxReadLimit(t *testing.T) {
	// Row pointers alone over the limit: 2^31-1 rows need 32 GiB.
	_, err := mtx.Read(strings.NewReader("%%MatrixMarket matrix coordinate real general\n2147483647 1 0\n"))
	require.ErrorIs(t, err, errs.ErrLimit)
	in := "%%MatrixMarket matrix coordinate real symmetric\n100 100 3\n2 1 1\n3 1 1\n4 1 1\n"
	_, err = mtx.ReadWith[float64](strings.NewReader(in), mtx.Options{MaxBytes: 1000})
	require.ErrorIs(t, err, errs.ErrLimit)
	_, err = mtx.ReadWith[float64](strings.NewReader(in), mtx.Options{MaxBytes: 100*16 + 16 + 6*32})
	require.NoError(t, err, "six expanded entries fit exactly")
	_, err = mtx.ReadWith[float64](strings.NewReader(in), mtx.Options{MaxBytes: 100*16 + 16 + 5*32})
	require.ErrorIs(t, err, errs.ErrLimit)
	_, err = mtx.ReadWith[float64](strings.NewReader(in), mtx.Options{MaxBytes: -1})
	require.ErrorIs(t, err, errs.ErrArgument)
}

func TestMtxWriteFormat(t *testing.T) {
	m, err := sparse.FromCOO(2, 3, []int{1, 0, 1}, []int{2, 1, 0}, []float64{0.1, -2, 1e6})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, mtx.Write(&b, m))
	require.Equal(t, "%%MatrixMarket matrix coordinate real general\n2 3 3\n1 2 -2\n2 3 0.10000000000000001\n2 1 1000000\n", b.String())

	var bad sparse.CSR[float32]
	require.ErrorIs(t, mtx.Write(&b, &bad), errs.ErrShape)
	require.ErrorIs(t, mtx.Write(failWriter{}, m), errs.ErrFormat)
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMtxWriteReadRoundTrip(t *testing.T) {
	r := check.NewRand(t)
	for _, s := range [][2]int{{0, 0}, {0, 4}, {5, 0}, {1, 1}, {17, 9}, {40, 61}} {
		m := conformance.RandomCSR(t, r, s[0], s[1], 0.3, true)
		if len(m.Val) > 2 {
			m.Val[0], m.Val[1] = math.Inf(-1), math.SmallestNonzeroFloat64
		}
		var b bytes.Buffer
		require.NoError(t, mtx.Write(&b, m))
		got, err := mtx.Read(&b)
		require.NoError(t, err)
		require.Equal(t, m, got, "a written matrix reads back exactly, duplicates and order kept")

		m32 := sparse.Convert[float32](m)
		b.Reset()
		require.NoError(t, mtx.Write(&b, m32))
		got32, err := mtx.Read32(&b)
		require.NoError(t, err)
		require.Equal(t, m32, got32)
	}
}

func TestMtxReadFile(t *testing.T) {
	_, err := mtx.ReadFile(t.TempDir() + "/missing.mtx")
	require.ErrorIs(t, err, errs.ErrArgument)
	require.ErrorIs(t, err, fs.ErrNotExist)
	p := t.TempDir() + "/bad.mtx"
	require.NoError(t, writeFile(p, "%%MatrixMarket matrix coordinate real general\n1 1 1\n2 1 1\n"))
	_, err = mtx.ReadFile(p)
	require.ErrorIs(t, err, errs.ErrFormat)
	require.Contains(t, err.Error(), "bad.mtx")
	require.Contains(t, err.Error(), "line 3:")
}
