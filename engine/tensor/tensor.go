// Package tensor holds matmix's small dense tensor type: a dtype, a shape in
// row-major (C) order and storage that is either a Go slice on the host
// (viewed without copying) or a buffer owned by a device backend.
package tensor

import (
	"fmt"
	"math"
	"slices"

	"github.com/matmix/matmix/engine/errs"
	"github.com/x448/float16"
)

// Buffer is device-resident storage. Device backends implement it; the
// tensor only carries it.
type Buffer interface {
	// Device names where the memory lives, e.g. "cuda:0".
	Device() string
	// Bytes is the buffer's size.
	Bytes() int64
}

// Tensor is a dense row-major array. The zero value is not usable; build one
// with New, a From* view or OnDevice.
type Tensor struct {
	dtype DType
	shape []int
	n     int    // number of elements
	data  any    // host storage: []float32, []float64, []F16, []BF16, []int8, []int32, []int64, []byte (Int4)
	buf   Buffer // device storage; nil on the host
}

// MaxElements bounds the element count of one tensor, so sizes stay in int
// range and byte counts do not overflow.
const MaxElements = 1 << 46

// NumElements checks a shape and returns its element count.
func NumElements(shape []int) (int, error) {
	n := 1
	for i, d := range shape {
		if d < 0 {
			return 0, errs.Shape("tensor", "dimension %d is negative (%d) in shape %v", i, d, shape)
		}
		if d != 0 && n > MaxElements/d {
			return 0, errs.Limit("tensor", "shape %v has more than 2^46 elements", shape)
		}
		n *= d
	}
	return n, nil
}

// storageLen is the slice length the storage of a shape needs.
func storageLen(dt DType, shape []int, n int) int {
	if dt != Int4 {
		return n
	}
	if len(shape) == 0 {
		return 1
	}
	last := shape[len(shape)-1]
	if last == 0 {
		return 0
	}
	return n / last * ((last + 1) / 2)
}

// New allocates a zeroed host tensor.
func New(dt DType, shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	l := storageLen(dt, shape, n)
	var data any
	switch dt {
	case Float32:
		data = make([]float32, l)
	case Float64:
		data = make([]float64, l)
	case Float16:
		data = make([]F16, l)
	case BFloat16:
		data = make([]BF16, l)
	case Int8:
		data = make([]int8, l)
	case Int32:
		data = make([]int32, l)
	case Int64:
		data = make([]int64, l)
	case Int4:
		data = make([]byte, l)
	default:
		return nil, errs.DType("tensor.New", "unknown dtype %v", dt)
	}
	return &Tensor{dtype: dt, shape: slices.Clone(shape), n: n, data: data}, nil
}

func view[T any](dt DType, data []T, shape []int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if want := storageLen(dt, shape, n); len(data) != want {
		return nil, errs.Shape("tensor", "%d %v values cannot be viewed as shape %v (needs %d)", len(data), dt, shape, want)
	}
	return &Tensor{dtype: dt, shape: slices.Clone(shape), n: n, data: data}, nil
}

// FromFloat32 views data (not copied) as a float32 tensor of the given shape.
func FromFloat32(data []float32, shape ...int) (*Tensor, error) { return view(Float32, data, shape) }

// FromFloat64 views data as a float64 tensor.
func FromFloat64(data []float64, shape ...int) (*Tensor, error) { return view(Float64, data, shape) }

// FromFloat16 views data as a float16 tensor.
func FromFloat16(data []F16, shape ...int) (*Tensor, error) { return view(Float16, data, shape) }

// FromBFloat16 views data as a bfloat16 tensor.
func FromBFloat16(data []BF16, shape ...int) (*Tensor, error) { return view(BFloat16, data, shape) }

// FromInt8 views data as an int8 tensor.
func FromInt8(data []int8, shape ...int) (*Tensor, error) { return view(Int8, data, shape) }

// FromInt32 views data as an int32 tensor.
func FromInt32(data []int32, shape ...int) (*Tensor, error) { return view(Int32, data, shape) }

// FromInt64 views data as an int64 tensor.
func FromInt64(data []int64, shape ...int) (*Tensor, error) { return view(Int64, data, shape) }

// FromInt4Packed views packed int4 codes (see Int4) as a tensor of the given
// logical shape; each row along the last axis takes ceil(last/2) bytes.
func FromInt4Packed(data []byte, shape ...int) (*Tensor, error) { return view(Int4, data, shape) }

