package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/sparse"
)

func TestSpGEMMMulSumOverflow(t *testing.T) {
	n, ok := mulSum(3, 4, 5, 6)
	require.True(t, ok)
	require.Equal(t, int64(42), n)
	_, ok = mulSum(1<<62, 2)
	require.False(t, ok)
	_, ok = mulSum(math.MaxInt64, 1, 1, 1)
	require.False(t, ok)
	_, ok = mulSum(1<<31, 1<<31, 1<<31, 1<<31) // 2^62 twice: 2^63
	require.False(t, ok)
}

// A row whose work nears 2^62 (claimed, not stored) makes the sort
// workspace overflow int64 bytes: the plan reports it instead of wrapping.
func TestSpGEMMPlanWorkspaceOverflow(t *testing.T) {
	p := &spgemmPlan[float64]{rows: 1, cols: 1, limit: math.MaxInt64, workers: 4, maxRowWork: 1 << 61, valBytes: 8}
	_, ok := p.accBytes(false, true)
	require.False(t, ok)
	require.ErrorContains(t, p.checkCount(), "overflows int64")
	require.ErrorContains(t, p.checkFill(1), "overflows int64")
	p.dense = true
	require.NoError(t, p.checkCount(), "dense accumulators for one column are small")
	require.ErrorContains(t, p.checkFill(math.MaxInt64/8), "overflows int64")
}

// Chunks cover every row once, in order, with the cost of each about equal.
func TestSpGEMMPlanSplit(t *testing.T) {
	// Row i of A hits row i of B, whose length grows with i: skewed work.
	const n = 200
	var ai, aj, bi, bj []int
	for i := range n {
		ai, aj = append(ai, i), append(aj, i)
		for j := range i % 50 {
			bi, bj = append(bi, i), append(bj, j)
		}
	}
	a, err := sparse.FromCOO(n, n, ai, aj, make([]float64, len(ai)))
	require.NoError(t, err)
	b, err := sparse.FromCOO(n, 50, bi, bj, make([]float64, len(bi)))
	require.NoError(t, err)
	p, err := newPlan[float64](a, b, 0, 3)
	require.NoError(t, err)
	rowPtr := make([]int64, n+1)
	require.NoError(t, p.split(a, b, rowPtr))
	require.Len(t, p.bounds, 3*chunksPerThread+1)
	require.Equal(t, 0, p.bounds[0])
	require.Equal(t, n, p.bounds[len(p.bounds)-1])
	total := p.work + n
	for c := 1; c < len(p.bounds); c++ {
		require.LessOrEqual(t, p.bounds[c-1], p.bounds[c])
		cost := int64(0)
		for i := p.bounds[c-1]; i < p.bounds[c]; i++ {
			cost += rowPtr[i+1] + 1
		}
		require.LessOrEqual(t, cost, total/int64(len(p.bounds)-1)+50, "chunk %d", c)
	}
	require.Equal(t, int64(49), p.maxRowWork)
	require.True(t, p.dense)
}
