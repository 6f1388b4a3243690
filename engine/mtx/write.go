package mtx

import (
	"bufio"
	"io"
	"strconv"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// Write writes m as `coordinate real general`, entries in CSR order with
// 1-based indices and %.17g values (enough digits that every float64, and
// so every float32, reads back exactly). Duplicates are written as they are.
func Write[T sparse.Float](w io.Writer, m *sparse.CSR[T]) error {
	if err := m.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	buf := make([]byte, 0, 64)
	buf = append(buf, "%%MatrixMarket matrix coordinate real general\n"...)
	buf = strconv.AppendInt(buf, int64(m.Rows), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(m.Cols), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, m.NNZ(), 10)
	buf = append(buf, '\n')
	if _, err := bw.Write(buf); err != nil {
		return errs.Format(op, err, "write failed")
	}
	for i := range m.Rows {
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			buf = strconv.AppendInt(buf[:0], int64(i)+1, 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(m.ColInd[p])+1, 10)
			buf = append(buf, ' ')
			buf = strconv.AppendFloat(buf, float64(m.Val[p]), 'g', 17, 64) // %.17g
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return errs.Format(op, err, "write failed")
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return errs.Format(op, err, "write failed")
	}
	return nil
}
