package mtx_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// FuzzRead: no input panics; an error is a Format or Limit error on one short
// line; a matrix
// read is valid and survives Write and Read unchanged. The seeds run in
// plain `go test`.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"%%MatrixMarket matrix coordinate real general\n3 4 4\n3 4 -1.5e-3\n1 1 2\n1 3 0.25\n3 2 1e300\n",
		"%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 2 -7\n2 1 3\n",
		"%%MatrixMarket matrix coordinate pattern general\n%%GraphBLAS GrB_BOOL\n% c\n7 7 3\n4 1\n1 2\n7 5\n",
		"%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n1 1 4\n3 1 -2\n3 2 0.5\n",
		"%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 2\n2 1 1.5\n3 2 -4\n",
		"%%MatrixMarket matrix coordinate pattern symmetric\n2 2 2\n2 1\n2 2\n",
		"%%MatrixMarket matrix coordinate real general\r\n\r\n2 2 1\r\n2 2 NaN\r\n",
		"%%MatrixMarket matrix coordinate real general\n0 0 0\n",
		"%%MatrixMarket matrix coordinate real general\n3 3 1000000000000\n1 1 1\n",
		"%%MatrixMarket matrix coordinate real general\n2147483647 2147483647 1\n1 1 1\n",
		"%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n",
		"%%MatrixMarket matrix coordinate complex hermitian\n1 1 1\n1 1 1 0\n",
		"%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n",
		"%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := mtx.ReadWith[float64](bytes.NewReader(in), mtx.Options{MaxBytes: 64 << 20})
		if err != nil {
			if !errors.Is(err, errs.ErrFormat) && !errors.Is(err, errs.ErrLimit) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 300 {
				t.Fatalf("error message not one short line: %q", msg)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("invalid matrix read: %v", err)
		}
		var b bytes.Buffer
		if err := mtx.Write(&b, m); err != nil {
			t.Fatalf("write: %v", err)
		}
		back, err := mtx.Read(&b)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !same(m, back) {
			t.Fatalf("round trip changed the matrix")
		}
	})
}

func same(a, b *sparse.CSR[float64]) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols || len(a.Val) != len(b.Val) {
		return false
	}
	for i := range a.RowPtr {
		if a.RowPtr[i] != b.RowPtr[i] {
			return false
		}
	}
	for p := range a.Val {
		x, y := a.Val[p], b.Val[p]
		if a.ColInd[p] != b.ColInd[p] || (x != y && !(math.IsNaN(x) && math.IsNaN(y))) {
			return false
		}
	}
	return true
}
