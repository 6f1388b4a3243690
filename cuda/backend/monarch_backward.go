package backend

import (
	"context"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchBackward computes the wanted gradients of y = Monarch(w1, w2) x
// with the default options (float32 precise).
func (b *Backend) MonarchBackward(ctx context.Context, a backend.MonarchGradArgs) error {
	return b.MonarchBackwardWith(ctx, a, MonarchOptions{})
}

// MonarchBackwardWith computes the wanted gradients by the chain rule of
// ref.MonarchBackward, every product on the GPU (o.Path and o.RowTile do
// not apply):
//
//	dy1 = perm(dy2 w2)   with dy2 = dy read through (s, l)      monarch_bgemm (w2 transposed)
//	dx  = dy1 w1         blockwise                              monarch_bgemm (w1 transposed)
//	dw1 = dy1^T x        per block, reduced over the batch      monarch_wgrad + monarch_reduce
//	z   = perm(x w1^T)   the forward's intermediate, recomputed  monarch_bgemm
//	dw2 = dy2^T z        per block, reduced over the batch      monarch_wgrad + monarch_reduce
//
// dy1 and z are device buffers in the operands' dtype (float16 and bfloat16
// round them, as a torch bmm chain does).
func (b *Backend) MonarchBackwardWith(ctx context.Context, a backend.MonarchGradArgs, o MonarchOptions) error {
	const op = "monarch backward"
	if err := backend.CheckMonarchGrad(a); err != nil {
		return err
	}
	kv, err := monarchVariant(op, a.X.DType(), o.Math)
	if err != nil {
		return err
	}
	if err := hostOperands(op, a.X, a.W1, a.W2, a.DY, a.DX, a.DW1, a.DW2); err != nil {
		return err
	}
	d := monarchDimsOf(a.X, a.W1, a.W2)
	if err := d.fit(op); err != nil {
		return err
	}
	if a.DX == nil && a.DW1 == nil && a.DW2 == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.batch == 0 { // no rows: dx is empty and the weight gradients are sums of nothing
		for _, g := range []*tensor.Tensor{a.DW1, a.DW2} {
			if g != nil {
				if err := g.SetFromFloat64(make([]float64, g.Len())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	c, err := b.begin(ctx)
	if err != nil {
		return err
	}
	return c.end(c.monarchBackward(kv, d, a))
}

func (c *call) monarchBackward(kv *monarchKernels, d monarchDims, a backend.MonarchGradArgs) error {
	var x, w1, w2, dy, dy1 device.Ptr
	var err error
	for _, in := range []struct {
		p    *device.Ptr
		t    *tensor.Tensor
		need bool
	}{
		{&x, a.X, a.DW1 != nil || a.DW2 != nil},
		{&w1, a.W1, a.DX != nil || a.DW2 != nil},
		{&w2, a.W2, a.DX != nil || a.DW1 != nil},
		{&dy, a.DY, true},
	} {
		if in.need {
			if *in.p, err = uploadTensor(c, in.t); err != nil {
				return err
			}
		}
	}
	if a.DX != nil || a.DW1 != nil {
		if dy1, err = c.alloc(d.batch * d.n1() * kv.elem); err != nil {
			return err
		}
		// dy1[b, rr*l + ll] = sum_ss w2[ll, ss, rr] dy[b, ss*l + ll].
		if err := c.monarchGemm(kv, d.batch, monarchGemm{a: dy, w: w2, c: dy1, nblk: d.l, n: d.r, k: d.s,
			lda: d.m(), ldc: d.n1(), aL: d.s, aR: d.l, cL: d.r, cR: d.l, wtrans: true}); err != nil {
			return err
		}
	}
	if a.DX != nil {
		dx, err := c.alloc(a.DX.Len() * kv.elem)
		if err != nil {
			return err
		}
		// dx[b, kk*p + pp] = sum_qq w1[kk, qq, pp] dy1[b, kk*q + qq].
		if err := c.monarchGemm(kv, d.batch, monarchGemm{a: dy1, w: w1, c: dx, nblk: d.k, n: d.p, k: d.q,
			lda: d.n1(), ldc: d.n(), aL: 1, aR: 1, cL: 1, cR: 1, wtrans: true}); err != nil {
			return err
		}
		if err := downloadTensor(c, a.DX, dx); err != nil {
			return err
		}
	}
	if a.DW1 != nil {
		// dw1[kk, qq, pp] = sum_b dy1[b, kk*q + qq] x[b, kk*p + pp].
		if err := c.monarchWeightGrad(kv, d.batch, a.DW1, monarchWgrad{g: dy1, h: x, nblk: d.k, nj: d.q, ni: d.p,
			ldg: d.n1(), ldh: d.n(), gL: 1, gR: 1, hL: 1, hR: 1}); err != nil {
			return err
		}
	}
	if a.DW2 != nil {
		z, err := c.alloc(d.batch * d.n1() * kv.elem)
		if err != nil {
			return err
		}
		if err := c.monarchGemm(kv, d.batch, monarchGemm{a: x, w: w1, c: z, nblk: d.k, n: d.q, k: d.p,
			lda: d.n(), ldc: d.n1(), aL: 1, aR: 1, cL: d.l, cR: d.r}); err != nil {
			return err
		}
		// dw2[ll, ss, rr] = sum_b dy[b, ss*l + ll] z[b, ll*r + rr].
		if err := c.monarchWeightGrad(kv, d.batch, a.DW2, monarchWgrad{g: dy, h: z, nblk: d.l, nj: d.s, ni: d.r,
			ldg: d.m(), ldh: d.n1(), gL: d.s, gR: d.l, hL: 1, hR: 1}); err != nil {
			return err
		}
	}
	return nil
}

// monarchWgrad is one weight gradient:
// out[blk, j, i] = sum_b G[b, perm(blk*nj + j; gL, gR)] H[b, perm(blk*ni + i; hL, hR)].
type monarchWgrad struct {
	g, h           device.Ptr
	nblk, nj, ni   int
	ldg, ldh       int
	gL, gR, hL, hR int
}

// monarchWeightGrad runs monarch_wgrad_<v> over batch splits into float32
// partial sums and monarch_reduce_<t> into out. Splits: enough blocks for
// two per SM, each split at least 256 rows (a shorter one would spend more
// on its partial sums than on its products).
func (c *call) monarchWeightGrad(kv *monarchKernels, batch int, out *tensor.Tensor, w monarchWgrad) error {
	props := c.Props()
	tiles := w.nblk * monarchCeil(w.nj, monarchGemmTile) * monarchCeil(w.ni, monarchGemmTile)
	if err := fitInt32("monarch backward", tiles); err != nil {
		return err
	}
	splits := min(max(1, monarchCeil(2*props.SMs, tiles)), max(1, monarchCeil(batch, monarchMinSplitB)))
	chunk := monarchRoundUp(monarchCeil(batch, splits), 32)
	splits = monarchCeil(batch, chunk)
	total := w.nblk * w.nj * w.ni
	ws, err := c.alloc(splits * total * 4) // float32 partial sums
	if err != nil {
		return err
	}
	e := kv.elem
	vec := monarchFlag(w.gL == 1 && monarchAligned(w.nj*e) && monarchAligned(w.ldg*e), 1) |
		monarchFlag(w.hL == 1 && monarchAligned(w.ni*e) && monarchAligned(w.ldh*e), 2)
	if err := kv.wgrad(c, c.s, device.D3(tiles, splits, 1), device.D1(monarchThreads), 0, w.g, w.h, ws,
		int32(batch), int32(w.nblk), int32(w.nj), int32(w.ni), int64(w.ldg), int64(w.ldh),
		int32(w.gL), int32(w.gR), int32(w.hL), int32(w.hR), int32(chunk), vec); err != nil {
		return err
	}
	dst, err := c.alloc(total * e)
	if err != nil {
		return err
	}
	const threads = 256
	grid := device.D1(max(1, min(monarchCeil(total, threads), 8*max(props.SMs, 1))))
	if err := kv.reduce(c, c.s, grid, device.D1(threads), 0, ws, dst, int64(total), int32(splits)); err != nil {
		return err
	}
	return downloadTensor(c, out, dst)
}
