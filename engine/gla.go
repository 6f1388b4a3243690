package engine

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/tensor"
)

// GLAForm selects the chunked or the recurrent form (same function).
type GLAForm = backend.GLAForm

// The GLA forms.
const (
	GLAChunked   = backend.GLAChunked
	GLARecurrent = backend.GLARecurrent
)

// GLAOptions are the optional inputs of GLA.
type GLAOptions struct {
	H0         *Tensor // initial state, float32 [N, H, K, V]
	CuSeqlens  *Tensor // int32 or int64 [N+1] for variable-length batches (B must be 1)
	Scale      float64 // 0 means K^-0.5
	Form       GLAForm
	FinalState bool // return the final state ht
}

// GLA computes gated linear attention (flash-linear-attention convention).
// q, k, g are [B, T, H, K], v is [B, T, H, V]. It returns o [B, T, H, V] in
// q's dtype and, when opt.FinalState, ht float32 [N, H, K, V].
func (e *Engine) GLA(ctx context.Context, q, k, v, g *Tensor, opt GLAOptions) (o, ht *Tensor, err error) {
	a := backend.GLAArgs{Q: q, K: k, V: v, G: g, H0: opt.H0, CuSeqlens: opt.CuSeqlens, Scale: opt.Scale, Form: opt.Form}
	d, err := backend.CheckGLAInputs(a)
	if err != nil {
		return nil, nil, err
	}
	if a.O, err = tensor.New(q.DType(), d.B, d.T, d.H, d.V); err != nil {
		return nil, nil, err
	}
	if opt.FinalState {
		if a.HT, err = tensor.New(Float32, d.N(), d.H, d.K, d.V); err != nil {
			return nil, nil, err
		}
	}
	if err := e.GLAInto(ctx, a); err != nil {
		return nil, nil, err
	}
	return a.O, a.HT, nil
}

// GLAInto computes GLA into a.O (and a.HT when set). A zero a.Scale means K^-0.5.
func (e *Engine) GLAInto(ctx context.Context, a backend.GLAArgs) error {
	d, err := backend.CheckGLA(a)
	if err != nil {
		return err
	}
	a.Scale = backend.GLAScale(a.Scale, d.K)
	return e.b.GLAForward(ctx, a)
}

// GLADecode runs one decode step: q, k, g [B, H, K], v [B, H, V]; state
// float32 [B, H, K, V] is updated in place; returns o [B, H, V]. A zero scale
// means K^-0.5.
func (e *Engine) GLADecode(ctx context.Context, q, k, v, g, state *Tensor, scale float64) (*Tensor, error) {
	a := backend.GLADecodeArgs{Q: q, K: k, V: v, G: g, State: state, Scale: scale}
	d, err := backend.CheckGLADecodeInputs(a)
	if err != nil {
		return nil, err
	}
	if a.O, err = tensor.New(q.DType(), d.B, d.H, d.V); err != nil {
		return nil, err
	}
	if err := e.GLADecodeInto(ctx, a); err != nil {
		return nil, err
	}
	return a.O, nil
}

// GLADecodeInto is GLADecode writing into a.O.
func (e *Engine) GLADecodeInto(ctx context.Context, a backend.GLADecodeArgs) error {
	d, err := backend.CheckGLADecode(a)
	if err != nil {
		return err
	}
	a.Scale = backend.GLAScale(a.Scale, d.K)
	return e.b.GLADecode(ctx, a)
}
