package cpu

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

const (
	// chunksPerThread oversplits the rows so that workers that drew cheap
	// chunks take more while another finishes, and so that cancellation is
	// noticed between chunks.
	chunksPerThread = 16
	// minParallelWork is the multiply-add count below which one worker does
	// the whole product, without goroutines.
	minParallelWork = 1 << 15
	// shortWork is the most partial products a row may have for the short
	// accumulator, which sorts them (insertion sort) and merges repeats.
	shortWork = 32
	// denseAlways is the dense accumulators' total size below which they
	// are allowed whatever the shape.
	denseAlways = 64 << 20
	// denseCacheBytes: when one worker's dense values fit in this (about
	// half the 2 MiB L2 of current server cores), every row that is not
	// short uses a dense accumulator; beyond it, only rows with at least
	// cols/denseRatio partial products do, the others use a hash table.
	denseCacheBytes = 1 << 20
	denseRatio      = 16
	// bytemapRatio: rows with at least cols/bytemapRatio partial products
	// mark their columns in a byte map, scanned eight bytes at a time, so
	// the scan costs at most one load per product; sparser rows use the
	// bitmap, whose summary finds their few columns without a scan.
	bytemapRatio = 8
	// prefetchEntries bounds the B rows prefetched for one row of A, so a
	// long row does not flush the cache before its turn.
	prefetchEntries = 32
	// heavyRow: with more than one worker, the rows are ordered heaviest
	// first when a row's work passes 1/heavyRow of a chunk's, else they stay
	// in order (A read and C written front to back).
	heavyRow = 4
	// keepRatio is the fewest multiply-adds an entry for which a byte-map
	// row keeps its columns (kept): bcsstk16 has 10, and gains; R-MAT
	// scale 16 has 2.4, and its lists (0.7 GB) cost more than they save.
	keepRatio = 4
	// onePassWork is the least work for the one-pass product, whose
	// schedule and compaction cost more than a small symbolic pass.
	onePassWork = 1 << 20
	// onePassSample is about how many rows are counted to estimate nnz(C)
	// (but at most one row in onePassStride), and onePassSlack how far
	// above it the bound may be: C is allocated at the bound, so this keeps
	// C's waste under 1/16.
	onePassSample = 2048
	onePassStride = 32
	onePassSlack  = 1.0625
	// onePassChunks: one pass cuts this many times more chunks, so that
	// each is moved to its place from the cache, soon after it is written.
	onePassChunks = 4
)

// rowKind is the accumulator of one row, chosen by its work (multiply-adds):
// the per-row choice of nsparse (Nagasaka et al. 2017), spECK (Parger et al.
// 2020) and OpSparse (Du et al. 2022), made here for a CPU core's caches.
type rowKind uint8

const (
	kindEmpty   rowKind = iota // no partial product
	kindCopy                   // one entry in A's row and B canonical: a scaled row of B
	kindShort                  // at most shortWork products: sort and merge
	kindBitmap                 // dense values, a bitmap of the columns and its summary
	kindBytemap                // dense values and a byte per column, scanned
	kindHash                   // open-addressing hash table, then a sort of its keys
)

var kindNames = [...]string{"empty", "copy", "short", "bitmap", "bytemap", "hash"}

// wsSizes are one worker's accumulator sizes; 0 where no row needs that kind.
type wsSizes struct {
	denseCols int  // columns of the dense values
	bitmap    bool // the bitmap and its summary over denseCols
	bytemap   bool // the byte map over denseCols
	hashSlots int  // slots of the largest hash table
	short     int  // partial products of the longest short row
}

// spgemmTuning lets tests reach every path on small matrices; the zero
// value is the production setting.
type spgemmTuning struct {
	force       rowKind // every row with work takes this kind (not kindCopy)
	onePassWork int64   // replaces onePassWork when positive
	noKeep      bool    // byte-map rows find their columns again (p.keep false)
	noNest      bool    // counts mark every B row (p.nest nil)
}

