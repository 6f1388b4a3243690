package backend

import (
	"context"
	"math"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchForward computes y = Monarch(w1, w2) x with the default options:
// float32 on the precise path, float16 and bfloat16 on the tensor cores.
func (b *Backend) MonarchForward(ctx context.Context, a backend.MonarchArgs) error {
	return b.MonarchForwardWith(ctx, a, MonarchOptions{})
}

// MonarchForwardWith computes y = Monarch(w1, w2) x with the kernels
// MonarchPlanFor chooses (kernels/monarch.cu): the fused kernel, or two
// batched block GEMMs for blocks too large for it.
func (b *Backend) MonarchForwardWith(ctx context.Context, a backend.MonarchArgs, o MonarchOptions) error {
	plan, kv, d, err := b.monarchForwardPlan(a, o)
	if err != nil || a.Y.Len() == 0 {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := b.begin(ctx)
	if err != nil {
		return err
	}
	return c.end(c.monarchForward(kv, plan, d, a))
}

// MonarchPlanFor returns what MonarchForwardWith runs for these operands
// on this device (for tuning and reports); it validates like the product.
func (b *Backend) MonarchPlanFor(a backend.MonarchArgs, o MonarchOptions) (MonarchPlan, error) {
	plan, _, _, err := b.monarchForwardPlan(a, o)
	return plan, err
}

func (b *Backend) monarchForwardPlan(a backend.MonarchArgs, o MonarchOptions) (MonarchPlan, *monarchKernels, monarchDims, error) {
	const op = "monarch"
	if err := backend.CheckMonarch(a); err != nil {
		return MonarchPlan{}, nil, monarchDims{}, err
	}
	kv, err := monarchVariant(op, a.X.DType(), o.Math)
	if err != nil {
		return MonarchPlan{}, nil, monarchDims{}, err
	}
	if err := hostOperands(op, a.X, a.W1, a.W2, a.Y); err != nil {
		return MonarchPlan{}, nil, monarchDims{}, err
	}
	d := monarchDimsOf(a.X, a.W1, a.W2)
	if err := d.fit(op); err != nil {
		return MonarchPlan{}, nil, monarchDims{}, err
	}
	o, _ = b.tune.tunedMonarch(b.props(), kv, d, o)
	plan, err := monarchPlan(b.props(), kv, d, o)
	return plan, kv, d, err
}

func monarchDimsOf(x, w1, w2 *tensor.Tensor) monarchDims {
	return monarchDims{batch: x.Dim(0), k: w1.Dim(0), q: w1.Dim(1), p: w1.Dim(2), l: w2.Dim(0), s: w2.Dim(1), r: w2.Dim(2)}
}

// fit checks what the kernels index with int: a row of x, y or the
// intermediate, a weight tensor, the batch (with a tile of slack), and the
// two-pass GEMM's grid.x.
func (d monarchDims) fit(op string) error {
	if err := fitInt32(op, d.batch+1024, d.n(), d.m(), d.n1(), d.k*d.q*d.p, d.l*d.s*d.r); err != nil {
		return err
	}
	return fitInt32(op, d.k*monarchCeil(d.q, monarchGemmTile), d.l*monarchCeil(d.s, monarchGemmTile),
		d.k*monarchCeil(d.p, monarchGemmTile), d.l*monarchCeil(d.r, monarchGemmTile))
}

func (c *call) monarchForward(kv *monarchKernels, plan MonarchPlan, d monarchDims, a backend.MonarchArgs) error {
	x, err := uploadTensor(c, a.X)
	if err != nil {
		return err
	}
	w1, err := uploadTensor(c, a.W1)
	if err != nil {
		return err
	}
	w2, err := uploadTensor(c, a.W2)
	if err != nil {
		return err
	}
	y, err := c.alloc(a.Y.Len() * kv.elem)
	if err != nil {
		return err
	}
	var z device.Ptr
	if ws := monarchWorkspace(kv, plan, d); ws > 0 {
		if z, err = c.alloc(ws); err != nil {
			return err
		}
	}
	if err := monarchLaunch(c, c.s, kv, plan, d, x, w1, w2, z, y); err != nil {
		return err
	}
	return downloadTensor(c, a.Y, y)
}

// monarchGemm is one launch of monarch_bgemm_<v>: for every block blk,
// C[b, perm(blk*n + j; cL, cR)] = sum_i A[b, perm(blk*k + i; aL, aR)] W(blk, j, i)
// with W(blk, j, i) = w[blk, j, i], or w[blk, i, j] when wtrans.
type monarchGemm struct {
	a, w, c        device.Ptr
	nblk, n, k     int
	lda, ldc       int
	aL, aR, cL, cR int
	wtrans         bool
}

func (c *call) monarchGemm(kv *monarchKernels, batch int, g monarchGemm) error {
	return launchMonarchGemm(c, c.s, kv, batch, g)
}

func launchMonarchGemm(dev device.Device, s device.Stream, kv *monarchKernels, batch int, g monarchGemm) error {
	if batch == 0 {
		return nil
	}
	e := kv.elem
	vec := monarchFlag(g.aL == 1 && monarchAligned(g.k*e) && monarchAligned(g.lda*e), 1) |
		monarchFlag(!g.wtrans && monarchAligned(g.k*e) || g.wtrans && monarchAligned(g.n*e), 2)
	trans := int32(0)
	if g.wtrans {
		trans = 1
	}
	grid := device.D3(g.nblk*monarchCeil(g.n, monarchGemmTile), min(monarchCeil(batch, monarchGemmTile), 65535), 1)
	return kv.bgemm(dev, s, grid, device.D1(monarchThreads), 0, g.a, g.w, g.c, int32(batch), int32(g.nblk),
		int32(g.n), int32(g.k), int64(g.lda), int64(g.ldc), int32(g.aL), int32(g.aR), int32(g.cL), int32(g.cR), trans, vec)
}

// warps rounds n threads up to whole warps, at most limit.
func warps(n, limit int) int { return min((n+31)/32*32, limit) }

// fitInt32 checks sizes a kernel takes as int.
func fitInt32(op string, sizes ...int) error {
	for _, n := range sizes {
		if n > math.MaxInt32 {
			return errs.Limit(op, "size %d exceeds the kernel's int range", n)
		}
	}
	return nil
}

// hostOperands checks that every tensor lives on the host: device tensors
// come with a later issue.
func hostOperands(op string, ts ...*tensor.Tensor) error {
	for _, t := range ts {
		if t != nil && !t.OnHost() {
			return errs.Unsupported(op, "cuda takes host tensors only for now, got %v", t)
		}
	}
	return nil
}
