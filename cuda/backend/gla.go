package backend

import (
	"context"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// GLAForward computes gated linear attention (kernels/gla.cu) for float32,
// float16 and bfloat16 inputs, fixed-length batches or cu_seqlens, with
// the kernel the form and the sequence lengths call for (see glaPlan).
// float64 is not on cuda (the engine's CPU backend has it).
func (b *Backend) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	return b.GLAForwardWith(ctx, a, GLAOptions{})
}

// GLAForwardWith is GLAForward with the kernel and its tiles chosen by o.
func (b *Backend) GLAForwardWith(ctx context.Context, a backend.GLAArgs, o GLAOptions) error {
	plan, dims, err := b.glaForwardPlan(a, o)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bs := &buffers{d: b.d}
	ops := glaOperands{q: a.Q, k: a.K, v: a.V, g: a.G, o: a.O, h0: a.H0, ht: a.HT, cu: a.CuSeqlens, scale: a.Scale}
	return bs.free(b.gla(bs, plan, dims, ops))
}

// GLAPlanFor returns what GLAForwardWith runs for these arguments on this
// device (for tuning, reports and tests); it validates like the forward.
func (b *Backend) GLAPlanFor(a backend.GLAArgs, o GLAOptions) (GLAPlan, error) {
	plan, _, err := b.glaForwardPlan(a, o)
	return plan, err
}

func (b *Backend) glaForwardPlan(a backend.GLAArgs, o GLAOptions) (GLAPlan, backend.GLADims, error) {
	const op = "gla"
	dims, err := backend.CheckGLA(a)
	if err != nil {
		return GLAPlan{}, dims, err
	}
	if err := glaDType(op, a.Q.DType()); err != nil {
		return GLAPlan{}, dims, err
	}
	if err := hostOperands(op, a.Q, a.K, a.V, a.G, a.H0, a.CuSeqlens, a.O, a.HT); err != nil {
		return GLAPlan{}, dims, err
	}
	plan, err := glaPlan(op, b.d.Props(), dims, a.Q.DType(), a.Form, o)
	return plan, dims, err
}

// GLADecode runs one recurrent step per sequence with gla_recurrent_<t>,
// updating a.State in place.
func (b *Backend) GLADecode(ctx context.Context, a backend.GLADecodeArgs) error {
	const op = "gla decode"
	dims, err := backend.CheckGLADecode(a)
	if err != nil {
		return err
	}
	if err := glaDType(op, a.Q.DType()); err != nil {
		return err
	}
	if err := hostOperands(op, a.Q, a.K, a.V, a.G, a.State, a.O); err != nil {
		return err
	}
	plan, err := glaRecurrentPlan(op, b.d.Props(), dims, a.Q.DType())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A decode step is the recurrence over sequences of one token, starting
	// from and ending in the state.
	bs := &buffers{d: b.d}
	ops := glaOperands{q: a.Q, k: a.K, v: a.V, g: a.G, o: a.O, h0: a.State, ht: a.State, scale: a.Scale}
	return bs.free(b.gla(bs, plan, dims, ops))
}

// glaDType refuses what the kernels do not take.
func glaDType(op string, dt tensor.DType) error {
	switch dt {
	case tensor.Float32, tensor.Float16, tensor.BFloat16:
		return nil
	}
	return errs.Unsupported(op, "cuda has gla for float32, float16 and bfloat16, not %v", dt)
}

// glaOperands are a forward's tensors: h0 (or nil: zero) is the initial
// state and ht (or nil) receives the final one, possibly the same tensor;
// cu is the cu_seqlens tensor or nil.
type glaOperands struct {
	q, k, v, g, o, h0, ht, cu *tensor.Tensor
	scale                     float64
}

// glaBuffers are the operands on the device; h0, ht, cu32 and cu64 may be 0
// (null).
type glaBuffers struct {
	q, k, v, g, o, h0, ht, cu32, cu64 device.Ptr
}

