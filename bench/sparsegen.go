package bench

import (
	"math/rand/v2"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// R-MAT quadrant probabilities (Chakrabarti, Zhan and Faloutsos 2004), the
// Graph500 values that shared/peers/peers.py uses too; d = 1 - a - b - c.
const (
	rmatA = 0.57
	rmatB = 0.19
	rmatC = 0.19
)

// maxGenEntries bounds a generated matrix (entries before duplicates merge).
const maxGenEntries = 1 << 31

// GenSpec describes a generated square sparse matrix of 2^Scale rows with
// about EdgeFactor entries per row.
type GenSpec struct {
	Kind       string // "rmat" or "er"
	Scale      int
	EdgeFactor int
	Seed       uint64
}

func (g GenSpec) validate() error {
	const op = "bench spgemm"
	if g.Kind != "rmat" && g.Kind != "er" {
		return errs.Argument(op, "--gen must be rmat or er, got %q", g.Kind)
	}
	if g.Scale < 1 || g.Scale > 30 {
		return errs.Argument(op, "--scale must lie in [1, 30], got %d", g.Scale)
	}
	if g.EdgeFactor < 1 {
		return errs.Argument(op, "--ef must be >= 1, got %d", g.EdgeFactor)
	}
	if int64(g.EdgeFactor)<<g.Scale > maxGenEntries {
		return errs.Limit(op, "2^%d rows x %d entries per row is more than 2^31 entries", g.Scale, g.EdgeFactor)
	}
	return nil
}

// Generate draws the matrix: R-MAT picks each entry's quadrant bit by bit
// with probabilities a, b, c, d (power-law degrees, like web and social
// graphs); Erdos-Renyi draws rows and columns uniformly. Values are uniform
// in [0.05, 1]; duplicate coordinates are summed, rows sorted.
func Generate[T sparse.Float](g GenSpec) (*sparse.CSR[T], error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(g.Seed, 0x726d6174))
	n := 1 << g.Scale
	m := n * g.EdgeFactor
	ri, ci := make([]int32, m), make([]int32, m)
	v := make([]T, m)
	for e := range m {
		var i, j int32
		if g.Kind == "rmat" {
			for bit := range g.Scale {
				u := r.Float64()
				switch {
				case u < rmatA:
				case u < rmatA+rmatB:
					j |= 1 << bit
				case u < rmatA+rmatB+rmatC:
					i |= 1 << bit
				default:
					i |= 1 << bit
					j |= 1 << bit
				}
			}
		} else {
			i, j = int32(r.IntN(n)), int32(r.IntN(n))
		}
		ri[e], ci[e], v[e] = i, j, T(0.05+0.95*r.Float64())
	}
	a, err := sparse.FromCOO(n, n, ri, ci, v)
	if err != nil {
		return nil, err
	}
	return a.SortedCanonical()
}
