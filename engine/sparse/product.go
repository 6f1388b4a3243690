package sparse

import (
	"errors"
	"math"

	"github.com/matmix/matmix/engine/errs"
)

// DefaultMaxSpGEMMBytes is the memory one SpGEMM may allocate (output and
// workspace) when the caller sets no limit: 8 GiB.
const DefaultMaxSpGEMMBytes = 8 << 30

// CheckProduct validates both operands of A*B and their inner dimension.
// Errors name the operand and keep the kind of Validate's error. A*A (b the
// same matrix as a) validates it once.
func CheckProduct[T Float](a, b *CSR[T]) error {
	const op = "spgemm"
	for _, x := range []struct {
		name string
		m    *CSR[T]
	}{{"a", a}, {"b", b}} {
		if x.name == "b" && b == a {
			break
		}
		if err := x.m.Validate(); err != nil {
			kind := errs.ErrArgument
			var e *errs.Error
			if errors.As(err, &e) {
				kind = e.Kind
			}
			return &errs.Error{Kind: kind, Op: op, Msg: "operand " + x.name, Err: err}
		}
	}
	if a.Cols != b.Rows {
		return errs.Shape(op, "a is %dx%d and b is %dx%d: a's columns must equal b's rows", a.Rows, a.Cols, b.Rows, b.Cols)
	}
	return nil
}

// SpGEMMWork returns the number of multiply-adds of Gustavson's A*B, the sum
// over A's entries (i,k) of nnz(B[k,:]), and, when perRow is not nil (length
// a.Rows), each row's share. It fails with ErrLimit when the count, or twice
// it (the FLOP count), overflows int64. It assumes CheckProduct(a, b) passed.
func SpGEMMWork[T Float](a, b *CSR[T], perRow []int64) (int64, error) {
	total, row := int64(0), int64(0)
	for i := range a.Rows {
		row = 0
		for _, k := range a.ColInd[a.RowPtr[i]:a.RowPtr[i+1]] {
			n := b.RowPtr[k+1] - b.RowPtr[k]
			if row > math.MaxInt64-n {
				return 0, errs.Limit("spgemm", "multiply-add count of row %d overflows int64", i)
			}
			row += n
		}
		if total > math.MaxInt64-row {
			return 0, errs.Limit("spgemm", "multiply-add count overflows int64 at row %d", i)
		}
		total += row
		if total > math.MaxInt64/2 {
			return 0, errs.Limit("spgemm", "flop count 2*%d overflows int64 at row %d", total, i)
		}
		if perRow != nil {
			perRow[i] = row
		}
	}
	return total, nil
}

// SpGEMMFLOPs is the FLOP count of A*B as the spec defines it: 2 * sum over
// A's entries (i,k) of nnz(B[k,:]) (one multiply and one add each). It
// validates the operands and fails with ErrLimit on int64 overflow.
func SpGEMMFLOPs[T Float](a, b *CSR[T]) (int64, error) {
	if err := CheckProduct(a, b); err != nil {
		return 0, err
	}
	w, err := SpGEMMWork(a, b, nil)
	return 2 * w, err
}
