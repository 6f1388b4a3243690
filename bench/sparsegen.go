package bench

import (
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
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

// Generate draws the matrix with the generators of package sparse (the
// distributions of shared/peers/peers.py): R-MAT picks each entry's quadrant
// bit by bit (power-law degrees, like web and social graphs); Erdos-Renyi
// draws rows and columns uniformly. Duplicate coordinates are summed, rows
// sorted.
func Generate[T sparse.Float](g GenSpec) (*sparse.CSR[T], error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	if g.Kind == "rmat" {
		return sparse.Convert[T](sparse.RMAT(g.Scale, g.EdgeFactor, g.Seed)), nil
	}
	return sparse.Convert[T](sparse.ErdosRenyi(1<<g.Scale, g.EdgeFactor, g.Seed)), nil
}
