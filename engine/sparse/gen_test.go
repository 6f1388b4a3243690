package sparse_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/sparse"
)

// quadrantSums returns the sum of the values in each quadrant of m split at
// row r and column c: [top-left, top-right, bottom-left, bottom-right].
// Summing repeated edges keeps these sums, so they test the edge
// distribution whatever the repeats.
func quadrantSums(m *sparse.CSR[float64], in func(i, j int) int) [4]float64 {
	var s [4]float64
	for i := range m.Rows {
		for p := m.RowPtr[i]; p < m.RowPtr[i+1]; p++ {
			s[in(i, int(m.ColInd[p]))] += m.Val[p]
		}
	}
	return s
}

// requireNear checks a sum of k values uniform in [0, 1) drawn with
// probability prob each out of edges, to 6 standard deviations.
func requireNear(t *testing.T, got float64, edges int, prob float64, what string) {
	t.Helper()
	mean := float64(edges) * prob / 2
	// Each edge adds Bernoulli(prob)*U(0,1): variance prob/3 - prob^2/4.
	sd := math.Sqrt(float64(edges) * (prob/3 - prob*prob/4))
	require.InDelta(t, mean, got, 6*sd, what)
}

func TestSparseRMATDistribution(t *testing.T) {
	const scale, ef = 10, 16
	n, edges := 1<<scale, (1<<scale)*ef
	m := sparse.RMAT(scale, ef, 7)
	require.NoError(t, m.Validate())
	require.Equal(t, [2]int{n, n}, [2]int{m.Rows, m.Cols})
	require.True(t, m.IsCanonical(), "repeated edges are summed")
	require.Less(t, m.NNZ(), int64(edges), "R-MAT concentrates edges: some repeat")
	require.Greater(t, m.NNZ(), int64(edges/2))

	// Quadrant probabilities a, b, c, d hold at the top bit and at bit 0.
	want := [4]float64{0.57, 0.19, 0.19, 0.05}
	top := quadrantSums(m, func(i, j int) int { return 2*(i/(n/2)) + j/(n/2) })
	low := quadrantSums(m, func(i, j int) int { return 2*(i%2) + j%2 })
	for q := range 4 {
		requireNear(t, top[q], edges, want[q], "top bit")
		requireNear(t, low[q], edges, want[q], "bit 0")
	}
	// Power law: row 0 (all quadrant-a choices) is the heaviest.
	require.Greater(t, m.RowPtr[1], int64(10*ef))

	require.Equal(t, m, sparse.RMAT(scale, ef, 7), "the seed fixes the matrix")
	require.NotEqual(t, m.ColInd, sparse.RMAT(scale, ef, 8).ColInd)
}

func TestSparseErdosRenyiDistribution(t *testing.T) {
	const n, deg = 1000, 16
	edges := n * deg
	m := sparse.ErdosRenyi(n, deg, 3)
	require.NoError(t, m.Validate())
	require.Equal(t, [2]int{n, n}, [2]int{m.Rows, m.Cols})
	require.True(t, m.IsCanonical())
	// About m^2/(2n^2) = 128 pairs repeat.
	require.InDelta(t, float64(edges)-float64(edges)*float64(edges)/(2*n*n), float64(m.NNZ()), 60)

	halves := quadrantSums(m, func(i, j int) int { return 2*(i*2/n) + j*2/n })
	parity := quadrantSums(m, func(i, j int) int { return 2*(i%2) + j%2 })
	for q := range 4 {
		requireNear(t, halves[q], edges, 0.25, "halves")
		requireNear(t, parity[q], edges, 0.25, "parity")
	}
	require.Equal(t, m, sparse.ErdosRenyi(n, deg, 3))
	require.NotEqual(t, m.ColInd, sparse.ErdosRenyi(n, deg, 4).ColInd)
}

func TestSparseGeneratorsEdgeCases(t *testing.T) {
	one := sparse.RMAT(0, 3, 1) // a 1x1 matrix: three edges summed into one
	require.Equal(t, []int64{0, 1}, one.RowPtr)
	require.Len(t, one.Val, 1)
	empty := sparse.ErdosRenyi(0, 5, 1)
	require.NoError(t, empty.Validate())
	require.Zero(t, empty.NNZ())
	require.Zero(t, sparse.RMAT(4, 0, 1).NNZ())

	require.Panics(t, func() { sparse.RMAT(31, 1, 1) })
	require.Panics(t, func() { sparse.RMAT(3, -1, 1) })
	require.Panics(t, func() { sparse.ErdosRenyi(-1, 1, 1) })
	require.Panics(t, func() { sparse.ErdosRenyi(1<<20, 1<<50, 1) })
}
