package bench

import (
	"context"
	"math/rand/v2"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchSize is a square Monarch benchmark in fly's formulation (the one
// peers.py times): blocks diagonal blocks of size n/blocks in both factors,
// w1 (blocks, n/blocks, n/blocks), w2 (blocks, n/blocks, n/blocks).
type MonarchSize struct{ Batch, N, Blocks int }

// MonarchCase times y = Monarch(w1, w2) x in float32.
func MonarchCase(e *engine.Engine, s MonarchSize, refFLOPs float64) (Case, error) {
	const op = "bench monarch"
	if err := positive(op, "batch", s.Batch, "n", s.N, "blocks", s.Blocks); err != nil {
		return Case{}, err
	}
	if s.N%s.Blocks != 0 {
		return Case{}, errs.Argument(op, "--n %d is not a multiple of --blocks %d", s.N, s.Blocks)
	}
	bs := s.N / s.Blocks
	d := ref.MonarchDims{Batch: s.Batch, K: s.Blocks, Q: bs, P: bs, L: s.Blocks, S: bs, R: bs}
	perRow := 2 * float64(d.K*d.Q*d.P+d.L*d.S*d.R)
	c := Case{
		Op:      "monarch",
		Params:  []Param{{"batch", s.Batch}, {"n", s.N}, {"blocks", s.Blocks}},
		Backend: e.Backend(),
		FLOPs:   float64(s.Batch) * perRow,
		Bytes:   4 * float64(s.Batch*d.N()+s.Batch*d.M()+d.K*d.Q*d.P+d.L*d.S*d.R),
		Compute: "fp32",
	}
	c.Prepare = func(ctx context.Context, r *rand.Rand) (*Instance, error) {
		xs, w1s, w2s := uniform32(r, s.Batch*d.N()), uniform32(r, d.K*d.Q*d.P), uniform32(r, d.L*d.S*d.R)
		x, err := tensor.FromFloat32(xs, s.Batch, d.N())
		if err != nil {
			return nil, err
		}
		w1, err := tensor.FromFloat32(w1s, d.K, d.Q, d.P)
		if err != nil {
			return nil, err
		}
		w2, err := tensor.FromFloat32(w2s, d.L, d.S, d.R)
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(tensor.Float32, s.Batch, d.M())
		if err != nil {
			return nil, err
		}
		y.FillNaN()
		return &Instance{
			Args: backend.MonarchArgs{X: x, W1: w1, W2: w2, Y: y},
			Run:  func(ctx context.Context) error { return e.MonarchInto(ctx, y, x, w1, w2) },
			Check: func(ctx context.Context) Check {
				// Rows of y are independent: check the leading rows the
				// budget allows against the float64 reference.
				rows := subsetRows(s.Batch, perRow, refFLOPs)
				sd := d
				sd.Batch = rows
				want := make([]float64, rows*d.M())
				ref.MonarchForward(sd, widen(xs[:rows*d.N()]), widen(w1s), widen(w2s), want)
				got := y.Float32()[:rows*d.M()]
				return CheckTol("rel_frobenius", relFrobenius(got, want), 1e-5, rowsNote("rows", rows, s.Batch))
			},
		}, nil
	}
	return c, nil
}
