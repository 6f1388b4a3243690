package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// float is the compute type of the generic GLA kernels: float64 for float64
// inputs, float32 for everything else.
type float interface{ ~float32 | ~float64 }

// GLAForward computes gated linear attention in the chunked or the recurrent
// form (the same function; see shared/spec/workloads.md).
func (b *Backend) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	return b.glaForward(ctx, a, glaPathAuto)
}

// glaForward is GLAForward on the given path of the chunked form.
func (b *Backend) glaForward(ctx context.Context, a backend.GLAArgs, path glaPath) error {
	d, err := backend.CheckGLA(a)
	if err != nil {
		return err
	}
	if err := hostOnly("gla", a.Q, a.K, a.V, a.G, a.H0, a.O, a.HT); err != nil {
		return err
	}
	var h0, ht []float32
	if a.H0 != nil {
		h0 = a.H0.Float32()
	}
	if a.HT != nil {
		ht = a.HT.Float32()
	}
	return b.gla(ctx, a.Q, a.K, a.V, a.G, a.O, h0, ht, d, backend.GLAScale(a.Scale, d.K), a.Form, path)
}

// GLADecode runs one recurrent step per sequence, updating the state in
// place. It is the recurrent form with T = 1 whose initial and final states
// share the state's storage (each (sequence, head) reads its block before it
// writes it, and no two touch the same block).
func (b *Backend) GLADecode(ctx context.Context, a backend.GLADecodeArgs) error {
	d, err := backend.CheckGLADecode(a)
	if err != nil {
		return err
	}
	if err := hostOnly("gla decode", a.Q, a.K, a.V, a.G, a.State, a.O); err != nil {
		return err
	}
	s := a.State.Float32()
	return b.gla(ctx, a.Q, a.K, a.V, a.G, a.O, s, s, d, backend.GLAScale(a.Scale, d.K), backend.GLARecurrent,
		glaPathPairs)
}

// gla dispatches on the dtype: float64 and float32 compute in their own type
// straight on the tensors' storage; float16 and bfloat16 are widened to
// float32 and the output rounded back.
func (b *Backend) gla(ctx context.Context, q, k, v, g, o *tensor.Tensor, h0, ht []float32,
	d backend.GLADims, scale float64, form backend.GLAForm, path glaPath) error {
	switch q.DType() {
	case tensor.Float64:
		j := glaJob[float64]{q: q.Float64(), k: k.Float64(), v: v.Float64(), g: g.Float64(), o: o.Float64(),
			h0: h0, ht: ht, d: d, scale: scale, form: form, path: path}
		return j.run(ctx, b)
	case tensor.Float32:
		j := glaJob[float32]{q: q.Float32(), k: k.Float32(), v: v.Float32(), g: g.Float32(), o: o.Float32(),
			h0: h0, ht: ht, d: d, scale: float32(scale), form: form, path: path}
		return j.run(ctx, b)
	case tensor.Float16, tensor.BFloat16:
		j := glaJob[float32]{q: widen32(q), k: widen32(k), v: widen32(v), g: widen32(g), o: make([]float32, o.Len()),
			h0: h0, ht: ht, d: d, scale: float32(scale), form: form, path: path}
		if err := j.run(ctx, b); err != nil {
			return err
		}
		narrow32(o, j.o)
		return nil
	}
	return errs.DType("gla", "q is %v, want a float dtype", q.DType())
}
