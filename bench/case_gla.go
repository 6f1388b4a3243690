package bench

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// GLASize is a gated linear attention forward: q, k, g [B, T, H, K] and
// v [B, T, H, V]. Form is "chunked" or "recurrent"; DType is the inputs'
// and output's: float32 (the zero value), float16 or bfloat16.
type GLASize struct {
	B, T, H, K, V int
	Form          string
	DType         tensor.DType
}

// GLAFLOPs counts the recurrent form's arithmetic, whatever form runs: per
// token and head, the decay and the outer-product update of the K x V state
// (3KV) and the output q S (2KV).
func GLAFLOPs(s GLASize) float64 { return 5 * float64(s.B*s.T*s.H) * float64(s.K*s.V) }

// GLACase times the forward pass, without initial or final state.
func GLACase(e *engine.Engine, s GLASize, refFLOPs float64) (Case, error) {
	const op = "bench gla"
	if err := positive(op, "b", s.B, "t", s.T, "h", s.H, "k", s.K, "v", s.V); err != nil {
		return Case{}, err
	}
	var form engine.GLAForm
	switch s.Form {
	case "", "chunked":
		s.Form, form = "chunked", engine.GLAChunked
	case "recurrent":
		form = engine.GLARecurrent
	default:
		return Case{}, errs.Argument(op, "--form must be chunked or recurrent, got %q", s.Form)
	}
	dt, err := denseDType(op, s.DType)
	if err != nil {
		return Case{}, err
	}
	nk, nv := s.B*s.T*s.H*s.K, s.B*s.T*s.H*s.V
	c := Case{
		Op:      "gla",
		Params:  []Param{{"b", s.B}, {"t", s.T}, {"h", s.H}, {"k", s.K}, {"v", s.V}, {"form", s.Form}, {"dtype", dt.String()}},
		Backend: e.Backend(),
		FLOPs:   GLAFLOPs(s),
		Bytes:   elemBytes(dt) * float64(3*nk+2*nv),
		Compute: computeClass(e.Backend(), dt, false),
	}
	scale := 1 / math.Sqrt(float64(s.K))
	// Attention is causal: the first tokens of sequence 0 depend on nothing
	// else, so a prefix is an exact sub-problem for the check.
	toks := subsetRows(s.T, 5*float64(s.H*s.K*s.V), refFLOPs)
	pk, pv := toks*s.H*s.K, toks*s.H*s.V
	c.Prepare = func(ctx context.Context, r *rand.Rand) (*Instance, error) {
		var ts [5]*tensor.Tensor
		var heads [4][]float64 // the check's prefixes of q, k, v, g
		for i := range 4 {
			n, keep, last := nk, pk, s.K
			if i == 2 {
				n, keep, last = nv, pv, s.V
			}
			vals := check.Uniform(r, n)
			if i == 3 {
				// Log-decays as models make them: logsigmoid(u)/16, in
				// about [-0.08, -0.02], never zero (fla's tests use the
				// same).
				for j, u := range vals {
					vals[j] = -math.Log1p(math.Exp(-u)) / 16
				}
			}
			t, head, err := roundedTensor(dt, vals, keep, s.B, s.T, s.H, last)
			if err != nil {
				return nil, err
			}
			ts[i], heads[i] = t, head
		}
		o, err := tensor.New(dt, s.B, s.T, s.H, s.V)
		if err != nil {
			return nil, err
		}
		o.FillNaN()
		ts[4] = o
		args := backend.GLAArgs{Q: ts[0], K: ts[1], V: ts[2], G: ts[3], Scale: scale, Form: form, O: o}
		return &Instance{
			Args: args,
			Run:  func(ctx context.Context) error { return e.GLAInto(ctx, args) },
			Check: func(ctx context.Context) Check {
				want, _ := ref.GLA(heads[0], heads[1], heads[2], heads[3], nil, []int{0, toks}, s.H, s.K, s.V, scale)
				sub := rowsNote("tokens", toks, s.T)
				if s.B > 1 {
					sub = "sequence 0 of " + itoa(s.B)
					if toks < s.T {
						sub += ", tokens 0.." + itoa(toks-1) + " of " + itoa(s.T)
					}
				}
				got, err := head64(o, pv)
				if err != nil {
					return Check{Status: "failed", Note: err.Error()}
				}
				return CheckTol("rel_rms", check.RelRMS(got, want), productTol(dt, 1e-4), sub)
			},
		}, nil
	}
	return c, nil
}
