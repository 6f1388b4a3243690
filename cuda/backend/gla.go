package backend

import (
	"context"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// GLAForward computes gated linear attention in the recurrent form with
// gla_recurrent_f32 (kernels/gla.cu): float32, fixed-length batches or
// cu_seqlens. The chunked form is not implemented on cuda yet.
func (b *Backend) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	const op = "gla"
	dims, err := backend.CheckGLA(a)
	if err != nil {
		return err
	}
	if a.Form != backend.GLARecurrent {
		return errs.Unsupported(op, "cuda has the recurrent form only, not %v", a.Form)
	}
	if a.Q.DType() != tensor.Float32 {
		return errs.Unsupported(op, "cuda has gla for float32 only, not %v", a.Q.DType())
	}
	if err := hostOperands(op, a.Q, a.K, a.V, a.G, a.H0, a.CuSeqlens, a.O, a.HT); err != nil {
		return err
	}
	if err := b.glaLimits(op, dims); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bs := &buffers{d: b.d}
	return bs.free(b.gla(bs, dims, a.Q, a.K, a.V, a.G, a.O, a.H0, a.HT, a.CuSeqlens, a.Scale))
}

// GLADecode runs one recurrent step per sequence, updating a.State.
func (b *Backend) GLADecode(ctx context.Context, a backend.GLADecodeArgs) error {
	const op = "gla decode"
	dims, err := backend.CheckGLADecode(a)
	if err != nil {
		return err
	}
	if a.Q.DType() != tensor.Float32 {
		return errs.Unsupported(op, "cuda has gla decode for float32 only, not %v", a.Q.DType())
	}
	if err := hostOperands(op, a.Q, a.K, a.V, a.G, a.State, a.O); err != nil {
		return err
	}
	if err := b.glaLimits(op, dims); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A decode step is the recurrence over sequences of one token,
	// starting from and ending in the state.
	bs := &buffers{d: b.d}
	return bs.free(b.gla(bs, dims, a.Q, a.K, a.V, a.G, a.O, a.State, a.State, nil, a.Scale))
}

// glaLimits checks what the kernel's launch contract bounds: sequences
// along grid.y, the token's q, k and exp(g) in shared memory, int sizes.
func (b *Backend) glaLimits(op string, d backend.GLADims) error {
	if n := d.N(); n > 65535 {
		return errs.Limit(op, "%d sequences exceed the kernel's 65535 (grid.y)", n)
	}
	if smem, limit := 12*d.K, b.d.Props().SharedPerBlockOptin; smem > limit {
		return errs.Limit(op, "K = %d needs %d bytes of shared memory per block; the device has %d", d.K, smem, limit)
	}
	return fitInt32(op, d.T, d.H, d.K, d.V)
}

// gla runs gla_recurrent_f32 over the sequences of dims. h0 (or nil: zero)
// is the initial state and ht (or nil) receives the final one; they may be
// the same tensor. cu is the cu_seqlens tensor or nil.
func (b *Backend) gla(bs *buffers, dims backend.GLADims, q, k, v, g, o, h0, ht, cu *tensor.Tensor, scale float64) error {
	if dims.N() == 0 || dims.H == 0 || dims.V == 0 {
		return nil // o and the states are empty
	}
	var dq, dk, dv, dg, do, state, cu32, cu64 device.Ptr
	var err error
	for _, in := range []struct {
		p *device.Ptr
		t *tensor.Tensor
	}{{&dq, q}, {&dk, k}, {&dv, v}, {&dg, g}} {
		if *in.p, err = upload(bs, in.t.Float32()); err != nil {
			return err
		}
	}
	if do, err = alloc[float32](bs, o.Len()); err != nil {
		return err
	}
	load := int32(0)
	if h0 != nil {
		load = 1
		state, err = upload(bs, h0.Float32())
	} else {
		state, err = alloc[float32](bs, dims.N()*dims.H*dims.K*dims.V)
	}
	if err != nil {
		return err
	}
	if cu != nil {
		if s := cu.Int32(); s != nil {
			cu32, err = upload(bs, s)
		} else {
			cu64, err = upload(bs, cu.Int64())
		}
		if err != nil {
			return err
		}
	}
	grid := device.D3(dims.H, dims.N(), 1)
	block := device.D1(warps(dims.V, 128)) // thread j owns state columns j, j+B, ...
	err = kernels.GlaRecurrentF32(b.d, 0, grid, block, 12*dims.K, dq, dk, dv, dg, do, state, cu32, cu64,
		int32(dims.T), int32(dims.H), int32(dims.K), int32(dims.V), float32(backend.GLAScale(scale, dims.K)), load)
	if err != nil {
		return err
	}
	if err := device.Download(b.d, o.Float32(), do); err != nil {
		return err
	}
	if ht != nil {
		return device.Download(b.d, ht.Float32(), state)
	}
	return nil
}