// gla uploads the operands, runs plan and downloads o and ht.
func (b *Backend) gla(bs *buffers, plan GLAPlan, dims backend.GLADims, a glaOperands) error {
	if dims.N() == 0 || dims.H == 0 || dims.V == 0 {
		return nil // o and the states are empty
	}
	var p glaBuffers
	var err error
	for _, in := range []struct {
		p *device.Ptr
		t *tensor.Tensor
	}{{&p.q, a.q}, {&p.k, a.k}, {&p.v, a.v}, {&p.g, a.g}} {
		if *in.p, err = uploadTensor(bs, in.t); err != nil {
			return err
		}
	}
	if p.o, err = alloc[byte](bs, a.o.Len()*a.o.DType().Bits()/8); err != nil {
		return err
	}
	if a.cu != nil {
		if s := a.cu.Int32(); s != nil {
			p.cu32, err = upload(bs, s)
		} else {
			p.cu64, err = upload(bs, a.cu.Int64())
		}
		if err != nil {
			return err
		}
	}
	if a.h0 != nil {
		if p.h0, err = upload(bs, a.h0.Float32()); err != nil {
			return err
		}
	}
	dt := a.q.DType()
	scale := float32(backend.GLAScale(a.scale, dims.K))
	T, H, K, V := int32(dims.T), int32(dims.H), int32(dims.K), int32(dims.V)
	switch plan.Kernel {
	case GLARecurrentKernel:
		// The state buffer is both h0 and ht: in place.
		load := int32(1)
		if p.h0 == 0 {
			load = 0
			if p.h0, err = alloc[float32](bs, dims.N()*dims.H*dims.K*dims.V); err != nil {
				return err
			}
		}
		p.ht = p.h0
		err = glaRecurrentFns[dt](b.d, 0, plan.Grid, plan.Block, plan.Smem, p.q, p.k, p.v, p.g, p.o, p.h0, p.cu32, p.cu64, T, H, K, V, scale, load)
	case GLAChunkedKernel:
		err = b.glaChunked(bs, plan, dims, dt, &p, a.ht != nil, scale)
	default:
		return errs.Argument("gla", "plan has no kernel")
	}
	if err != nil {
		return err
	}
	if a.o.Len() > 0 {
		if err := downloadTensor(b.d, a.o, p.o); err != nil {
			return err
		}
	}
	if a.ht != nil {
		return device.Download(b.d, a.ht.Float32(), p.ht)
	}
	return nil
}

// glaChunked launches gla_chunk and, with several key tiles, the reduction
// of their partial outputs. p.ht is set when wantHT.
func (b *Backend) glaChunked(bs *buffers, plan GLAPlan, dims backend.GLADims, dt tensor.DType, p *glaBuffers, wantHT bool, scale float32) error {
	var err error
	if wantHT {
		if p.ht, err = alloc[float32](bs, dims.N()*dims.H*dims.K*dims.V); err != nil {
			return err
		}
	}
	total := dims.Offsets[dims.N()] * dims.H * dims.V // elements of o
	var part device.Ptr
	if plan.KeyTiles > 1 {
		if part, err = alloc[float32](bs, plan.KeyTiles*total); err != nil {
			return err
		}
	}
	fn := glaChunkFns[glaChunkKey{dt, plan.KeyTile}]
	err = fn(b.d, 0, plan.Grid, plan.Block, plan.Smem, p.q, p.k, p.v, p.g, p.o, part, p.h0, p.ht, p.cu32, p.cu64,
		int32(dims.T), int32(dims.H), int32(dims.K), int32(dims.V), scale)
	if err != nil || plan.KeyTiles == 1 || total == 0 {
		return err
	}
	const threads = 256
	grid := device.D1(min((total+threads-1)/threads, 8*max(b.d.Props().SMs, 1)))
	return glaReduceFns[dt](b.d, 0, grid, device.D1(threads), 0, part, p.o, int64(total), int32(plan.KeyTiles))
}