// spgemmPlan holds what one product needs: sizes checked against the memory
// limit before each allocation, the accumulator rule, and the schedule.
type spgemmPlan[T sparse.Float] struct {
	rows, cols int
	limit      int64
	work       int64 // multiply-adds, half the FLOP count
	maxRowWork int64 // the largest row's
	bound      int64 // sum over rows of min(work, cols): nnz(C) at most
	valBytes   int64 // sizeof(T)
	workers    int
	bCanonical bool // B's rows sorted without repeats (kindCopy is exact)
	denseOK    bool // the dense accumulators fit the memory rule
	denseAll   bool // every row that is not short or copied goes dense
	tune       spgemmTuning
	onePass    bool  // no symbolic pass: C at the bound, then compacted
	keep       bool  // byte-map rows keep their columns (spgemm_acc.go)
	keptBytes  int64 // what the kept columns take: a bound, then their size
	// nest[k]: B's rows k to nest[k] each hold the one before (nestRows);
	// nil when not needed.
	nest []int32
	// prefix[k]: B's row k is a prefix of row k+1 (nestRows), for the
	// numeric pass of kept rows (fillKept); nil when not needed.
	prefix []bool
	// aPrefix is prefix when A is B (countNext), else nil.
	aPrefix []bool
	ws      wsSizes
	kinds   [len(kindNames)]bool // which kinds occur
	classes [65]int              // rows per work class bits.Len64(w)
	// order lists the rows with work, heaviest class first (longest
	// processing time first, so no heavy row is left for the end), when
	// rows are skewed; else nil and the rows go in order. Chunk c is
	// order[bounds[c]:bounds[c+1]], or rows bounds[c] to bounds[c+1]-1
	// without order.
	order  []int32
	bounds []int
	// starts[c], one pass only: where chunk c's rows go in C's arrays
	// allocated at the bound (the sum of min(work, cols) of earlier rows).
	starts []int64
}

// newPlan starts the plan of x*y; classify counts the work.
func newPlan[T sparse.Float](x, y *sparse.CSR[T], limit int64, threads int) *spgemmPlan[T] {
	if limit == 0 {
		limit = sparse.DefaultMaxSpGEMMBytes
	}
	return &spgemmPlan[T]{
		rows: x.Rows, cols: y.Cols, limit: limit,
		valBytes: int64(unsafe.Sizeof(*new(T))), workers: max(threads, 1),
	}
}

// hashSlots is the table size for a row of at most n distinct columns: a
// power of two, at least 2n, so that linear probing stays short.
func hashSlots(n int64) int {
	return max(16, 1<<bits.Len64(uint64(2*n-1)))
}

// kind picks row i's accumulator from its entries in A and its work.
func (p *spgemmPlan[T]) kind(aLen int, w int64) rowKind {
	switch {
	case w == 0:
		return kindEmpty
	case p.tune.force != kindEmpty:
		return p.tune.force
	case aLen == 1 && p.bCanonical:
		return kindCopy
	case w <= shortWork:
		return kindShort
	case p.denseOK && w >= int64(p.cols/bytemapRatio):
		return kindBytemap
	case p.denseOK && (p.denseAll || w >= int64(p.cols/denseRatio)):
		return kindBitmap
	}
	return kindHash
}

func (p *spgemmPlan[T]) rowPtrBytes() int64 { return (int64(p.rows) + 1) * 8 }

// skewed reports whether the rows are ordered heaviest first.
func (p *spgemmPlan[T]) skewed() bool {
	return p.workers > 1 && !p.onePass && p.maxRowWork > p.work/int64(p.workers*chunksPerThread*heavyRow)
}

func (p *spgemmPlan[T]) orderBytes() int64 {
	if p.skewed() {
		return 4 * int64(p.rows)
	}
	return 0
}

