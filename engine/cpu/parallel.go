package cpu

import (
	"context"
	"sync"
)

// parallelFor splits [0, n) into at most b.threads contiguous ranges of at
// least grain items and runs body on each concurrently. Small problems run on
// the calling goroutine, so no goroutines are spawned for tiny calls. It
// returns ctx's error if the context is done before the work starts.
func (b *Backend) parallelFor(ctx context.Context, n, grain int, body func(lo, hi int)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	grain = max(grain, 1)
	parts := min(b.threads, (n+grain-1)/grain)
	if parts <= 1 {
		body(0, n)
		return nil
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*n/parts, (p+1)*n/parts
		if p == parts-1 {
			body(lo, hi)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
	return ctx.Err()
}
