package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/cpu/gemm"
	"github.com/matmix/matmix/engine/ref"
)

// monarchRowChunk is how many batch rows one work item takes: a multiple of
// the micro-kernels' tile rows (12, 6 and 4), small enough that the chunk's
// intermediate (rows x k*q floats, about 1 MiB at n = 4096) stays in L2
// between the two factors.
const monarchRowChunk = 48

// monarchGrainFlops is the least work worth a goroutine.
const monarchGrainFlops = 1 << 16

// monarchSeg is a run of a first-factor block's outputs q in [q0, q1) that
// sits contiguously in the intermediate, at pos within a row; the weights of
// block k restricted to it are packed once per call for both products that
// use them.
type monarchSeg struct {
	k, q0, q1, pos int
	fwd            *gemm.PackedB // w1[k, q0:q1, :]ᵀ (p x q), for y1 = x · w1ᵀ
	bwd            *gemm.PackedB // w1[k, q0:q1, :] (q x p), for dx = dy1 · w1
}

// monarchPlan is how one call lays out and computes the product. The
// intermediate y1, flattened (k q) = (r l), holds row b's value r*L + l at
// b*rowStride + r*lp + l: runs of L values (one per block of the second
// factor) padded to lp, which keeps power-of-two sizes from mapping every
// run to the same L1 sets. Blocks l < lanes of the second factor run side
// by side in SIMD lanes (gemm.LaneMatMul), with w2 interleaved into w2l as
// (s*R + r)*lp + l; the rest (fewer than a vector's width) run one by one
// from w2f/w2b.
type monarchPlan struct {
	d             ref.MonarchDims
	lp, rowStride int
	lanes         int
	segs          []monarchSeg
	w2l           []float32
	w2f, w2b      []*gemm.PackedB // w2[l]ᵀ (r x s) and w2[l] (s x r) for l >= lanes
}

// newMonarchPlan packs the weights for a forward (bwd false: dx's operands
// are not packed) or a backward call.
func (b *Backend) newMonarchPlan(ctx context.Context, d ref.MonarchDims, w1, w2 []float32, bwd bool) (*monarchPlan, error) {
	p := &monarchPlan{d: d, lp: d.L, lanes: d.L / gemm.LaneWidth() * gemm.LaneWidth()}
	if p.lanes > 0 {
		// Runs of an odd number of cache lines start in different sets.
		p.lp = (d.L + 15) / 16 * 16
		if p.lp/16%2 == 0 {
			p.lp += 16
		}
	}
	p.rowStride = d.R*p.lp + 16 // and so do consecutive rows
	if p.lanes == 0 {
		p.rowStride = d.R * p.lp
	}
	for k := range d.K {
		for i := k * d.Q; i < (k+1)*d.Q; {
			r, l := i/d.L, i%d.L
			n := min((k+1)*d.Q-i, d.L-l)
			if p.lp == d.L {
				n = (k+1)*d.Q - i // unpadded: the whole block is one run
			}
			p.segs = append(p.segs, monarchSeg{k: k, q0: i - k*d.Q, q1: i - k*d.Q + n, pos: r*p.lp + l})
			i += n
		}
	}
	if p.lanes > 0 {
		p.w2l = make([]float32, d.S*d.R*p.lp)
	}
	rest := d.L - p.lanes
	p.w2f, p.w2b = make([]*gemm.PackedB, rest), make([]*gemm.PackedB, rest)
	// Work units: the segments' packs, the remaining blocks' packs, then
	// w2l as a transpose of w2 (L x S*R) in column ranges of 256.
	const span = 256
	sr := d.S * d.R
	units := len(p.segs) + rest
	if p.lanes > 0 {
		units += (sr + span - 1) / span
	}
	grain := max(1, monarchGrainFlops/max(d.Q*d.P+d.S*d.R, 1))
	err := b.parallelFor(ctx, units, grain, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			switch {
			case u < len(p.segs):
				sg := &p.segs[u]
				blk := w1[(sg.k*d.Q+sg.q0)*d.P:]
				sg.fwd = gemm.PackB(d.P, sg.q1-sg.q0, gemm.Matrix{Data: blk, Stride: d.P, Trans: true})
				if bwd {
					sg.bwd = gemm.PackB(sg.q1-sg.q0, d.P, gemm.Matrix{Data: blk, Stride: d.P})
				}
			case u < len(p.segs)+rest:
				l := p.lanes + u - len(p.segs)
				blk := w2[l*sr : (l+1)*sr]
				p.w2f[l-p.lanes] = gemm.PackB(d.R, d.S, gemm.Matrix{Data: blk, Stride: d.R, Trans: true})
				if bwd {
					p.w2b[l-p.lanes] = gemm.PackB(d.S, d.R, gemm.Matrix{Data: blk, Stride: d.R})
				}
			default:
				j0 := (u - len(p.segs) - rest) * span
				monarchTranspose(p.w2l, p.lp, w2, sr, p.lanes, j0, min(j0+span, sr))
			}
		}
	})
	return p, err
}

