package cpu

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// chunksPerThread oversplits the rows so that a worker that drew cheap rows
// is not idle while another finishes, and so that cancellation is noticed
// between chunks.
const chunksPerThread = 8

// denseAlways is the dense accumulators' total size below which they are
// used whatever the rows look like.
const denseAlways = 64 << 20

// spgemmPlan holds the sizes one product needs and checks each allocation
// against the memory limit before it is made.
type spgemmPlan[T sparse.Float] struct {
	rows, cols int
	limit      int64
	work       int64 // multiply-adds, half the FLOP count
	maxRowWork int64 // the largest row's multiply-adds
	valBytes   int64 // sizeof(T)
	workers    int
	dense      bool  // dense accumulators (else sort)
	bounds     []int // chunk c is rows [bounds[c], bounds[c+1])
}

// newPlan counts the multiply-adds (no allocation) so that a product whose
// FLOP count overflows int64 fails first.
func newPlan[T sparse.Float](x, y *sparse.CSR[T], limit int64, threads int) (*spgemmPlan[T], error) {
	if limit == 0 {
		limit = sparse.DefaultMaxSpGEMMBytes
	}
	work, err := sparse.SpGEMMWork(x, y, nil)
	if err != nil {
		return nil, err
	}
	var zero T
	return &spgemmPlan[T]{rows: x.Rows, cols: y.Cols, limit: limit, work: work, valBytes: int64(unsafe.Sizeof(zero)), workers: threads}, nil
}

// mulSum is sum n[2t]*n[2t+1], or false when it overflows int64.
func mulSum(n ...int64) (int64, bool) {
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

func (p *spgemmPlan[T]) rowPtrBytes() int64 { return (int64(p.rows) + 1) * 8 }

// accBytes is the workspace of all workers' accumulators in one pass.
func (p *spgemmPlan[T]) accBytes(dense, numeric bool) (int64, bool) {
	items, size := p.maxRowWork, int64(4)
	switch {
	case dense && numeric:
		items, size = int64(p.cols), 4+p.valBytes
	case dense:
		items = int64(p.cols)
	case numeric:
		size = int64(unsafe.Sizeof(pair[T]{}))
	}
	one, ok := mulSum(items, size)
	if !ok {
		return 0, false
	}
	return mulSum(int64(p.workers), one)
}

func (p *spgemmPlan[T]) over(need int64, ok bool, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if !ok {
		return errs.Limit("spgemm", "%dx%d product with %d flops: %s overflows int64 bytes", p.rows, p.cols, 2*p.work, what)
	}
	if need > p.limit {
		return errs.Limit("spgemm", "%dx%d product with %d flops: %s needs %d bytes, over the limit of %d bytes", p.rows, p.cols, 2*p.work, what, need, p.limit)
	}
	return nil
}

// checkRowPtr checks C's row pointers, the first allocation.
func (p *spgemmPlan[T]) checkRowPtr() error {
	return p.over(p.rowPtrBytes(), true, "the row pointers")
}

// split records each row's multiply-adds in rowPtr[i+1], cuts the rows into
// chunks of about equal cost (a row costs its multiply-adds plus one), and
// picks the accumulator.
func (p *spgemmPlan[T]) split(x, y *sparse.CSR[T], rowPtr []int64) error {
	if _, err := sparse.SpGEMMWork(x, y, rowPtr[1:]); err != nil {
		return err
	}
	nchunks := min(p.rows, p.workers*chunksPerThread)
	p.workers = min(p.workers, nchunks)
	p.bounds = make([]int, nchunks+1)
	if nchunks == 0 {
		return nil
	}
	total := p.work + int64(p.rows) // work <= MaxInt64/2, so no overflow
	step := max(total/int64(nchunks), 1)
	acc, c := int64(0), 1
	for i := range p.rows {
		w := rowPtr[i+1]
		p.maxRowWork = max(p.maxRowWork, w)
		acc += w + 1
		for c < nchunks && acc >= int64(c)*step {
			p.bounds[c] = i + 1
			c++
		}
	}
	for ; c <= nchunks; c++ {
		p.bounds[c] = p.rows
	}
	dense, _ := p.accBytes(true, true)
	sorted, ok := p.accBytes(false, true)
	p.dense = dense <= denseAlways || !ok || dense/4 <= sorted
	return nil
}

func (p *spgemmPlan[T]) accName() string {
	if p.dense {
		return "dense"
	}
	return "sort"
}

// checkCount checks the symbolic pass: row pointers and accumulators.
func (p *spgemmPlan[T]) checkCount() error {
	acc, ok := p.accBytes(p.dense, false)
	need, ok2 := mulSum(p.rowPtrBytes(), 1, acc, 1)
	return p.over(need, ok && ok2, "the symbolic pass (%s accumulators)", p.accName())
}

// checkFill checks the numeric pass: C at its exact size and accumulators.
func (p *spgemmPlan[T]) checkFill(nnz int64) error {
	acc, ok := p.accBytes(p.dense, true)
	need, ok2 := mulSum(p.rowPtrBytes(), 1, acc, 1, nnz, 4+p.valBytes)
	return p.over(need, ok && ok2 && nnz <= math.MaxInt, "C with %d entries and %s accumulators", nnz, p.accName())
}

// run calls row for every row, chunks spread over the workers, each with its
// own accumulator. A done context stops the workers between chunks.
func (p *spgemmPlan[T]) run(ctx context.Context, b *Backend, numeric bool, row func(w *accumulator[T], i int)) error {
	err := b.parallelFor(ctx, len(p.bounds)-1, 1, func(lo, hi int) {
		w := newAccumulator[T](p.dense, numeric, p.cols, p.maxRowWork)
		for c := lo; c < hi; c++ {
			if ctx.Err() != nil {
				return
			}
			for i := p.bounds[c]; i < p.bounds[c+1]; i++ {
				row(w, i)
			}
		}
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}
