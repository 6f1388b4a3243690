package sparse

import (
	"fmt"
	"math/rand/v2"
)

// The generators below make the benchmark matrices of issue 7 with the
// distributions of shared/peers/peers.py (functions rmat and erdos), so that
// a Go benchmark and the scipy/GraphBLAS peers multiply matrices of the same
// kind. The random streams differ from numpy's: for the very same matrix on
// both sides, write it with `peers.py spgemm ... --write FILE` and read FILE.

// RMAT returns the R-MAT graph of Chakrabarti, Zhan and Faloutsos (SDM 2004)
// as the Graph500 generator and peers.py build it: n = 2^scale vertices and
// n*ef edges, each edge picking one quadrant per bit of its row and column
// with probabilities a = 0.57, b = 0.19, c = 0.19, d = 0.05 (bit 0 first, as
// peers.py). Each edge has a value uniform in [0, 1); repeated edges are
// summed, so the result is canonical (rows sorted, no duplicates). seed fixes
// the matrix. It panics when scale is outside [0, 30] or ef is negative, or
// when n*ef does not fit an int (a programmer's error, as rand.IntN's).
func RMAT(scale, ef int, seed uint64) *CSR[float64] {
	if scale < 0 || scale > 30 || ef < 0 || ef > (1<<62)>>scale {
		panic(fmt.Sprintf("sparse.RMAT: scale %d outside [0, 30] or edge factor %d out of range", scale, ef))
	}
	const a, b, c = 0.57, 0.19, 0.19
	n := 1 << scale
	m := n * ef
	r := rand.New(rand.NewPCG(seed, 0x52a7)) // second word: a fixed stream tag
	ri, ci, v := make([]int32, m), make([]int32, m), make([]float64, m)
	for e := range m {
		var i, j int32
		for bit := range scale {
			u := r.Float64()
			if u >= a+b { // quadrants c and d: lower half
				i |= 1 << bit
			}
			if (u >= a && u < a+b) || u >= a+b+c { // quadrants b and d: right half
				j |= 1 << bit
			}
		}
		ri[e], ci[e], v[e] = i, j, r.Float64()
	}
	return canonicalFromCOO(n, ri, ci, v)
}

// ErdosRenyi returns an n x n matrix of n*deg edges with row and column drawn
// uniformly at random (the G(n, m) model with m = n*deg, repeats allowed), as
// peers.py's erdos: each edge has a value uniform in [0, 1) and repeated edges
// are summed, so the result is canonical. seed fixes the matrix. It panics when
// n is outside [0, 2^31-1], deg is negative or n*deg does not fit an int.
func ErdosRenyi(n, deg int, seed uint64) *CSR[float64] {
	if n < 0 || n > MaxDim || deg < 0 || (n > 0 && deg > (1<<62)/n) {
		panic(fmt.Sprintf("sparse.ErdosRenyi: size %d outside [0, 2^31-1] or degree %d out of range", n, deg))
	}
	m := n * deg
	r := rand.New(rand.NewPCG(seed, 0xe7d05))
	ri, ci, v := make([]int32, m), make([]int32, m), make([]float64, m)
	for e := range m {
		ri[e], ci[e], v[e] = r.Int32N(int32(n)), r.Int32N(int32(n)), r.Float64()
	}
	return canonicalFromCOO(n, ri, ci, v)
}

// canonicalFromCOO builds the n x n CSR matrix of valid triplets with its
// repeated coordinates summed, as scipy's tocsr().sum_duplicates().
func canonicalFromCOO(n int, ri, ci []int32, v []float64) *CSR[float64] {
	m, err := FromCOO(n, n, ri, ci, v)
	if err != nil {
		panic("sparse: generated an invalid triplet: " + err.Error()) // cannot happen: indices are drawn in range
	}
	s, err := m.SortedCanonical()
	if err != nil {
		panic("sparse: generated an invalid matrix: " + err.Error())
	}
	return s
}
