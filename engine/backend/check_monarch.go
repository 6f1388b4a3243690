package backend

import (
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// CheckMonarchInputs validates the inputs of a Monarch product: x (batch, n),
// w1 (k, q, p), w2 (l, s, r) of one float dtype, with n = k*p, l*r = k*q and
// no block size zero. op names the operation in the error.
func CheckMonarchInputs(op string, x, w1, w2 *tensor.Tensor) error {
	if err := checkMonarchOperand(op, "x", x, 2); err != nil {
		return err
	}
	if err := checkMonarchOperand(op, "w1", w1, 3); err != nil {
		return err
	}
	if err := checkMonarchOperand(op, "w2", w2, 3); err != nil {
		return err
	}
	if !x.DType().IsFloat() {
		return errs.DType(op, "x is %v, want float32, float64, float16 or bfloat16", x.DType())
	}
	if w1.DType() != x.DType() || w2.DType() != x.DType() {
		return errs.DType(op, "operands must share one dtype: x %v, w1 %v, w2 %v", x.DType(), w1.DType(), w2.DType())
	}
	for _, w := range []struct {
		name string
		t    *tensor.Tensor
	}{{"w1", w1}, {"w2", w2}} {
		for i := range 3 {
			if w.t.Dim(i) == 0 {
				return errs.Shape(op, "%s %v has an empty axis; block counts and sizes must be positive", w.name, w.t.Shape())
			}
		}
	}
	k, q, p := w1.Dim(0), w1.Dim(1), w1.Dim(2)
	l, r := w2.Dim(0), w2.Dim(2)
	if x.Dim(1) != k*p {
		return errs.Shape(op, "x %v has n=%d columns but w1 %v needs n = k*p = %d", x.Shape(), x.Dim(1), w1.Shape(), k*p)
	}
	if l*r != k*q {
		return errs.Shape(op, "w2 %v has l*r = %d but w1 %v has k*q = %d; they must be equal", w2.Shape(), l*r, w1.Shape(), k*q)
	}
	return nil
}

// CheckMonarch validates the arguments of a Monarch forward product: the
// inputs as in CheckMonarchInputs and y (batch, l*s) of x's dtype.
func CheckMonarch(a MonarchArgs) error {
	const op = "monarch"
	if err := CheckMonarchInputs(op, a.X, a.W1, a.W2); err != nil {
		return err
	}
	return checkMonarchLike(op, "y", a.Y, a.X.DType(), a.X.Dim(0), a.W2.Dim(0)*a.W2.Dim(1))
}

// CheckMonarchGrad validates the arguments of a Monarch backward product:
// the inputs as in CheckMonarchInputs, dy shaped as y, and each non-nil
// output shaped as the input it is the gradient of, all of one dtype.
func CheckMonarchGrad(a MonarchGradArgs) error {
	const op = "monarch backward"
	if err := CheckMonarchInputs(op, a.X, a.W1, a.W2); err != nil {
		return err
	}
	dt := a.X.DType()
	if err := checkMonarchLike(op, "dy", a.DY, dt, a.X.Dim(0), a.W2.Dim(0)*a.W2.Dim(1)); err != nil {
		return err
	}
	for _, g := range []struct {
		name   string
		t, ref *tensor.Tensor
	}{{"dx", a.DX, a.X}, {"dw1", a.DW1, a.W1}, {"dw2", a.DW2, a.W2}} {
		if g.t == nil {
			continue
		}
		if err := checkMonarchLike(op, g.name, g.t, dt, g.ref.Shape()...); err != nil {
			return err
		}
	}
	return nil
}

// checkMonarchOperand reports a nil operand or one of the wrong rank.
func checkMonarchOperand(op, name string, t *tensor.Tensor, rank int) error {
	if t == nil {
		return errs.Argument(op, "%s is nil", name)
	}
	if t.Rank() != rank {
		return errs.Shape(op, "%s must have rank %d, got shape %v", name, rank, t.Shape())
	}
	return nil
}

// checkMonarchLike reports a tensor that is nil or not of dtype dt and the given shape.
func checkMonarchLike(op, name string, t *tensor.Tensor, dt tensor.DType, shape ...int) error {
	if t == nil {
		return errs.Argument(op, "%s is nil", name)
	}
	if t.DType() != dt {
		return errs.DType(op, "%s is %v, want %v like the inputs", name, t.DType(), dt)
	}
	got := t.Shape()
	if len(got) != len(shape) {
		return errs.Shape(op, "%s has shape %v, want %v", name, got, shape)
	}
	for i := range got {
		if got[i] != shape[i] {
			return errs.Shape(op, "%s has shape %v, want %v", name, got, shape)
		}
	}
	return nil
}
