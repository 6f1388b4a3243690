package bench

import (
	"strings"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// denseDType checks the dtype of a Monarch or GLA benchmark: float32 (also
// the zero value), float16 or bfloat16, the dtypes every backend takes for
// them (the CPU widens the 16-bit ones to float32 for compute).
func denseDType(op string, dt tensor.DType) (tensor.DType, error) {
	switch dt {
	case tensor.Invalid:
		return tensor.Float32, nil
	case tensor.Float32, tensor.Float16, tensor.BFloat16:
		return dt, nil
	}
	return dt, errs.Argument(op, "--dtype must be float32, float16 or bfloat16, got %v", dt)
}

// productTol is the spec's tolerance (shared/spec/workloads.md, "Tolerances
// used in tests") for a result computed from operands of dt: f32 for
// float32 operands, 1e-2 for 16-bit operands with float32 accumulation.
func productTol(dt tensor.DType, f32 float64) float64 {
	if dt == tensor.Float32 {
		return f32
	}
	return 1e-2
}

// computeClass is the roofline's compute ceiling for operands of dt: on a
// cuda backend the 16-bit dtypes (and float32 rounded to tf32) run on the
// tensor cores; the CPU widens them to float32, whose peak bounds it.
func computeClass(backendName string, dt tensor.DType, tf32 bool) string {
	if !strings.HasPrefix(backendName, "cuda") {
		return "fp32"
	}
	switch {
	case dt == tensor.Float16:
		return "f16"
	case dt == tensor.BFloat16:
		return "bf16"
	case tf32:
		return "tf32"
	}
	return "fp32"
}

// elemBytes is the storage size of one element of dt.
func elemBytes(dt tensor.DType) float64 { return float64(dt.Bits()) / 8 }

// roundedTensor stores vals in a new tensor of dt (rounded to nearest even)
// and returns it with its first keep values as the tensor holds them,
// widened: the reference's inputs are the kernel's exactly. vals is no
// longer needed after, so a large one can be dropped at once.
func roundedTensor(dt tensor.DType, vals []float64, keep int, shape ...int) (*tensor.Tensor, []float64, error) {
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, nil, err
	}
	if err := t.SetFromFloat64(vals); err != nil {
		return nil, nil, err
	}
	head, err := head64(t, keep)
	if err != nil {
		return nil, nil, err
	}
	return t, head, nil
}

// head64 widens the first n values of a float32, float16 or bfloat16 host
// tensor, without copying the rest (outputs can be far larger than the
// subset a check compares).
func head64(t *tensor.Tensor, n int) ([]float64, error) {
	var v *tensor.Tensor
	var err error
	switch d := t.Data().(type) {
	case []float32:
		v, err = tensor.FromFloat32(d[:n], n)
	case []tensor.F16:
		v, err = tensor.FromFloat16(d[:n], n)
	case []tensor.BF16:
		v, err = tensor.FromBFloat16(d[:n], n)
	default:
		return nil, errs.DType("bench", "%v is not a float32, float16 or bfloat16 host tensor", t)
	}
	if err != nil {
		return nil, err
	}
	return v.AsFloat64()
}
