package backend

import (
	"context"
	"math"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchForward computes y = Monarch(w1, w2) x with monarch_fwd_f32
// (kernels/monarch.cu): float32 only.
func (b *Backend) MonarchForward(ctx context.Context, a backend.MonarchArgs) error {
	const op = "monarch"
	if err := backend.CheckMonarch(a); err != nil {
		return err
	}
	if a.X.DType() != tensor.Float32 {
		return errs.Unsupported(op, "cuda has monarch for float32 only, not %v", a.X.DType())
	}
	if err := hostOperands(op, a.X, a.W1, a.W2, a.Y); err != nil {
		return err
	}
	batch, k, q, p := a.X.Dim(0), a.W1.Dim(0), a.W1.Dim(1), a.W1.Dim(2)
	l, s, r := a.W2.Dim(0), a.W2.Dim(1), a.W2.Dim(2)
	// The kernel takes the sizes as int and indexes one row's intermediate
	// (k*q values) with int.
	if err := fitInt32(op, batch, k*q, p, l*s, r); err != nil {
		return err
	}
	if a.Y.Len() == 0 {
		return nil
	}
	smem := 4 * k * q // one row of y1, float32
	if limit := b.d.Props().SharedPerBlockOptin; smem > limit {
		return errs.Limit(op, "k*q = %d intermediate values need %d bytes of shared memory per block; the device has %d", k*q, smem, limit)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bs := &buffers{d: b.d}
	err := b.monarch(bs, a, batch, k, q, p, l, s, r, smem)
	return bs.free(err)
}

func (b *Backend) monarch(bs *buffers, a backend.MonarchArgs, batch, k, q, p, l, s, r, smem int) error {
	x, err := upload(bs, a.X.Float32())
	if err != nil {
		return err
	}
	w1, err := upload(bs, a.W1.Float32())
	if err != nil {
		return err
	}
	w2, err := upload(bs, a.W2.Float32())
	if err != nil {
		return err
	}
	y, err := alloc[float32](bs, a.Y.Len())
	if err != nil {
		return err
	}
	// Blocks stride over the batch rows; threads over a row's k*q first
	// and l*s second outputs, so a block needs no more threads than the
	// larger of the two (in whole warps).
	grid := device.D1(min(batch, 8*max(b.d.Props().SMs, 1)))
	block := device.D1(warps(max(k*q, l*s), 256))
	err = kernels.MonarchFwdF32(b.d, 0, grid, block, smem, x, w1, w2, y,
		int32(batch), int32(k), int32(q), int32(p), int32(l), int32(s), int32(r))
	if err != nil {
		return err
	}
	return device.Download(b.d, a.Y.Float32(), y)
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
