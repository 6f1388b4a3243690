package bench

import (
	"context"
	"math/rand/v2"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// W4A4Size is a W4A4 GEMM: activations (M, K), weights (N, K), groups of
// Group along K, the Int8Frac share of activation groups at 8 bits.
type W4A4Size struct {
	M, N, K, Group int
	Int8Frac       float64
}

// W4A4Case times the quantized GEMM on operands quantized beforehand (as
// weights are offline; activation quantization is not in the timed region).
// The check also reports the quantization error against x w^T.
func W4A4Case(e *engine.Engine, s W4A4Size, refFLOPs float64) (Case, error) {
	const op = "bench w4a4"
	if s.Group == 0 {
		s.Group = quant.DefaultGroup
	}
	if err := positive(op, "m", s.M, "n", s.N, "k", s.K, "group", s.Group); err != nil {
		return Case{}, err
	}
	if !(s.Int8Frac >= 0 && s.Int8Frac <= 1) {
		return Case{}, errs.Argument(op, "--int8-frac must lie in [0, 1], got %v", s.Int8Frac)
	}
	compute := "int8"
	c := Case{
		Op:      "w4a4",
		Params:  []Param{{"m", s.M}, {"n", s.N}, {"k", s.K}, {"group", s.Group}, {"int8-frac", s.Int8Frac}},
		Backend: e.Backend(),
		FLOPs:   2 * float64(s.M) * float64(s.N) * float64(s.K),
		Compute: compute,
	}
	c.Prepare = func(ctx context.Context, r *rand.Rand) (*Instance, error) {
		xs, ws := uniform32(r, s.M*s.K), uniform32(r, s.N*s.K)
		x, err := tensor.FromFloat32(xs, s.M, s.K)
		if err != nil {
			return nil, err
		}
		w, err := tensor.FromFloat32(ws, s.N, s.K)
		if err != nil {
			return nil, err
		}
		xq, err := engine.QuantizeActivations(x, s.Group, s.Int8Frac)
		if err != nil {
			return nil, err
		}
		wq, err := engine.QuantizeWeights(w, s.Group)
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(tensor.Float32, s.M, s.N)
		if err != nil {
			return nil, err
		}
		y.FillNaN()
		args := backend.W4A4Args{A: xq, W: wq, Y: y}
		inst := &Instance{
			Run: func(ctx context.Context) error { return e.W4A4GEMMInto(ctx, args) },
			Bytes: float64(len(xq.Codes)+len(xq.Codes8)+4*len(xq.Scales)) +
				float64(len(wq.Codes)+4*len(wq.Scales)) + 4*float64(s.M*s.N),
			Extra: map[string]float64{},
		}
		inst.Check = func(ctx context.Context) Check {
			// Rows are independent once quantized (the 8-bit groups are
			// chosen for the whole matrix, before): check leading rows.
			rows := subsetRows(s.M, 2*float64(s.N)*float64(s.K), refFLOPs)
			want := ref.W4A4(activationRows(xq, rows), wq)
			got := y.Float32()[:rows*s.N]
			chk := CheckTol("rel_frobenius", relFrobenius(got, want), 1e-6, rowsNote("rows", rows, s.M))
			// The figure of merit of the format: error against x w^T.
			inst.Extra["quant_rel_err"] = relFrobenius(got, gemmNT64(xs[:rows*s.K], ws, rows, s.N, s.K))
			return chk
		}
		return inst, nil
	}
	return c, nil
}

// activationRows views the first rows of quantized activations (each
// stream is row-major, so the leading rows are a prefix of each).
func activationRows(a *quant.Activations, rows int) *quant.Activations {
	k4, k8 := a.Widths()
	groups := len(a.Is8)
	sub := *a
	sub.M = rows
	sub.Codes = a.Codes[:rows*((k4+1)/2)]
	sub.Codes8 = a.Codes8[:rows*k8]
	sub.Scales = a.Scales[:rows*groups]
	return &sub
}

// gemmNT64 is x w^T in float64 for x (m, k) and w (n, k).
func gemmNT64(x, w []float32, m, n, k int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		xi := x[i*k : (i+1)*k]
		for j := range n {
			wj := w[j*k : (j+1)*k]
			var acc float64
			for p := range k {
				acc += float64(xi[p]) * float64(wj[p])
			}
			out[i*n+j] = acc
		}
	}
	return out
}