// OnDevice wraps device storage as a tensor. The buffer must hold the shape.
func OnDevice(dt DType, buf Buffer, shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	need := int64(storageLen(dt, shape, n)) * int64(max(dt.Bits(), 8)) / 8
	if buf == nil || buf.Bytes() < need {
		return nil, errs.Shape("tensor.OnDevice", "buffer too small for %v %v", dt, shape)
	}
	return &Tensor{dtype: dt, shape: slices.Clone(shape), n: n, buf: buf}, nil
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Rank is the number of axes.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len is the number of elements.
func (t *Tensor) Len() int { return t.n }

// OnHost reports whether the storage is a host slice.
func (t *Tensor) OnHost() bool { return t.buf == nil }

// Buffer returns the device storage, or nil on the host.
func (t *Tensor) Buffer() Buffer { return t.buf }

// Data returns the host slice backing the tensor (nil on a device).
func (t *Tensor) Data() any { return t.data }

// Float32 returns the backing slice of a float32 host tensor, else nil.
func (t *Tensor) Float32() []float32 { s, _ := t.data.([]float32); return s }

// Float64 returns the backing slice of a float64 host tensor, else nil.
func (t *Tensor) Float64() []float64 { s, _ := t.data.([]float64); return s }

// Float16 returns the backing slice of a float16 host tensor, else nil.
func (t *Tensor) Float16() []F16 { s, _ := t.data.([]F16); return s }

// BFloat16 returns the backing slice of a bfloat16 host tensor, else nil.
func (t *Tensor) BFloat16() []BF16 { s, _ := t.data.([]BF16); return s }

// Int8 returns the backing slice of an int8 host tensor, else nil.
func (t *Tensor) Int8() []int8 { s, _ := t.data.([]int8); return s }

// Int32 returns the backing slice of an int32 host tensor, else nil.
func (t *Tensor) Int32() []int32 { s, _ := t.data.([]int32); return s }

// Int64 returns the backing slice of an int64 host tensor, else nil.
func (t *Tensor) Int64() []int64 { s, _ := t.data.([]int64); return s }

// Int4Packed returns the packed bytes of an int4 host tensor, else nil.
func (t *Tensor) Int4Packed() []byte {
	if t.dtype != Int4 {
		return nil
	}
	s, _ := t.data.([]byte)
	return s
}

// Reshape returns a view with a new shape of the same element count.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != t.n {
		return nil, errs.Shape("tensor.Reshape", "cannot reshape %v to %v", t.shape, shape)
	}
	if t.dtype == Int4 && len(shape) > 0 && len(t.shape) > 0 && shape[len(shape)-1] != t.shape[len(t.shape)-1] {
		return nil, errs.Shape("tensor.Reshape", "int4 tensors keep their last axis (%v to %v)", t.shape, shape)
	}
	v := *t
	v.shape = slices.Clone(shape)
	return &v, nil
}

// String describes the tensor without its values.
func (t *Tensor) String() string {
	where := "host"
	if t.buf != nil {
		where = t.buf.Device()
	}
	return fmt.Sprintf("Tensor(%v %v on %s)", t.dtype, t.shape, where)
}

// Clone returns a host copy with its own storage.
func (t *Tensor) Clone() *Tensor {
	c := *t
	c.shape = slices.Clone(t.shape)
	switch d := t.data.(type) {
	case []float32:
		c.data = slices.Clone(d)
	case []float64:
		c.data = slices.Clone(d)
	case []F16:
		c.data = slices.Clone(d)
	case []BF16:
		c.data = slices.Clone(d)
	case []int8:
		c.data = slices.Clone(d)
	case []int32:
		c.data = slices.Clone(d)
	case []int64:
		c.data = slices.Clone(d)
	case []byte:
		c.data = slices.Clone(d)
	}
	return &c
}

// AsFloat64 returns the values of a floating-point host tensor widened to
// float64 (a copy; the backing slice itself for float64).
func (t *Tensor) AsFloat64() ([]float64, error) {
	switch d := t.data.(type) {
	case []float64:
		return d, nil
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []F16:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
		return out, nil
	case []BF16:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
		return out, nil
	}
	return nil, errs.DType("tensor", "%v is not a floating-point host tensor", t)
}

// SetFromFloat64 stores values (rounded to the tensor's float dtype) into a
// floating-point host tensor of the same length.
func (t *Tensor) SetFromFloat64(v []float64) error {
	if len(v) != t.n {
		return errs.Shape("tensor", "%d values for %v", len(v), t)
	}
	switch d := t.data.(type) {
	case []float64:
		copy(d, v)
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []F16:
		for i, x := range v {
			d[i] = ToF16(float32(x))
		}
	case []BF16:
		for i, x := range v {
			d[i] = ToBF16(float32(x))
		}
	default:
		return errs.DType("tensor", "%v is not a floating-point host tensor", t)
	}
	return nil
}

// FillNaN poisons a floating-point host tensor with NaN (tests do this to
// outputs before a kernel runs, so an unwritten element shows).
func (t *Tensor) FillNaN() {
	nan := math.NaN()
	switch d := t.data.(type) {
	case []float64:
		for i := range d {
			d[i] = nan
		}
	case []float32:
		for i := range d {
			d[i] = float32(nan)
		}
	case []F16:
		for i := range d {
			d[i] = float16.NaN()
		}
	case []BF16:
		for i := range d {
			d[i] = ToBF16(float32(nan))
		}
	}
}
