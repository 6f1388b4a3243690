package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/cpu/gemm"
	"github.com/matmix/matmix/engine/ref"
)

// monarchForward32 computes the forward product in float32, both factors as
// matrix products (see monarchPlan). With enough rows it runs row chunks in
// parallel, each keeping its own intermediate in cache; with few rows (a
// decode step) it parallelizes over the blocks of each factor instead, in
// two passes over an intermediate of all the rows.
func (b *Backend) monarchForward32(ctx context.Context, d ref.MonarchDims, x, w1, w2, y []float32) error {
	if d.Batch == 0 {
		return ctx.Err()
	}
	p, err := b.newMonarchPlan(ctx, d, w1, w2, false)
	if err != nil {
		return err
	}
	chunks := (d.Batch + monarchRowChunk - 1) / monarchRowChunk
	if chunks >= b.threads {
		flops := 2 * monarchRowChunk * (d.K*d.Q*d.P + d.M()*d.R)
		grain := max(1, monarchGrainFlops/max(flops, 1))
		return b.parallelFor(ctx, chunks, grain, func(lo, hi int) {
			var ws gemm.Workspace
			y1 := make([]float32, p.y1Len(monarchRowChunk))
			buf := make([]float32, monarchRowChunk*d.S)
			for c := lo; c < hi; c++ {
				if ctx.Err() != nil {
					return
				}
				r0, r1 := c*monarchRowChunk, min((c+1)*monarchRowChunk, d.Batch)
				p.stage1(&ws, x, y1, r0, r1, 0, d.K)
				p.stage2(&ws, y1, y, buf, r0, r1, 0, d.L)
			}
		})
	}
	y1 := make([]float32, p.y1Len(d.Batch))
	err = b.parallelFor(ctx, d.K, max(1, monarchGrainFlops/max(2*d.Batch*d.Q*d.P, 1)), func(lo, hi int) {
		var ws gemm.Workspace
		p.stage1(&ws, x, y1, 0, d.Batch, lo, hi)
	})
	if err != nil {
		return err
	}
	// Split the second factor in whole lane vectors, then single blocks.
	w := gemm.LaneWidth()
	units := p.lanes/w + d.L - p.lanes
	unitStart := func(u int) int { return min(u*w, p.lanes) + max(0, u-p.lanes/w) }
	return b.parallelFor(ctx, units, max(1, monarchGrainFlops/max(2*d.Batch*d.S*d.R*w, 1)), func(lo, hi int) {
		var ws gemm.Workspace
		p.stage2(&ws, y1, y, make([]float32, d.Batch*d.S), 0, d.Batch, unitStart(lo), unitStart(hi))
	})
}

// monarchBackward32 computes the gradients in float32, row chunk by row
// chunk, every step a matrix product (the permutation read and written
// through strides, as in the forward):
//
//	dy1[b, r*L + l] = sum_s dy[b, s*L + l] * w2[l, s, r]   (lane-batched over l)
//	dx[b, k*P:]     = dy1[b, k*Q:(k+1)*Q] · w1[k]
//	dw1[k]         += dy1[:, k*Q:(k+1)*Q]ᵀ · x[:, k*P:(k+1)*P]
//	dw2[l, s, r]   += sum_b dy[b, s*L + l] * y1[b, r*L + l]  (lane-batched over l)
//
// The chunks are split into one contiguous share per worker, each summing
// its own partial weight gradients, added in share order at the end so the
// result does not depend on scheduling. Nil outputs are skipped.
func (b *Backend) monarchBackward32(ctx context.Context, d ref.MonarchDims, x, w1, w2, dy, dx, dw1, dw2 []float32) error {
	if d.Batch == 0 {
		clear(dw1)
		clear(dw2)
		return ctx.Err()
	}
	p, err := b.newMonarchPlan(ctx, d, w1, w2, true)
	if err != nil {
		return err
	}
	chunks := (d.Batch + monarchRowChunk - 1) / monarchRowChunk
	shares := min(b.threads, chunks)
	parts := make([]monarchGrads, shares)
	err = b.parallelFor(ctx, shares, 1, func(lo, hi int) {
		for sh := lo; sh < hi; sh++ {
			g := &parts[sh]
			g.init(p, dw1 != nil, dw2 != nil)
			for c := sh * chunks / shares; c < (sh+1)*chunks/shares; c++ {
				if ctx.Err() != nil {
					return
				}
				g.chunk(p, x, dy, dx, c*monarchRowChunk, min((c+1)*monarchRowChunk, d.Batch))
			}
		}
	})
	if err != nil {
		return err
	}
	if dw1 != nil {
		copy(dw1, parts[0].dw1)
		for _, g := range parts[1:] {
			for i, v := range g.dw1 {
				dw1[i] += v
			}
		}
	}
	if dw2 != nil {
		// Sum the shares' partials into the first, then lay them out as w2:
		// the lane-batched blocks are a transpose of w2l's layout.
		sum := &parts[0]
		for _, g := range parts[1:] {
			for i, v := range g.dw2l {
				sum.dw2l[i] += v
			}
			for i, v := range g.dw2 {
				sum.dw2[i] += v
			}
		}
		monarchTranspose(dw2, d.S*d.R, sum.dw2l, p.lp, d.S*d.R, 0, p.lanes)
		copy(dw2[p.lanes*d.S*d.R:], sum.dw2)
	}
	return nil
}

