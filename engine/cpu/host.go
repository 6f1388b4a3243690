package cpu

import (
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// hostOnly reports tensors the CPU cannot read (nil ones are absent options).
func hostOnly(op string, ts ...*tensor.Tensor) error {
	for _, t := range ts {
		if t != nil && !t.OnHost() {
			return errs.Unsupported(op, "the cpu backend needs host tensors, got %v", t)
		}
	}
	return nil
}

// widen32 copies a float16 or bfloat16 host tensor to float32 (exact).
func widen32(t *tensor.Tensor) []float32 {
	out := make([]float32, t.Len())
	if h := t.Float16(); h != nil {
		for i, x := range h {
			out[i] = x.Float32()
		}
		return out
	}
	for i, x := range t.BFloat16() {
		out[i] = x.Float32()
	}
	return out
}

// narrow32 rounds float32 values (nearest even) into a float16 or bfloat16
// host tensor of the same length.
func narrow32(t *tensor.Tensor, v []float32) {
	if h := t.Float16(); h != nil {
		for i, x := range v {
			h[i] = tensor.ToF16(x)
		}
		return
	}
	bf := t.BFloat16()
	for i, x := range v {
		bf[i] = tensor.ToBF16(x)
	}
}
