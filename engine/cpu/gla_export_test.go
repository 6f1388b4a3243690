package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
)

// GLAForwardPath is b.GLAForward with the chunked form's path forced: split
// runs every pair over its chunks (where the states fit in memory), !split
// one goroutine per pair.
func GLAForwardPath(ctx context.Context, b *Backend, a backend.GLAArgs, split bool) error {
	if split {
		return b.glaForward(ctx, a, glaPathChunks)
	}
	return b.glaForward(ctx, a, glaPathPairs)
}
