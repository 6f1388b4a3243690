package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/ref"
)

// monarchRowChunk is how many batch rows one work item of the forward pass
// takes: enough to reuse each weight row from cache across several inputs,
// few enough that the chunk's intermediate (rows * k*q floats) stays small.
const monarchRowChunk = 8

// monarchGrainFlops is the least work worth a goroutine.
const monarchGrainFlops = 1 << 16

// monarchForward32 computes the forward product in float32. With enough rows
// it runs row chunks in parallel, each keeping its own intermediate; with few
// rows (a decode step) it parallelizes over the blocks of each factor instead,
// in two passes over an intermediate of batch*k*q floats.
func (b *Backend) monarchForward32(ctx context.Context, d ref.MonarchDims, x, w1, w2, y []float32) error {
	kq := d.K * d.Q
	chunks := (d.Batch + monarchRowChunk - 1) / monarchRowChunk
	if chunks >= b.threads {
		flops := 2 * monarchRowChunk * (kq*d.P + d.M()*d.R)
		grain := max(1, monarchGrainFlops/max(flops, 1))
		return b.parallelFor(ctx, chunks, grain, func(lo, hi int) {
			y1 := make([]float32, monarchRowChunk*kq)
			z := make([]float32, d.R)
			for c := lo; c < hi; c++ {
				if ctx.Err() != nil {
					return
				}
				r0, r1 := c*monarchRowChunk, min((c+1)*monarchRowChunk, d.Batch)
				monarchStage1(d, x, w1, y1, r0, r1, 0, d.K)
				monarchStage2(d, y1, w2, y, z, r0, r1, 0, d.L)
			}
		})
	}
	y1 := make([]float32, d.Batch*kq)
	grain1 := max(1, monarchGrainFlops/max(2*d.Batch*d.Q*d.P, 1))
	err := b.parallelFor(ctx, d.K, grain1, func(lo, hi int) {
		monarchStage1(d, x, w1, y1, 0, d.Batch, lo, hi)
	})
	if err != nil {
		return err
	}
	grain2 := max(1, monarchGrainFlops/max(2*d.Batch*d.S*d.R, 1))
	return b.parallelFor(ctx, d.L, grain2, func(lo, hi int) {
		monarchStage2(d, y1, w2, y, make([]float32, d.R), 0, d.Batch, lo, hi)
	})
}

// monarchStage1 computes the first block-diagonal factor for rows [r0, r1)
// and blocks [k0, k1): y1[(b-r0)*k*q + k*Q + q] = w1[k, q, :] . x[b, k*P:(k+1)*P].
// Each weight row is used for all rows of the range while it is in cache.
func monarchStage1(d ref.MonarchDims, x, w1, y1 []float32, r0, r1, k0, k1 int) {
	n, kq := d.N(), d.K*d.Q
	for k := k0; k < k1; k++ {
		for q := range d.Q {
			w := w1[(k*d.Q+q)*d.P : (k*d.Q+q+1)*d.P]
			for b := r0; b < r1; b++ {
				y1[(b-r0)*kq+k*d.Q+q] = monarchDot32(w, x[b*n+k*d.P:b*n+(k+1)*d.P])
			}
		}
	}
}

// monarchStage2 applies the permutation and the second factor for rows
// [r0, r1) and blocks [l0, l1): it gathers z[r] = y1[r*L + l] (the '(r l) ->
// (l r)' permutation) into the scratch z and writes y[b, s*L + l] = w2[l, s, :] . z.
func monarchStage2(d ref.MonarchDims, y1, w2, y, z []float32, r0, r1, l0, l1 int) {
	m, kq := d.M(), d.K*d.Q
	for l := l0; l < l1; l++ {
		blk := w2[l*d.S*d.R : (l+1)*d.S*d.R]
		for b := r0; b < r1; b++ {
			row := y1[(b-r0)*kq : (b-r0+1)*kq]
			for r := range d.R {
				z[r] = row[r*d.L+l]
			}
			yb := y[b*m : (b+1)*m]
			for s := range d.S {
				yb[s*d.L+l] = monarchDot32(blk[s*d.R:(s+1)*d.R], z)
			}
		}
	}
}

