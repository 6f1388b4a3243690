package cpu

import (
	"math"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// A hash table near 2^62 slots (claimed, not allocated) makes the
// workspace overflow int64 bytes: the plan reports it instead of wrapping.
func TestSpGEMMPlanWorkspaceOverflow(t *testing.T) {
	p := &spgemmPlan[float64]{rows: 1, cols: 1, limit: math.MaxInt64, workers: 4, valBytes: 8, ws: wsSizes{hashSlots: 1 << 61}}
	_, ok := p.wsBytes(p.ws, true)
	require.False(t, ok)
	require.ErrorContains(t, p.checkCount(), "overflows int64")
	require.ErrorContains(t, p.checkFill(1), "overflows int64")
	p.ws = wsSizes{denseCols: 1, bitmap: true}
	require.NoError(t, p.checkCount(), "a dense accumulator for one column is small")
	require.ErrorContains(t, p.checkFill(math.MaxInt64/8), "overflows int64")
}

func TestSpGEMMPlanKind(t *testing.T) {
	p := &spgemmPlan[float64]{cols: 1 << 20, bCanonical: true, denseOK: true}
	require.Equal(t, kindEmpty, p.kind(3, 0))
	require.Equal(t, kindCopy, p.kind(1, 1000))
	require.Equal(t, kindShort, p.kind(2, shortWork))
	require.Equal(t, kindHash, p.kind(2, shortWork+1), "far below cols/denseRatio")
	require.Equal(t, kindBitmap, p.kind(2, 1<<20/denseRatio))
	require.Equal(t, kindBytemap, p.kind(2, 1<<20/bytemapRatio))
	p.denseAll = true
	require.Equal(t, kindBitmap, p.kind(2, shortWork+1))
	p.tune.force = kindHash
	require.Equal(t, kindHash, p.kind(1, 1<<20), "tests force a kind")
	require.Equal(t, kindEmpty, p.kind(1, 0))
	p.tune.force = kindEmpty
	p.bCanonical, p.denseOK = false, false
	require.Equal(t, kindShort, p.kind(1, 7), "B not canonical: no copy")
	require.Equal(t, kindHash, p.kind(1, 1<<30))
	require.Equal(t, 16, hashSlots(1))
	require.Equal(t, 64, hashSlots(32))
	require.Equal(t, 128, hashSlots(33))
}

// skewed returns A (n x n, row i holding column i, and row 0 also the
// columns 1 to n/4: a heavy row) and B whose row i has i%50 entries: rows
// of very different work.
func skewed(t *testing.T, n int) (a, b *sparse.CSR[float64]) {
	var ai, aj, bi, bj []int
	for i := range n {
		ai, aj = append(ai, i), append(aj, i)
		if i > 0 && i <= n/4 {
			ai, aj = append(ai, 0), append(aj, i)
		}
		for j := range i % 50 {
			bi, bj = append(bi, i), append(bj, j)
		}
	}
	a, err := sparse.FromCOO(n, n, ai, aj, make([]float64, len(ai)))
	require.NoError(t, err)
	b, err = sparse.FromCOO(n, 50, bi, bj, make([]float64, len(bi)))
	require.NoError(t, err)
	return a, b
}

// plan runs newPlan, classify and checkCount.
func plan(t *testing.T, a, b *sparse.CSR[float64], threads int) (*spgemmPlan[float64], []int64) {
	p := newPlan(a, b, 0, threads)
	rowPtr := make([]int64, a.Rows+1)
	require.NoError(t, p.classify(t.Context(), New(threads), a, b, rowPtr))
	require.NoError(t, p.checkCount())
	return p, rowPtr
}

// With several workers and skewed rows the schedule lists every row with
// work once, heaviest work class first, in chunks of about equal cost;
// with one worker it takes every row in order.
func TestSpGEMMPlanSchedule(t *testing.T) {
	const n = 20000
	a, b := skewed(t, n)
	for _, threads := range []int{1, 3} {
		p, rowPtr := plan(t, a, b, threads)
		p.schedule(rowPtr)
		require.Equal(t, threads, p.workers)
		require.True(t, p.kinds[kindEmpty] && p.kinds[kindCopy], "B is canonical and most rows of A have one entry")
		require.Len(t, p.bounds, threads*chunksPerThread+1)
		rows := n
		if threads > 1 {
			require.True(t, p.skewed())
			rows = n - n/50 + 1 // rows i%50 == 0 but row 0 have no work
			require.Equal(t, rows, len(p.order))
			require.Equal(t, int32(0), p.order[0], "the heavy row first")
			seen := make([]bool, n)
			for u, i := range p.order {
				require.False(t, seen[i])
				seen[i] = true
				require.NotZero(t, rowPtr[i+1])
				if u > 0 {
					prev := p.order[u-1]
					cl, cp := bits.Len64(uint64(rowPtr[i+1])), bits.Len64(uint64(rowPtr[prev+1]))
					require.True(t, cl < cp || (cl == cp && i > prev), "heaviest class first, rows in order within one")
				}
			}
		} else {
			require.Nil(t, p.order)
		}
		require.Equal(t, 0, p.bounds[0])
		require.Equal(t, rows, p.bounds[len(p.bounds)-1])
		total := p.work + int64(rows)
		for c := 1; c < len(p.bounds); c++ {
			require.LessOrEqual(t, p.bounds[c-1], p.bounds[c])
			cost := int64(0)
			for u := p.bounds[c-1]; u < p.bounds[c]; u++ {
				i := u
				if p.order != nil {
					i = int(p.order[u])
				}
				cost += rowPtr[i+1] + 1
			}
			require.LessOrEqual(t, cost, max(total/int64(len(p.bounds)-1)+50, rowPtr[1]+1), "chunk %d", c)
		}
	}
}

// Rows of even work stay in order with several workers.
func TestSpGEMMPlanEvenRowsInOrder(t *testing.T) {
	a := sparse.ErdosRenyi(3000, 8, 1)
	p, rowPtr := plan(t, a, a, 2)
	p.schedule(rowPtr)
	require.Equal(t, 2, p.workers)
	require.False(t, p.skewed())
	require.Nil(t, p.order)
	require.Zero(t, p.orderBytes())
}

// One pass is taken for a random product, where nearly every partial
// product is an entry of C, and not where products pile up on few columns,
// nor below onePassWork, nor where only the exact size fits the limit. The
// chunk starts follow the bound.
func TestSpGEMMPlanOnePass(t *testing.T) {
	er := sparse.ErdosRenyi(4000, 5, 5)
	onePass := func(a *sparse.CSR[float64], least int64, limit func(p *spgemmPlan[float64]) int64) (*spgemmPlan[float64], []int64, int64, bool) {
		p, rowPtr := plan(t, a, a, 2)
		p.tune.onePassWork = least
		if limit != nil {
			p.limit = limit(p)
		}
		bound, ok := p.tryOnePass(a, a, rowPtr, new(spgemmPool))
		require.Equal(t, ok, p.onePass)
		return p, rowPtr, bound, ok
	}
	p, rowPtr, bound, ok := onePass(er, 1, nil)
	require.True(t, ok)
	c, err := New(2).SpGEMM64(t.Context(), er, er, backend.SpGEMMOptions{})
	require.NoError(t, err)
	require.GreaterOrEqual(t, bound, c.NNZ())
	require.Less(t, float64(bound), onePassSlack*float64(c.NNZ()))
	p.schedule(rowPtr)
	require.Len(t, p.starts, len(p.bounds))
	require.Equal(t, bound, p.starts[len(p.starts)-1])

	_, _, _, ok = onePass(er, 0, nil)
	require.False(t, ok, "below onePassWork")

	// The limit: where the bound fits, and where only the exact size does.
	wsBytes := func(p *spgemmPlan[float64]) int64 {
		acc, _ := p.wsBytes(p.ws, true)
		return p.rowPtrBytes() + acc
	}
	_, _, _, ok = onePass(er, 1, func(p *spgemmPlan[float64]) int64 { return wsBytes(p) + bound*12 })
	require.True(t, ok)
	_, _, _, ok = onePass(er, 1, func(p *spgemmPlan[float64]) int64 { return wsBytes(p) + c.NNZ()*12 })
	require.False(t, ok)

	// A band of 16 diagonals: 256 products a row on 31 columns.
	const n, band = 1000, 16
	var bi, bj []int
	for i := range n {
		for d := range band {
			bi, bj = append(bi, i), append(bj, (i+d)%n)
		}
	}
	banded, err := sparse.FromCOO(n, n, bi, bj, make([]float64, len(bi)))
	require.NoError(t, err)
	_, _, _, ok = onePass(banded, 1, nil)
	require.False(t, ok)
}

// A small product runs on one worker: no goroutines for tiny calls.
func TestSpGEMMPlanSmallIsSerial(t *testing.T) {
	a, b := skewed(t, 100)
	p, _ := plan(t, a, b, 8)
	require.Equal(t, 1, p.workers)
}

// A FLOP count past int64, claimed by B's row pointers (classify reads
// lengths only), fails with ErrLimit: within one part of the rows, and
// where two parts, each below the limit, sum past it.
func TestSpGEMMPlanWorkOverflow(t *testing.T) {
	b := &sparse.CSR[float64]{Rows: 1, Cols: 1, RowPtr: []int64{0, 1 << 61}}
	for name, rows := range map[string][]int{"one part": {0, 0, 0, 0}, "two parts": {0, 2*classifyGrain - 1}} {
		a, err := sparse.FromCOO(2*classifyGrain, 1, rows, make([]int, len(rows)), make([]float64, len(rows)))
		require.NoError(t, err)
		p := newPlan(a, b, 0, 2)
		err = p.classify(t.Context(), New(2), a, b, make([]int64, a.Rows+1))
		require.ErrorIs(t, err, errs.ErrLimit, name)
		require.ErrorContains(t, err, "overflows int64", name)
	}
}

// nestRows finds the runs of B rows that each hold the one before, and
// counts skip them only where the next row of A's is in the same run.
func TestSpGEMMPlanNest(t *testing.T) {
	require.True(t, subset([]int32{}, []int32{}))
	require.True(t, subset([]int32{2, 5}, []int32{1, 2, 3, 5}))
	require.False(t, subset([]int32{2, 4}, []int32{1, 2, 3, 5}))
	require.False(t, subset([]int32{6}, []int32{1, 2, 3, 5}))

	// Rows {0} {0,1} {0,1,2} {5} {3} {3,4}: runs 0-2, 3, 4-5.
	y, err := sparse.FromCOO(6, 6, []int{0, 1, 1, 2, 2, 2, 3, 4, 5, 5}, []int{0, 0, 1, 0, 1, 2, 5, 3, 3, 4}, make([]float64, 10))
	require.NoError(t, err)
	for _, threads := range []int{1, 2} {
		p := newPlan(y, y, 0, threads)
		p.bCanonical, p.ws.bytemap = true, true
		require.NoError(t, p.nestRows(t.Context(), New(threads), y, y))
		require.Equal(t, []int32{2, 2, 2, 3, 5, 5}, p.nest)
	}
	nest := []int32{2, 2, 2, 3, 5, 5}
	aCols := []int32{0, 2, 3, 4, 5}
	var skipped []int32
	for t := range aCols {
		if nested(nest, aCols, t) {
			skipped = append(skipped, aCols[t])
		}
	}
	require.Equal(t, []int32{0, 4}, skipped, "0 is in row 2, 4 in row 5; 2 and 3 end their runs")
	require.False(t, nested(nil, aCols, 0), "no nest, no skip")

	p := newPlan(y, y, 0, 1)
	p.bCanonical, p.ws.bytemap, p.onePass = true, true, true
	require.NoError(t, p.nestRows(t.Context(), New(1), y, y))
	require.Nil(t, p.nest, "one pass counts nothing")
}
