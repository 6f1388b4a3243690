package backend

import (
	"math"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// w4a4MaxProduct bounds |qa * qw| (int8 activations times int4 weights), so
// that a group of L columns sums to at most L*w4a4MaxProduct in magnitude.
const w4a4MaxProduct = 127 * 7

// CheckW4A4Inputs validates the float inputs of a quantize-and-multiply call:
// x (M, K) and w (N, K), float32 host tensors, a group size > 0 (the caller
// resolves the default) and an int8 fraction in [0, 1].
func CheckW4A4Inputs(op string, x, w *tensor.Tensor, group int, int8Frac float64) error {
	if err := CheckW4A4Matrix(op, "x", x); err != nil {
		return err
	}
	if err := CheckW4A4Matrix(op, "w", w); err != nil {
		return err
	}
	if x.Dim(1) != w.Dim(1) {
		return errs.Shape(op, "x %v and w %v must share K (their second axis)", x.Shape(), w.Shape())
	}
	if group <= 0 {
		return errs.Argument(op, "group size must be > 0, got %d", group)
	}
	if !(int8Frac >= 0 && int8Frac <= 1) {
		return errs.Argument(op, "int8 fraction must lie in [0, 1], got %v", int8Frac)
	}
	return nil
}

// CheckW4A4Matrix validates one matrix to be quantized: a float32 host
// tensor of rank 2. name names it in the error.
func CheckW4A4Matrix(op, name string, t *tensor.Tensor) error {
	if t == nil {
		return errs.Argument(op, "%s is nil", name)
	}
	if t.DType() != tensor.Float32 {
		return errs.DType(op, "%s is %v, want float32", name, t.DType())
	}
	if t.Rank() != 2 {
		return errs.Shape(op, "%s must have rank 2, got shape %v", name, t.Shape())
	}
	if !t.OnHost() {
		return errs.Unsupported(op, "%s is on %s; quantization reads host tensors", name, t.Buffer().Device())
	}
	return nil
}

// CheckW4A4Operands validates quantized activations a (M, K) and weights w
// (N, K): each well formed (their Validate), the same K and group size, and
// groups short enough that every integer group sum fits in int32.
func CheckW4A4Operands(op string, a *quant.Activations, w *quant.Weights) error {
	if a == nil {
		return errs.Argument(op, "activations are nil")
	}
	if w == nil {
		return errs.Argument(op, "weights are nil")
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	if a.K != w.K {
		return errs.Shape(op, "activations have K=%d but weights K=%d", a.K, w.K)
	}
	if a.Group != w.Group {
		return errs.Shape(op, "activations have group size %d but weights %d", a.Group, w.Group)
	}
	if l := min(a.Group, a.K); l > math.MaxInt32/w4a4MaxProduct {
		return errs.Limit(op, "groups of %d columns can overflow the int32 group sums (at most %d)", l, math.MaxInt32/w4a4MaxProduct)
	}
	return nil
}

// CheckW4A4 validates the arguments of a quantized GEMM: the operands as in
// CheckW4A4Operands and y, float32 (M, N).
func CheckW4A4(a W4A4Args) error {
	const op = "w4a4"
	if err := CheckW4A4Operands(op, a.A, a.W); err != nil {
		return err
	}
	if a.Y == nil {
		return errs.Argument(op, "y is nil")
	}
	if a.Y.DType() != tensor.Float32 {
		return errs.DType(op, "y is %v, want float32", a.Y.DType())
	}
	if s := a.Y.Shape(); len(s) != 2 || s[0] != a.A.M || s[1] != a.W.N {
		return errs.Shape(op, "y has shape %v, want [%d %d]", s, a.A.M, a.W.N)
	}
	return nil
}