// monarchBackward32 computes the gradients in float32 in three passes:
// per row (parallel over rows) the intermediate and the gradient dy1 flowing
// into the first factor, and dx; then dw2 (parallel over its l blocks) and
// dw1 (parallel over its k blocks), each a sum over the batch. Nil outputs
// are skipped.
func (b *Backend) monarchBackward32(ctx context.Context, d ref.MonarchDims, x, w1, w2, dy, dx, dw1, dw2 []float32) error {
	n, m, kq := d.N(), d.M(), d.K*d.Q
	var z, dy2, dy1 []float32
	if dw2 != nil {
		z = make([]float32, d.Batch*kq)  // the intermediate in (l r) order, per row
		dy2 = make([]float32, d.Batch*m) // dy in (l s) order, per row
	}
	if dw1 != nil {
		dy1 = make([]float32, d.Batch*kq)
	}
	flops := 2 * (kq*d.P + m*d.R)
	if dx != nil {
		flops += 2 * kq * d.P
	}
	grain := max(1, monarchGrainFlops/max(flops, 1))
	err := b.parallelFor(ctx, d.Batch, grain, func(lo, hi int) {
		y1 := make([]float32, kq)
		g2 := make([]float32, m)
		g1 := make([]float32, kq)
		acc := make([]float32, d.R)
		for bi := lo; bi < hi; bi++ {
			if ctx.Err() != nil {
				return
			}
			dyb := dy[bi*m : (bi+1)*m]
			if z != nil {
				monarchStage1(d, x, w1, y1, bi, bi+1, 0, d.K)
				zb := z[bi*kq : (bi+1)*kq]
				for l := range d.L {
					for r := range d.R {
						zb[l*d.R+r] = y1[r*d.L+l]
					}
				}
				g2 = dy2[bi*m : (bi+1)*m]
			}
			for l := range d.L {
				for s := range d.S {
					g2[l*d.S+s] = dyb[s*d.L+l]
				}
			}
			if dy1 != nil {
				g1 = dy1[bi*kq : (bi+1)*kq]
			}
			// dy1[r*L + l] = sum_s w2[l, s, r] * dy2[l, s]
			for l := range d.L {
				clear(acc)
				for s := range d.S {
					monarchAxpy32(acc, g2[l*d.S+s], w2[(l*d.S+s)*d.R:(l*d.S+s+1)*d.R])
				}
				for r := range d.R {
					g1[r*d.L+l] = acc[r]
				}
			}
			if dx != nil {
				// dx[k*P + p] = sum_q w1[k, q, p] * dy1[k*Q + q]
				dxb := dx[bi*n : (bi+1)*n]
				clear(dxb)
				for k := range d.K {
					out := dxb[k*d.P : (k+1)*d.P]
					for q := range d.Q {
						monarchAxpy32(out, g1[k*d.Q+q], w1[(k*d.Q+q)*d.P:(k*d.Q+q+1)*d.P])
					}
				}
			}
		}
	})
	if err != nil {
		return err
	}
	if dw2 != nil {
		// dw2[l, s, :] = sum_b dy2[b, l, s] * z[b, l, :]
		err := b.parallelFor(ctx, d.L, max(1, monarchGrainFlops/max(2*d.Batch*d.S*d.R, 1)), func(lo, hi int) {
			clear(dw2[lo*d.S*d.R : hi*d.S*d.R])
			for bi := range d.Batch {
				if ctx.Err() != nil {
					return
				}
				for l := lo; l < hi; l++ {
					zl := z[bi*kq+l*d.R : bi*kq+(l+1)*d.R]
					for s := range d.S {
						monarchAxpy32(dw2[(l*d.S+s)*d.R:(l*d.S+s+1)*d.R], dy2[bi*m+l*d.S+s], zl)
					}
				}
			}
		})
		if err != nil {
			return err
		}
	}
	if dw1 != nil {
		// dw1[k, q, :] = sum_b dy1[b, k*Q + q] * x[b, k*P:(k+1)*P]
		return b.parallelFor(ctx, d.K, max(1, monarchGrainFlops/max(2*d.Batch*d.Q*d.P, 1)), func(lo, hi int) {
			clear(dw1[lo*d.Q*d.P : hi*d.Q*d.P])
			for bi := range d.Batch {
				if ctx.Err() != nil {
					return
				}
				for k := lo; k < hi; k++ {
					xk := x[bi*n+k*d.P : bi*n+(k+1)*d.P]
					for q := range d.Q {
						monarchAxpy32(dw1[(k*d.Q+q)*d.P:(k*d.Q+q+1)*d.P], dy1[bi*kq+k*d.Q+q], xk)
					}
				}
			}
		})
	}
	return nil
}

// monarchDot32 is a float32 dot product with four independent partial sums, which
// keeps the loop from being bound by one add's latency.
func monarchDot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// monarchAxpy32 computes dst += alpha * src.
func monarchAxpy32(dst []float32, alpha float32, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += alpha * src[i]
	}
}
