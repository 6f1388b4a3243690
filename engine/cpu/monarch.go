package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
)

// MonarchForward computes y = Monarch(w1, w2) x.
func (b *Backend) MonarchForward(ctx context.Context, a backend.MonarchArgs) error {
	return errs.Unsupported("monarch", "not implemented yet")
}

// MonarchBackward computes the gradients of the Monarch product.
func (b *Backend) MonarchBackward(ctx context.Context, a backend.MonarchGradArgs) error {
	return errs.Unsupported("monarch backward", "not implemented yet")
}
