package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMMKinds names the accumulators a test can force on every row.
var SpGEMMKinds = map[string]rowKind{"short": kindShort, "bitmap": kindBitmap, "bytemap": kindBytemap, "hash": kindHash}

// SpGEMMForced is b's product with every row on the named accumulator ("":
// each row picks its own) and its own workspace pool; onePassWork, when
// positive, lowers the work from which one pass is considered.
func SpGEMMForced[T sparse.Float](b *Backend, x, y *sparse.CSR[T], kind string, onePassWork int64) (*sparse.CSR[T], error) {
	return spgemm(context.Background(), b, new(spgemmPool), x, y, backend.SpGEMMOptions{}, spgemmTuning{force: SpGEMMKinds[kind], onePassWork: onePassWork})
}

// SpGEMMPlain is b's product with the shortcuts of the byte-map rows off:
// without kept columns (keep false) and without skipping nested B rows in
// the counts (nest false).
func SpGEMMPlain[T sparse.Float](b *Backend, x, y *sparse.CSR[T], keep, nest bool) (*sparse.CSR[T], error) {
	return spgemm(context.Background(), b, new(spgemmPool), x, y, backend.SpGEMMOptions{}, spgemmTuning{noKeep: !keep, noNest: !nest})
}
