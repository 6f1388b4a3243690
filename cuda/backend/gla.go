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
	c, err := b.begin(ctx)
	if err != nil {
		return err
	}
	ops := glaOperands{q: a.Q, k: a.K, v: a.V, g: a.G, o: a.O, h0: a.H0, ht: a.HT, cu: a.CuSeqlens, scale: a.Scale}
	return c.end(c.gla(plan, dims, ops))
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
	o, _ = b.tune.tunedGLA(b.props(), dims, a.Q.DType(), a.Form, o)
	plan, err := glaPlan(op, b.props(), dims, a.Q.DType(), a.Form, o)
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
	plan, err := glaRecurrentPlan(op, b.props(), dims, a.Q.DType())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A decode step is the recurrence over sequences of one token, starting
	// from and ending in the state.
	c, err := b.begin(ctx)
	if err != nil {
		return err
	}
	ops := glaOperands{q: a.Q, k: a.K, v: a.V, g: a.G, o: a.O, h0: a.State, ht: a.State, scale: a.Scale}
	return c.end(c.gla(plan, dims, ops))
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
func (c *call) gla(plan GLAPlan, dims backend.GLADims, a glaOperands) error {
	if dims.N() == 0 || dims.H == 0 || dims.V == 0 {
		return nil // o and the states are empty
	}
	var p glaBuffers
	var err error
	for _, in := range []struct {
		p *device.Ptr
		t *tensor.Tensor
	}{{&p.q, a.q}, {&p.k, a.k}, {&p.v, a.v}, {&p.g, a.g}} {
		if *in.p, err = uploadTensor(c, in.t); err != nil {
			return err
		}
	}
	if p.o, err = c.alloc(a.o.Len() * a.o.DType().Bits() / 8); err != nil {
		return err
	}
	if a.cu != nil {
		if s := a.cu.Int32(); s != nil {
			p.cu32, err = c.upload(device.Bytes(s))
		} else {
			p.cu64, err = c.upload(device.Bytes(a.cu.Int64()))
		}
		if err != nil {
			return err
		}
	}
	if a.h0 != nil {
		if p.h0, err = c.upload(device.Bytes(a.h0.Float32())); err != nil {
			return err
		}
	}
	dt := a.q.DType()
	scale := float32(backend.GLAScale(a.scale, dims.K))
	load := p.h0 != 0
	switch plan.Kernel {
	case GLARecurrentKernel:
		// The state buffer is both h0 and ht: in place.
		if !load {
			if p.h0, err = c.alloc(dims.N() * dims.H * dims.K * dims.V * 4); err != nil {
				return err
			}
		}
		p.ht = p.h0
	case GLAChunkedKernel:
		if a.ht != nil {
			if p.ht, err = c.alloc(dims.N() * dims.H * dims.K * dims.V * 4); err != nil {
				return err
			}
		}
	}
	var part device.Ptr
	if ws := glaWorkspace(plan, dims); ws > 0 {
		if part, err = c.alloc(ws * 4); err != nil {
			return err
		}
	}
	if err := glaLaunch(c, c.s, plan, dims, dt, p, part, load, scale); err != nil {
		return err
	}
	if a.o.Len() > 0 {
		if err := downloadTensor(c, a.o, p.o); err != nil {
			return err
		}
	}
	if a.ht != nil {
		return c.download(device.Bytes(a.ht.Float32()), p.ht)
	}
	return nil
}
