package sparse

import (
	"math"
	"math/bits"

	"github.com/matmix/matmix/engine/errs"
)

// SpGEMMLimit is the memory bound of one product, rows x cols, as every
// backend checks it before each allocation, so that they refuse the same
// products with the same messages.
type SpGEMMLimit struct {
	Rows, Cols int
	Bytes      int64
}

// NewSpGEMMLimit resolves the limit a caller asked for (0: the default;
// negative: an argument error) and checks C's row pointers, the first
// allocation of any SpGEMM, made before the work is known.
func NewSpGEMMLimit(rows, cols int, max int64) (SpGEMMLimit, error) {
	const op = "spgemm"
	if max < 0 {
		return SpGEMMLimit{}, errs.Argument(op, "memory limit must be >= 0, got %d", max)
	}
	if max == 0 {
		max = DefaultMaxSpGEMMBytes
	}
	l := SpGEMMLimit{Rows: rows, Cols: cols, Bytes: max}
	if need := l.RowPtrBytes(); need > max {
		return l, errs.Limit(op, "%dx%d product: the row pointers need %d bytes, over the limit of %d bytes", rows, cols, need, max)
	}
	return l, nil
}

// RowPtrBytes is the size of C's row pointers.
func (l SpGEMMLimit) RowPtrBytes() int64 { return 8 * (int64(l.Rows) + 1) }

// Fits fails with errs.ErrLimit when what (a phase, or C) needs more than
// the limit, or when its byte count overflowed int64 (ok false). work is
// the product's multiply-adds, for the message.
func (l SpGEMMLimit) Fits(work, need int64, ok bool, what string) error {
	switch {
	case !ok:
		return errs.Limit("spgemm", "%dx%d product with %d flops: %s overflows int64 bytes", l.Rows, l.Cols, 2*work, what)
	case need > l.Bytes:
		return errs.Limit("spgemm", "%dx%d product with %d flops: %s needs %d bytes, over the limit of %d bytes", l.Rows, l.Cols, 2*work, what, need, l.Bytes)
	}
	return nil
}

// MulSum is sum n[2t]*n[2t+1] over the pairs of n (counts times sizes), or
// false when it overflows int64.
func MulSum(n ...int64) (int64, bool) {
	total := int64(0)
	for t := 0; t < len(n); t += 2 {
		hi, lo := bits.Mul64(uint64(n[t]), uint64(n[t+1]))
		if hi != 0 || lo > math.MaxInt64 || total > math.MaxInt64-int64(lo) {
			return 0, false
		}
		total += int64(lo)
	}
	return total, true
}
