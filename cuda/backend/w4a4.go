package backend

import (
	"context"
	"math"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
)

// W4A4GEMM computes the spec's W4A4 GEMM with kernels/w4a4.cu: int4
// groups on mma.m16n8k64.s4, int8 groups on mma.m16n8k32.s8 (the weights
// widened for them), each group sum exact in int32 and scaled into float32
// accumulators, as COMET's W4Ax kernel does.
func (b *Backend) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	return b.W4A4GEMMWith(ctx, a, W4A4Options{})
}

// W4A4GEMMWith is W4A4GEMM with the row tile chosen by o.
func (b *Backend) W4A4GEMMWith(ctx context.Context, a backend.W4A4Args, o W4A4Options) error {
	plan, err := b.W4A4PlanFor(a, o)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m, n := a.A.M, a.W.N
	if m == 0 || n == 0 {
		return nil // y is empty
	}
	l := newW4A4Layout(a.A)
	if l.steps > math.MaxInt32/w4a4StepBytes {
		return errs.Limit("w4a4", "k=%d with groups of %d takes %d steps of %d bytes, more than the kernel addresses", a.A.K, a.A.Group, l.steps, w4a4StepBytes)
	}
	c, err := b.begin(ctx)
	if err != nil {
		return err
	}
	return c.end(c.w4a4(plan, &l, a))
}

// W4A4PlanFor returns what W4A4GEMMWith runs for these arguments on this
// device; it validates like the GEMM.
func (b *Backend) W4A4PlanFor(a backend.W4A4Args, o W4A4Options) (W4A4Plan, error) {
	const op = "w4a4"
	if err := backend.CheckW4A4(a); err != nil {
		return W4A4Plan{}, err
	}
	if err := hostOperands(op, a.Y); err != nil {
		return W4A4Plan{}, err
	}
	if m, n := a.A.M, a.W.N; m > math.MaxInt32 || n > math.MaxInt32 {
		return W4A4Plan{}, errs.Limit(op, "y is %d x %d; the kernel takes at most %d rows and columns", m, n, math.MaxInt32)
	}
	return w4a4Plan(b.props(), a.A.M, a.W.N, o)
}

// w4a4 packs and uploads the operands, runs plan and downloads y.
func (c *call) w4a4(plan W4A4Plan, l *w4a4Layout, a backend.W4A4Args) error {
	m, n := a.A.M, a.W.N
	var pa, pw, info, sa, sw device.Ptr
	var err error
	for _, in := range []struct {
		p   *device.Ptr
		src []byte
	}{
		{&pa, l.packActivations(a.A)}, {&pw, l.packWeights(a.W, a.A.Is8)}, {&info, device.Bytes(l.info)},
		{&sa, device.Bytes(a.A.Scales)}, {&sw, device.Bytes(a.W.Scales)},
	} {
		if *in.p, err = c.upload(in.src); err != nil {
			return err
		}
	}
	y, err := c.alloc(m * n * 4)
	if err != nil {
		return err
	}
	err = w4a4Kernel(plan.RowTile)(c, c.s, plan.Grid, plan.Block, 0, pa, pw, info, sa, sw, y,
		int32(m), int32(n), int32(l.steps), int32(len(l.first)))
	if err != nil {
		return err
	}
	return downloadTensor(c, a.Y, y)
}
