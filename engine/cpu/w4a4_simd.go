package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/cpu/qgemm"
	"github.com/matmix/matmix/engine/quant"
)

// Blocking of the SIMD W4A4 GEMM. A task runs one weight panel against a
// chunk of activation panels of about w4a4ChunkBytes packed codes, so that
// both stay in L2 (2 MiB) while the kernel streams them; consecutive tasks
// of a goroutine share the chunk. w4a4TaskOps (multiply-adds) is the least
// work worth a goroutine.
const (
	w4a4ChunkBytes = 256 << 10
	w4a4TaskOps    = 1 << 17
	w4a4PackBytes  = 1 << 14 // least codes packed per goroutine
)

// w4a4SIMD runs the W4A4 GEMM on qgemm's int8 kernel kn: the codes of both
// operands are packed into the kernel's panels once per call (O(MK + NK),
// in parallel), then the tiles run over tasks of one weight panel by a chunk
// of activation panels of about chunkBytes packed codes (w4a4ChunkBytes;
// the tests vary it).
func (b *Backend) w4a4SIMD(ctx context.Context, act *quant.Activations, w *quant.Weights, y []float32, kn qgemm.Kernel, chunkBytes int) error {
	m, n, k := act.M, w.N, act.K
	s := qgemm.NewShape(k, act.Group)
	p := kn.NewProduct(s, m, n)
	mp, np := p.MPanels(), p.NPanels()
	packGrain := max(1, w4a4PackBytes/max(1, kn.MR*k))
	err := b.parallelFor(ctx, mp, packGrain, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			p.PackActivations(q, act)
		}
	})
	if err != nil {
		return err
	}
	err = b.parallelFor(ctx, np, max(1, w4a4PackBytes/max(1, kn.NR*k)), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			p.PackWeights(q, w)
		}
	})
	if err != nil {
		return err
	}
	aBytes, _ := p.PanelBytes()
	chunk := max(1, min(mp, chunkBytes/max(1, aBytes)))
	chunks := (mp + chunk - 1) / chunk
	taskOps := chunk * kn.MR * kn.NR * max(1, k)
	return b.parallelFor(ctx, chunks*np, max(1, w4a4TaskOps/taskOps), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			if ctx.Err() != nil {
				return
			}
			c, qn := t/np, t%np
			for qm := c * chunk; qm < min((c+1)*chunk, mp); qm++ {
				p.Tile(qm, qn, y, n)
			}
		}
	})
}
