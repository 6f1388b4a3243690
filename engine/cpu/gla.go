package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
)

// GLAForward computes gated linear attention.
func (b *Backend) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	return errs.Unsupported("gla", "not implemented yet")
}

// GLADecode runs one recurrent step, updating the state in place.
func (b *Backend) GLADecode(ctx context.Context, a backend.GLADecodeArgs) error {
	return errs.Unsupported("gla decode", "not implemented yet")
}
