package engine

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
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
	return nil, nil, errs.Unsupported("gla", "not implemented yet")
}

// GLAInto computes GLA into a.O (and a.HT when set). A zero a.Scale means K^-0.5.
func (e *Engine) GLAInto(ctx context.Context, a backend.GLAArgs) error {
	return errs.Unsupported("gla", "not implemented yet")
}

// GLADecode runs one decode step: q, k, g [B, H, K], v [B, H, V]; state
// float32 [B, H, K, V] is updated in place; returns o [B, H, V]. A zero scale
// means K^-0.5.
func (e *Engine) GLADecode(ctx context.Context, q, k, v, g, state *Tensor, scale float64) (*Tensor, error) {
	return nil, errs.Unsupported("gla decode", "not implemented yet")
}

// GLADecodeInto is GLADecode writing into a.O.
func (e *Engine) GLADecodeInto(ctx context.Context, a backend.GLADecodeArgs) error {
	return errs.Unsupported("gla decode", "not implemented yet")
}
