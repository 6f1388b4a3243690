package bench

import (
	"context"
	"math/rand/v2"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchSize is a square Monarch benchmark in fly's formulation (the one
// peers.py times): blocks diagonal blocks of size n/blocks in both factors,
// w1 (blocks, n/blocks, n/blocks), w2 (blocks, n/blocks, n/blocks).
type MonarchSize struct {
	Batch, N, Blocks int
	// DType is the operands' and output's: float32 (the zero value),
	// float16 or bfloat16.
	DType tensor.DType
	// TF32 says that the caller runs float32 on the tensor cores with tf32
	// operands (the CUDA backend's MonarchTF32, which the engine's API does
	// not select: cmd/matmix's tuner does): it sets the check's tolerance
	// and the roofline's ceiling. Only for float32.
	TF32 bool
}

// MonarchCase times y = Monarch(w1, w2) x.
func MonarchCase(e *engine.Engine, s MonarchSize, refFLOPs float64) (Case, error) {
	const op = "bench monarch"
	if err := positive(op, "batch", s.Batch, "n", s.N, "blocks", s.Blocks); err != nil {
		return Case{}, err
	}
	if s.N%s.Blocks != 0 {
		return Case{}, errs.Argument(op, "--n %d is not a multiple of --blocks %d", s.N, s.Blocks)
	}
	dt, err := denseDType(op, s.DType)
	if err != nil {
		return Case{}, err
	}
	if s.TF32 && dt != tensor.Float32 {
		return Case{}, errs.Argument(op, "tf32 applies to float32 operands, not %v", dt)
	}
	bs := s.N / s.Blocks
	d := ref.MonarchDims{Batch: s.Batch, K: s.Blocks, Q: bs, P: bs, L: s.Blocks, S: bs, R: bs}
	perRow := 2 * float64(d.K*d.Q*d.P+d.L*d.S*d.R)
	params := []Param{{"batch", s.Batch}, {"n", s.N}, {"blocks", s.Blocks}, {"dtype", dt.String()}}
	// The spec has no tf32 class: tf32 keeps float16's 10 mantissa bits,
	// so float16's tolerance applies (cuda/backend/monarch_sim_test.go).
	tolDT := dt
	if s.TF32 {
		params = append(params, Param{"math", "tf32"})
		tolDT = tensor.Float16
	}
	c := Case{
		Op:      "monarch",
		Params:  params,
		Backend: e.Backend(),
		FLOPs:   float64(s.Batch) * perRow,
		Bytes:   elemBytes(dt) * float64(s.Batch*d.N()+s.Batch*d.M()+d.K*d.Q*d.P+d.L*d.S*d.R),
		Compute: computeClass(e.Backend(), dt, s.TF32),
	}
	// Rows of y are independent: the check compares the leading rows the
	// budget allows with the float64 reference.
	rows := subsetRows(s.Batch, perRow, refFLOPs)
	c.Prepare = func(ctx context.Context, r *rand.Rand) (*Instance, error) {
		x, xs, err := roundedTensor(dt, check.Uniform(r, s.Batch*d.N()), rows*d.N(), s.Batch, d.N())
		if err != nil {
			return nil, err
		}
		w1, w1s, err := roundedTensor(dt, check.Uniform(r, d.K*d.Q*d.P), d.K*d.Q*d.P, d.K, d.Q, d.P)
		if err != nil {
			return nil, err
		}
		w2, w2s, err := roundedTensor(dt, check.Uniform(r, d.L*d.S*d.R), d.L*d.S*d.R, d.L, d.S, d.R)
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(dt, s.Batch, d.M())
		if err != nil {
			return nil, err
		}
		y.FillNaN()
		return &Instance{
			Args: backend.MonarchArgs{X: x, W1: w1, W2: w2, Y: y},
			Run:  func(ctx context.Context) error { return e.MonarchInto(ctx, y, x, w1, w2) },
			Check: func(ctx context.Context) Check {
				sd := d
				sd.Batch = rows
				want := make([]float64, rows*d.M())
				ref.MonarchForward(sd, xs, w1s, w2s, want)
				got, err := head64(y, rows*d.M())
				if err != nil {
					return Check{Status: "failed", Note: err.Error()}
				}
				return CheckTol("rel_frobenius", check.RelFrobenius(got, want), productTol(tolDT, 1e-5), rowsNote("rows", rows, s.Batch))
			},
		}, nil
	}
	return c, nil
}