// wsBytes is all workers' accumulators in one pass, as prepare sizes them.
func (p *spgemmPlan[T]) wsBytes(s wsSizes, numeric bool) (int64, bool) {
	var one []int64
	cols := int64(s.denseCols)
	if s.bitmap {
		one = append(one, (cols+63)/64, 8)
		if numeric {
			one = append(one, (cols+4095)/4096, 8)
		}
	}
	if s.bytemap {
		one = append(one, (cols+7)/8, 8)
	}
	if numeric {
		one = append(one, cols, p.valBytes, int64(s.hashSlots), 4+p.valBytes, int64(s.short), int64(unsafe.Sizeof(prod[T]{})))
	} else {
		one = append(one, int64(s.hashSlots), 4, int64(s.short), 4)
	}
	each, ok := sparse.MulSum(one...)
	if !ok {
		return 0, false
	}
	return sparse.MulSum(int64(p.workers), each)
}

func (p *spgemmPlan[T]) over(need int64, ok bool, format string, args ...any) error {
	if ok && need <= p.limit {
		return nil // the common case, without formatting the message
	}
	lim := sparse.SpGEMMLimit{Rows: p.rows, Cols: p.cols, Bytes: p.limit}
	return lim.Fits(p.work, need, ok, fmt.Sprintf(format, args...))
}

// classifyGrain is the fewest rows one goroutine of classify takes.
const classifyGrain = 2048