// y1Len is the size of the intermediate of rows rows.
func (p *monarchPlan) y1Len(rows int) int { return rows * p.rowStride }

// stage1 computes the first block-diagonal factor for rows [r0, r1) of x
// into y1 (row 0 of y1 is row r0), for the segments of blocks [k0, k1):
// y1[b, k*Q + q] = sum_p x[b, k*P + p] * w1[k, q, p], x read in place.
func (p *monarchPlan) stage1(ws *gemm.Workspace, x, y1 []float32, r0, r1, k0, k1 int) {
	d, n := p.d, p.d.N()
	for _, sg := range p.segs {
		if sg.k < k0 || sg.k >= k1 {
			continue
		}
		ws.MatMulPacked(r1-r0, gemm.Matrix{Data: x[r0*n+sg.k*d.P:], Stride: n}, sg.fwd, y1[sg.pos:], p.rowStride, false)
	}
}

// stage2 applies the permutation and the second factor for rows [r0, r1)
// and blocks [l0, l1), from the intermediate of those rows: y[b, s*L + l] =
// sum_r w2[l, s, r] * y1[b, r*L + l]. Read as (r l), row b of the
// intermediate holds block l's input at r*L + l: the blocks are interleaved
// one lane each, and so are the outputs. One lane-batched product runs the
// blocks below p.lanes side by side, reading the permuted intermediate and
// writing y in place, with no gather or scatter pass (y with streaming
// stores: it is not read again here, and would evict the weights). The
// others (fewer than a vector) read their strided input through a
// general-stride view and scatter their outputs from buf (rows x S floats).
func (p *monarchPlan) stage2(ws *gemm.Workspace, y1, y, buf []float32, r0, r1, l0, l1 int) {
	d, m, rows := p.d, p.d.M(), r1-r0
	if lanes := min(l1, p.lanes) - l0; lanes > 0 {
		gemm.LaneMatMulStream(rows, d.S, d.R, lanes,
			gemm.Lanes{Data: y1[l0:], RowStride: p.rowStride, ColStride: p.lp},
			gemm.Lanes{Data: p.w2l[l0:], RowStride: p.lp, ColStride: d.R * p.lp},
			gemm.Lanes{Data: y[r0*m+l0:], RowStride: m, ColStride: d.L})
	}
	for l := max(l0, p.lanes); l < l1; l++ {
		ws.MatMulPacked(rows, gemm.Matrix{Data: y1[l:], Stride: p.rowStride, ColStride: p.lp}, p.w2f[l-p.lanes], buf, d.S, false)
		for b := range rows {
			yb := y[(r0+b)*m+l:]
			for s, v := range buf[b*d.S : (b+1)*d.S] {
				yb[s*d.L] = v
			}
		}
	}
}

// monarchTranspose writes dst[j*ldd + i] = src[i*lds + j] for rows i <
// rows and columns j in [j0, j1), in 16 x 16 tiles so that both sides move
// whole cache lines rather than one float per line.
func monarchTranspose(dst []float32, ldd int, src []float32, lds, rows, j0, j1 int) {
	const t = 16
	for jb := j0; jb < j1; jb += t {
		je := min(jb+t, j1)
		for ib := 0; ib < rows; ib += t {
			ie := min(ib+t, rows)
			for i := ib; i < ie; i++ {
				row := src[i*lds+jb : i*lds+je]
				for j, v := range row {
					dst[(jb+j)*ldd+i] = v
				}
			}
		}
	}
}
