// Package gorgonia adapts gorgonia.org/tensor dense tensors to matmix
// tensors and back, without copying: both sides view the same Go slice, so a
// write through one is seen through the other. It lives outside the engine
// core so that only programs that use gorgonia link it.
//
// Supported dtypes: float32, float64, int8, int32 and int64 (gorgonia has no
// float16, bfloat16 or int4). The Dense must be C-contiguous (row-major,
// unit innermost stride, not a lazy transpose, not masked) and live in Go
// memory; a strided view or a column-major Dense is refused rather than
// copied, since a copy would break the sharing the caller relies on (call
// Materialize first to get a contiguous copy explicitly). Rank-0 tensors
// are refused on both sides: gorgonia returns a scalar Dense's value, not
// its storage, so one could not be shared. Empty tensors cannot be handed
// to gorgonia (v0.9.24 panics building a Dense with a zero dimension).
//
// gorgonia.org/tensor v0.9.24 pulls in go4.org/unsafe/assume-no-moving-gc,
// whose old versions panic at start-up on Go releases newer than they know;
// go.mod must keep requiring its latest pseudo-version.
package gorgonia

import (
	gt "gorgonia.org/tensor"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

const (
	opFrom = "gorgonia.FromDense"
	opTo   = "gorgonia.ToDense"
)

// FromDense views d as a matmix tensor sharing its storage.
func FromDense(d *gt.Dense) (*tensor.Tensor, error) {
	if d == nil {
		return nil, errs.Argument(opFrom, "nil Dense")
	}
	shape := []int(d.Shape().Clone())
	if len(shape) == 0 || d.IsScalar() {
		return nil, errs.Shape(opFrom, "rank-0 Dense has no storage to share; reshape it to (1)")
	}
	if !d.IsNativelyAccessible() || d.IsManuallyManaged() {
		return nil, errs.Argument(opFrom, "Dense %v lives outside Go memory", shape)
	}
	if d.IsMasked() {
		return nil, errs.Argument(opFrom, "masked Dense %v: a matmix tensor has no mask", shape)
	}
	if err := checkCContiguous(d, shape); err != nil {
		return nil, err
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	switch d.Dtype() {
	case gt.Float32:
		return view(d, n, shape, tensor.FromFloat32)
	case gt.Float64:
		return view(d, n, shape, tensor.FromFloat64)
	case gt.Int8:
		return view(d, n, shape, tensor.FromInt8)
	case gt.Int32:
		return view(d, n, shape, tensor.FromInt32)
	case gt.Int64:
		return view(d, n, shape, tensor.FromInt64)
	}
	return nil, errs.DType(opFrom, "gorgonia dtype %v is not supported (want float32, float64, int8, int32 or int64)", d.Dtype())
}

// checkCContiguous accepts only a Dense whose elements lie in row-major
// order one after another from the start of its storage.
func checkCContiguous(d *gt.Dense, shape []int) error {
	o := d.DataOrder()
	if o.IsColMajor() {
		return errs.Argument(opFrom, "column-major Dense %v is not supported; materialize it in row-major order", shape)
	}
	// A pending transpose (T without Transpose) or a strided slice needs an
	// iterator to be read in order.
	if d.RequiresIterator() || o.IsNotContiguous() {
		return errs.Argument(opFrom, "Dense %v with strides %v is not C-contiguous; call Materialize first", shape, d.Strides())
	}
	strides := d.Strides()
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		// The stride of a dimension of size 1 never moves.
		if shape[i] > 1 && (i >= len(strides) || strides[i] != want) {
			return errs.Argument(opFrom, "Dense %v with strides %v is not C-contiguous; call Materialize first", shape, strides)
		}
		want *= shape[i]
	}
	return nil
}

// view shares the first n elements of d's storage as a matmix tensor.
func view[T any](d *gt.Dense, n int, shape []int, from func([]T, ...int) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	s, ok := d.Data().([]T)
	if !ok || len(s) < n {
		return nil, errs.Shape(opFrom, "Dense %v holds %d values, needs %d", shape, len(s), n)
	}
	return from(s[:n:n], shape...)
}

// ToDense views t as a gorgonia Dense sharing its storage.
func ToDense(t *tensor.Tensor) (*gt.Dense, error) {
	if t == nil {
		return nil, errs.Argument(opTo, "nil tensor")
	}
	if !t.OnHost() {
		return nil, errs.Argument(opTo, "%v is on a device; copy it to the host first", t)
	}
	if t.Rank() == 0 {
		return nil, errs.Shape(opTo, "rank-0 tensors are not supported; reshape to (1)")
	}
	if t.Len() == 0 {
		return nil, errs.Shape(opTo, "gorgonia cannot hold the empty tensor %v", t.Shape())
	}
	var data any
	switch t.DType() {
	case tensor.Float32:
		data = t.Float32()
	case tensor.Float64:
		data = t.Float64()
	case tensor.Int8:
		data = t.Int8()
	case tensor.Int32:
		data = t.Int32()
	case tensor.Int64:
		data = t.Int64()
	default:
		return nil, errs.DType(opTo, "%v has no gorgonia dtype (want float32, float64, int8, int32 or int64)", t.DType())
	}
	return gt.New(gt.WithShape(t.Shape()...), gt.WithBacking(data)), nil
}