// classify records each row's multiply-adds in rowPtr[i+1] (failing with
// ErrLimit if the FLOP count overflows int64), picks the workers and the
// accumulator rule, and sizes the accumulators. It allocates nothing that
// grows with the problem, and runs over the rows in parallel.
func (p *spgemmPlan[T]) classify(ctx context.Context, b *Backend, x, y *sparse.CSR[T], rowPtr []int64) error {
	var mu sync.Mutex
	var failed error
	canonical := true
	// Parts of x and y, sharing their arrays: both functions read rows by
	// their pointers only.
	rows := func(m *sparse.CSR[T], lo, hi int) *sparse.CSR[T] {
		return &sparse.CSR[T]{Rows: hi - lo, Cols: m.Cols, RowPtr: m.RowPtr[lo : hi+1], ColInd: m.ColInd, Val: m.Val}
	}
	err := b.parallelFor(ctx, p.rows, classifyGrain, func(lo, hi int) {
		w, err := sparse.SpGEMMWork(rows(x, lo, hi), y, rowPtr[lo+1:hi+1])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			failed = err
		case p.work > math.MaxInt64/2-w:
			failed = errs.Limit("spgemm", "flop count of the %dx%d product overflows int64", p.rows, p.cols)
		default:
			p.work += w
		}
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	err = b.parallelFor(ctx, y.Rows, classifyGrain, func(lo, hi int) {
		if !rows(y, lo, hi).IsCanonical() {
			mu.Lock()
			canonical = false
			mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	if p.work < minParallelWork {
		p.workers = 1
	}
	p.bCanonical = canonical
	denseCols := int64(p.cols)
	dense, ok := sparse.MulSum(int64(p.workers), denseCols*p.valBytes+8*((denseCols+63)/64+(denseCols+4095)/4096))
	p.denseOK = ok && (dense <= denseAlways || dense <= p.work)
	p.denseAll = denseCols*p.valBytes <= denseCacheBytes
	err = b.parallelFor(ctx, p.rows, classifyGrain, func(lo, hi int) {
		var part spgemmPlan[T]
		for i := lo; i < hi; i++ {
			w := rowPtr[i+1]
			k := p.kind(int(x.RowPtr[i+1]-x.RowPtr[i]), w)
			part.kinds[k] = true
			part.maxRowWork = max(part.maxRowWork, w)
			part.bound += min(w, denseCols)
			part.classes[bits.Len64(uint64(w))]++
			switch k {
			case kindShort:
				part.ws.short = max(part.ws.short, int(w))
			case kindHash:
				part.ws.hashSlots = max(part.ws.hashSlots, hashSlots(min(w, denseCols)))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for k, in := range part.kinds {
			p.kinds[k] = p.kinds[k] || in
		}
		for c, n := range part.classes {
			p.classes[c] += n
		}
		p.maxRowWork = max(p.maxRowWork, part.maxRowWork)
		p.bound += part.bound // bound <= work <= MaxInt64/2: no overflow
		p.ws.short = max(p.ws.short, part.ws.short)
		p.ws.hashSlots = max(p.ws.hashSlots, part.ws.hashSlots)
	})
	if err != nil {
		return err
	}
	p.ws.bitmap, p.ws.bytemap = p.kinds[kindBitmap], p.kinds[kindBytemap]
	if p.ws.bitmap || p.ws.bytemap {
		p.ws.denseCols = p.cols
		// With sorted B rows, a bitmap row may take the byte map (dense in
		// spgemm_acc.go).
		p.ws.bytemap = p.ws.bytemap || (p.ws.bitmap && p.bCanonical && p.tune.force == kindEmpty)
	}
	return nil
}

// accName lists the accumulators in use, for messages.
func (p *spgemmPlan[T]) accName() string {
	var names []string
	for k := kindCopy; k <= kindHash; k++ {
		if p.kinds[k] {
			names = append(names, kindNames[k])
		}
	}
	if len(names) == 0 {
		return "no"
	}
	return strings.Join(names, "+")
}

// passBytes is what a pass holds: row pointers, the row order, the kept
// columns, nest and prefix, the accumulators, and nnz entries of C.
func (p *spgemmPlan[T]) passBytes(numeric bool, nnz int64) (int64, bool) {
	acc, ok := p.wsBytes(p.ws, numeric)
	need, ok2 := sparse.MulSum(p.rowPtrBytes(), 1, p.orderBytes(), 1, acc, 1, p.keptBytes, 1, int64(len(p.nest)), 4, int64(len(p.prefix)), 1, nnz, 4+p.valBytes)
	return need, ok && ok2
}

// checkCount checks the symbolic pass: row pointers, the row order and the
// accumulators.
func (p *spgemmPlan[T]) checkCount() error {
	need, ok := p.passBytes(false, 0)
	return p.over(need, ok, "the symbolic pass (%s accumulators)", p.accName())
}

// checkFill checks the numeric pass: C at its exact size as well, or at
// its bound in one pass.
func (p *spgemmPlan[T]) checkFill(nnz int64) error {
	need, ok := p.passBytes(true, nnz)
	what := "C with %d entries and %s accumulators"
	if p.onePass {
		what = "C with at most %d entries and %s accumulators"
	}
	return p.over(need, ok && nnz <= math.MaxInt, what, nnz, p.accName())
}

// nestRows finds, for the byte-map rows' counts, the runs of B's rows that
// each hold the row before (nested in spgemm_acc.go), and for their
// numeric pass the rows that are a prefix of the next (fillKept), when B
// is canonical and both fit the memory limit: a merge of each row with the
// next, in parallel, then the runs' ends from the last row up.
func (p *spgemmPlan[T]) nestRows(ctx context.Context, b *Backend, x, y *sparse.CSR[T]) error {
	if !p.ws.bytemap || !p.bCanonical || p.onePass || p.tune.noNest || y.Rows < 2 {
		return nil
	}
	p.nest, p.prefix = make([]int32, y.Rows), make([]bool, y.Rows) // checked: tryOnePass, schedule done
	if p.checkCount() != nil {
		p.nest, p.prefix = nil, nil
		return nil
	}
	nest, prefix := p.nest, p.prefix
	err := b.parallelFor(ctx, y.Rows-1, classifyGrain, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			nest[k] = int32(k)
			row, next := y.ColInd[y.RowPtr[k]:y.RowPtr[k+1]], y.ColInd[y.RowPtr[k+1]:y.RowPtr[k+2]]
			if len(row) > len(next) {
				continue
			}
			prefix[k] = slices.Equal(row, next[:len(row)])
			if prefix[k] || subset(row, next) {
				nest[k]++
			}
		}
	})
	if err != nil {
		return err
	}
	if x == y {
		p.aPrefix = prefix
	}
	nest[y.Rows-1] = int32(y.Rows - 1)
	for k := y.Rows - 2; k >= 0; k-- {
		if nest[k] > int32(k) {
			nest[k] = nest[k+1]
		}
	}
	return nil
}

// subset reports whether every column of the sorted row a is in the sorted
// row b.
func subset(a, b []int32) bool {
	q := 0
	for _, j := range a {
		for q < len(b) && b[q] < j {
			q++
		}
		if q == len(b) || b[q] != j {
			return false
		}
		q++
	}
	return true
}

// keepFor decides whether byte-map rows may keep their columns from the
// symbolic pass for the numeric one (kept): when any row takes the byte
// map and the lists fit the memory limit at their bound, 4 bytes for each
// of min(p.bound, work/keepRatio) entries.
func (p *spgemmPlan[T]) keepFor() {
	if !p.ws.bytemap || p.tune.noKeep || p.onePass {
		return
	}
	p.keptBytes = 4 * min(p.bound, p.work/keepRatio) // bound <= work <= MaxInt64/2: no overflow
	if p.checkCount() != nil {
		p.keptBytes = 0
		return
	}
	p.keep = true
}

// kept reports whether a byte-map row of w multiply-adds and n entries
// keeps its columns from the symbolic pass (spgemm_acc.go): with at least
// keepRatio products an entry, the byte map's stores and scan that the
// numeric pass saves cost more than listing the columns (4 bytes an entry,
// written, then read back). Both passes decide alike; n is exact in both.
func (p *spgemmPlan[T]) kept(w int64, n int) bool {
	return p.keep && w >= keepRatio*int64(n)
}

// tryOnePass decides whether to skip the symbolic pass, and returns the
// bound on nnz(C) then (p.bound). That pays when few partial products
// share a column (random sparse products: C holds nearly one entry per
// product), so the bound is close to nnz(C); then C is allocated at the
// bound and compacted, where the symbolic pass would read all of B once
// more. A sample of rows, counted exactly, estimates how close. rowPtr[i+1]
// holds row i's work; pool lends the sample its accumulator.
func (p *spgemmPlan[T]) tryOnePass(x, y *sparse.CSR[T], rowPtr []int64, pool *spgemmPool) (int64, bool) {
	least := int64(onePassWork)
	if p.tune.onePassWork > 0 {
		least = p.tune.onePassWork
	}
	if p.work < least || p.maxRowWork > p.work/int64(p.workers*chunksPerThread*heavyRow) {
		return 0, false
	}
	cols := int64(p.cols)
	w := getWork[T](pool)
	defer putWork(pool, w)
	w.prepare(&p.ws, false)
	// A first sample of 1/16 the rows turns most products away cheaply.
	for _, n := range []int{onePassSample / 16, onePassSample} {
		sampleBound, sampleNNZ := int64(0), int64(0)
		for i := 0; i < p.rows; i += max(onePassStride, p.rows/n) {
			sampleBound += min(rowPtr[i+1], cols)
			sampleNNZ += w.count(p, x, y, i, rowPtr[i+1])
		}
		if float64(sampleBound) > onePassSlack*float64(sampleNNZ) {
			return 0, false
		}
	}
	p.onePass = true
	if p.checkFill(p.bound) != nil { // the exact size may fit where the bound does not
		p.onePass = false
		return 0, false
	}
	return p.bound, true
}

// schedule orders the rows (when skewed) and cuts them into chunks of about
// equal cost, a row costing its multiply-adds plus one; rowPtr[i+1] holds
// row i's multiply-adds.
func (p *spgemmPlan[T]) schedule(rowPtr []int64) {
	n := p.rows
	if p.skewed() {
		// Counting sort by work class, heaviest first; rows without work
		// are left out (their count is 0 already).
		n -= p.classes[0]
		start := [65]int{}
		for c, at := 63, 0; c >= 1; c-- {
			start[c] = at
			at += p.classes[c]
		}
		p.order = make([]int32, n)
		for i := range p.rows {
			if c := bits.Len64(uint64(rowPtr[i+1])); c > 0 {
				p.order[start[c]] = int32(i)
				start[c]++
			}
		}
	}
	nchunks := min(n, p.workers*chunksPerThread)
	if p.onePass { // smaller chunks, moved while still in cache (onePass)
		nchunks = min(n, p.workers*chunksPerThread*onePassChunks)
	}
	p.bounds = make([]int, nchunks+1)
	if nchunks == 0 {
		return
	}
	total := p.work + int64(n) // work <= MaxInt64/2, so no overflow
	step := max(total/int64(nchunks), 1)
	acc, c := int64(0), 1
	for t := range n {
		i := t
		if p.order != nil {
			i = int(p.order[t])
		}
		acc += rowPtr[i+1] + 1
		for c < nchunks && acc >= int64(c)*step {
			p.bounds[c] = t + 1
			c++
		}
	}
	for ; c <= nchunks; c++ {
		p.bounds[c] = n
	}
	if p.onePass {
		p.starts = make([]int64, nchunks+1)
		at, cols := int64(0), int64(p.cols)
		for c := range nchunks {
			p.starts[c] = at
			for i := p.bounds[c]; i < p.bounds[c+1]; i++ {
				at += min(rowPtr[i+1], cols)
			}
		}
		p.starts[nchunks] = at
	}
}

// run calls row for every scheduled row i of x*y, c its chunk. Each worker
// takes a workspace from pool, sized for the pass, then claims chunks in
// schedule order until none is left; a done context stops the workers
// between chunks. Gustavson's product waits on memory: each entry (i,k) of
// A reads B's row k, anywhere in B. So while a row is computed, the B rows
// of the next row and the row pointers of the one after are fetched
// (prefetchRows, prefetchPtrs: software prefetching as Intel's optimization
// manual describes it, in two stages because the row pointer locates the
// row). That halves the time of the products on random matrices.
// chunkDone, when not nil, is called after each chunk's last row, with
// the workspace that computed it.
func (p *spgemmPlan[T]) run(ctx context.Context, b *Backend, pool *spgemmPool, x, y *sparse.CSR[T], numeric bool, row func(w *spgemmWork[T], c, i int), chunkDone func(w *spgemmWork[T], c int)) error {
	var next atomic.Int64
	nchunks := int64(len(p.bounds) - 1)
	rowAt := func(t int) int {
		if p.order != nil {
			return int(p.order[t])
		}
		return t
	}
	var val unsafe.Pointer
	if numeric {
		val = unsafe.Pointer(unsafe.SliceData(y.Val))
	}
	shift := uint(bits.TrailingZeros64(uint64(p.valBytes)))
	aHead := func(i int) []int32 { // the first entries of A's row i
		lo := x.RowPtr[i]
		return x.ColInd[lo:min(x.RowPtr[i+1], lo+prefetchEntries)]
	}
	err := b.parallelFor(ctx, p.workers, 1, func(lo, hi int) {
		w := getWork[T](pool)
		w.prepare(&p.ws, numeric)
		for {
			c := next.Add(1) - 1
			if c >= nchunks || ctx.Err() != nil {
				break
			}
			first, end := p.bounds[c], p.bounds[c+1]
			for t := first; t < end; t++ {
				if t+1 < end {
					prefetchRows(aHead(rowAt(t+1)), unsafe.SliceData(y.RowPtr), unsafe.SliceData(y.ColInd), val, shift)
				}
				if t+2 < end {
					prefetchPtrs(aHead(rowAt(t+2)), unsafe.SliceData(y.RowPtr))
				}
				row(w, int(c), rowAt(t))
			}
			if chunkDone != nil {
				chunkDone(w, int(c))
			}
		}
		putWork(pool, w) // every row completed: the workspace is clean
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}
