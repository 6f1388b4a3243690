package engine

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
)

// Monarch returns y = Monarch(w1, w2) x (fly convention; see docs/workloads.md).
// x is (batch, n), w1 (k, q, p), w2 (l, s, r); y is (batch, l*s) in x's dtype.
func (e *Engine) Monarch(ctx context.Context, x, w1, w2 *Tensor) (*Tensor, error) {
	return nil, errs.Unsupported("monarch", "not implemented yet")
}

// MonarchInto writes Monarch(w1, w2) x into y.
func (e *Engine) MonarchInto(ctx context.Context, y, x, w1, w2 *Tensor) error {
	return errs.Unsupported("monarch", "not implemented yet")
}

// MonarchGrads are the gradients of a Monarch product.
type MonarchGrads struct {
	DX, DW1, DW2 *Tensor
}

// MonarchBackward returns the gradients of y = Monarch(w1, w2) x given dy.
func (e *Engine) MonarchBackward(ctx context.Context, x, w1, w2, dy *Tensor) (MonarchGrads, error) {
	return MonarchGrads{}, errs.Unsupported("monarch backward", "not implemented yet")
}

// MonarchBackwardInto writes the gradients into the non-nil outputs of a.
func (e *Engine) MonarchBackwardInto(ctx context.Context, a backend.MonarchGradArgs) error {
	return errs.Unsupported("monarch backward", "not implemented yet")
}