// monarchGrads is one worker's scratch and partial weight gradients: dw1 in
// w1's layout, dw2 split as the plan splits the second factor (lane-batched
// blocks in w2l's layout, the blocks from p.lanes on in w2's).
type monarchGrads struct {
	ws             gemm.Workspace
	y1, dy1, buf   []float32
	dw1, dw2l, dw2 []float32
}

func (g *monarchGrads) init(p *monarchPlan, wantW1, wantW2 bool) {
	d := p.d
	g.dy1 = make([]float32, p.y1Len(monarchRowChunk))
	g.buf = make([]float32, monarchRowChunk*max(d.S, d.R))
	if wantW1 {
		g.dw1 = make([]float32, d.K*d.Q*d.P)
	}
	if wantW2 {
		g.y1 = make([]float32, p.y1Len(monarchRowChunk))
		g.dw2l = make([]float32, len(p.w2l))
		g.dw2 = make([]float32, (d.L-p.lanes)*d.S*d.R)
	}
}

// chunk adds rows [r0, r1)'s contributions to the weight gradients and
// writes their dx (if dx is not nil).
func (g *monarchGrads) chunk(p *monarchPlan, x, dy, dx []float32, r0, r1 int) {
	d, n, m, rows := p.d, p.d.N(), p.d.M(), r1-r0
	ws := &g.ws
	dyc := dy[r0*m:]
	if p.lanes > 0 {
		gemm.LaneMatMul(rows, d.R, d.S, p.lanes,
			gemm.Lanes{Data: dyc, RowStride: m, ColStride: d.L},
			gemm.Lanes{Data: p.w2l, RowStride: d.R * p.lp, ColStride: p.lp},
			gemm.Lanes{Data: g.dy1, RowStride: p.rowStride, ColStride: p.lp}, false)
	}
	for l := p.lanes; l < d.L; l++ {
		ws.MatMulPacked(rows, gemm.Matrix{Data: dyc[l:], Stride: m, ColStride: d.L}, p.w2b[l-p.lanes], g.buf, d.R, false)
		for b := range rows {
			row := g.dy1[b*p.rowStride+l:]
			for r, v := range g.buf[b*d.R : (b+1)*d.R] {
				row[r*p.lp] = v
			}
		}
	}
	for _, sg := range p.segs {
		gk := gemm.Matrix{Data: g.dy1[sg.pos:], Stride: p.rowStride}
		if dx != nil {
			ws.MatMulPacked(rows, gk, sg.bwd, dx[r0*n+sg.k*d.P:], n, sg.q0 > 0)
		}
		if g.dw1 != nil {
			gk.Trans = true
			ws.MatMul(sg.q1-sg.q0, d.P, rows, gk, gemm.Matrix{Data: x[r0*n+sg.k*d.P:], Stride: n},
				g.dw1[(sg.k*d.Q+sg.q0)*d.P:], d.P, true)
		}
	}
	if g.y1 == nil {
		return
	}
	p.stage1(ws, x, g.y1, r0, r1, 0, d.K)
	if p.lanes > 0 {
		gemm.LaneMatMul(d.S, d.R, rows, p.lanes,
			gemm.Lanes{Data: dyc, RowStride: d.L, ColStride: m},
			gemm.Lanes{Data: g.y1, RowStride: p.rowStride, ColStride: p.lp},
			gemm.Lanes{Data: g.dw2l, RowStride: d.R * p.lp, ColStride: p.lp}, true)
	}
	for l := p.lanes; l < d.L; l++ {
		ws.MatMul(d.S, d.R, rows,
			gemm.Matrix{Data: dyc[l:], Stride: m, ColStride: d.L, Trans: true},
			gemm.Matrix{Data: g.y1[l:], Stride: p.rowStride, ColStride: p.lp},
			g.dw2[(l-p.lanes)*d.S*d.R:], d.R, true)
	}
}
