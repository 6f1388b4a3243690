package engine

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/tensor"
)

// Monarch returns y = Monarch(w1, w2) x (fly convention; see docs/workloads.md).
// x is (batch, n), w1 (k, q, p), w2 (l, s, r); y is (batch, l*s) in x's dtype.
func (e *Engine) Monarch(ctx context.Context, x, w1, w2 *Tensor) (*Tensor, error) {
	if err := backend.CheckMonarchInputs("monarch", x, w1, w2); err != nil {
		return nil, err
	}
	y, err := tensor.New(x.DType(), x.Dim(0), w2.Dim(0)*w2.Dim(1))
	if err != nil {
		return nil, err
	}
	if err := e.MonarchInto(ctx, y, x, w1, w2); err != nil {
		return nil, err
	}
	return y, nil
}

// MonarchInto writes Monarch(w1, w2) x into y.
func (e *Engine) MonarchInto(ctx context.Context, y, x, w1, w2 *Tensor) error {
	a := backend.MonarchArgs{X: x, W1: w1, W2: w2, Y: y}
	if err := backend.CheckMonarch(a); err != nil {
		return err
	}
	return e.b.MonarchForward(ctx, a)
}

// MonarchGrads are the gradients of a Monarch product.
type MonarchGrads struct {
	DX, DW1, DW2 *Tensor
}

// MonarchBackward returns the gradients of y = Monarch(w1, w2) x given dy.
func (e *Engine) MonarchBackward(ctx context.Context, x, w1, w2, dy *Tensor) (MonarchGrads, error) {
	if err := backend.CheckMonarchInputs("monarch backward", x, w1, w2); err != nil {
		return MonarchGrads{}, err
	}
	var g MonarchGrads
	for _, o := range []struct {
		dst  **Tensor
		like *Tensor
	}{{&g.DX, x}, {&g.DW1, w1}, {&g.DW2, w2}} {
		t, err := tensor.New(x.DType(), o.like.Shape()...)
		if err != nil {
			return MonarchGrads{}, err
		}
		*o.dst = t
	}
	a := backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: dy, DX: g.DX, DW1: g.DW1, DW2: g.DW2}
	if err := e.MonarchBackwardInto(ctx, a); err != nil {
		return MonarchGrads{}, err
	}
	return g, nil
}

// MonarchBackwardInto writes the gradients into the non-nil outputs of a.
func (e *Engine) MonarchBackwardInto(ctx context.Context, a backend.MonarchGradArgs) error {
	if err := backend.CheckMonarchGrad(a); err != nil {
		return err
	}
	return e.b.MonarchBackward(ctx, a)
}
