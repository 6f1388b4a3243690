package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchForward computes y = Monarch(w1, w2) x: float64 runs the reference,
// float32 the parallel blocked path, float16/bfloat16 are widened to float32,
// computed there and rounded once into y.
func (b *Backend) MonarchForward(ctx context.Context, a backend.MonarchArgs) error {
	const op = "monarch"
	// Validate again: a backend is callable without the engine and must not panic.
	if err := backend.CheckMonarch(a); err != nil {
		return err
	}
	if err := hostOnly(op, a.X, a.W1, a.W2, a.Y); err != nil {
		return err
	}
	d := monarchDims(a.X, a.W1, a.W2)
	switch a.X.DType() {
	case tensor.Float64:
		if err := ctx.Err(); err != nil {
			return err
		}
		ref.MonarchForward(d, a.X.Float64(), a.W1.Float64(), a.W2.Float64(), a.Y.Float64())
		return nil
	case tensor.Float32:
		return b.monarchForward32(ctx, d, a.X.Float32(), a.W1.Float32(), a.W2.Float32(), a.Y.Float32())
	case tensor.Float16, tensor.BFloat16:
		y := make([]float32, a.Y.Len())
		if err := b.monarchForward32(ctx, d, widen32(a.X), widen32(a.W1), widen32(a.W2), y); err != nil {
			return err
		}
		narrow32(a.Y, y)
		return nil
	}
	return errs.DType(op, "cpu backend has no monarch for %v", a.X.DType())
}

// MonarchBackward computes the gradients of the Monarch product; nil outputs
// are skipped. Dtypes are handled as in MonarchForward.
func (b *Backend) MonarchBackward(ctx context.Context, a backend.MonarchGradArgs) error {
	const op = "monarch backward"
	if err := backend.CheckMonarchGrad(a); err != nil {
		return err
	}
	if err := hostOnly(op, a.X, a.W1, a.W2, a.DY, a.DX, a.DW1, a.DW2); err != nil {
		return err
	}
	d := monarchDims(a.X, a.W1, a.W2)
	switch a.X.DType() {
	case tensor.Float64:
		if err := ctx.Err(); err != nil {
			return err
		}
		ref.MonarchBackward(d, a.X.Float64(), a.W1.Float64(), a.W2.Float64(), a.DY.Float64(),
			monarchOut64(a.DX), monarchOut64(a.DW1), monarchOut64(a.DW2))
		return nil
	case tensor.Float32:
		return b.monarchBackward32(ctx, d, a.X.Float32(), a.W1.Float32(), a.W2.Float32(), a.DY.Float32(),
			monarchOut32(a.DX), monarchOut32(a.DW1), monarchOut32(a.DW2))
	case tensor.Float16, tensor.BFloat16:
		outs := []*tensor.Tensor{a.DX, a.DW1, a.DW2}
		bufs := make([][]float32, len(outs))
		for i, t := range outs {
			if t != nil {
				bufs[i] = make([]float32, t.Len())
			}
		}
		err := b.monarchBackward32(ctx, d, widen32(a.X), widen32(a.W1), widen32(a.W2), widen32(a.DY),
			bufs[0], bufs[1], bufs[2])
		if err != nil {
			return err
		}
		for i, t := range outs {
			if t != nil {
				narrow32(t, bufs[i])
			}
		}
		return nil
	}
	return errs.DType(op, "cpu backend has no monarch backward for %v", a.X.DType())
}

// monarchDims reads the sizes of an already validated product.
func monarchDims(x, w1, w2 *tensor.Tensor) ref.MonarchDims {
	return ref.MonarchDims{
		Batch: x.Dim(0),
		K:     w1.Dim(0), Q: w1.Dim(1), P: w1.Dim(2),
		L: w2.Dim(0), S: w2.Dim(1), R: w2.Dim(2),
	}
}

// monarchOut64 and monarchOut32 return an optional output's slice (nil when not wanted).
func monarchOut64(t *tensor.Tensor) []float64 {
	if t == nil {
		return nil
	}
	return t.Float64()
}

func monarchOut32(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Float32()
}
