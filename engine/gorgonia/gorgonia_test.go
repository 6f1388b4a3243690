package gorgonia

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gt "gorgonia.org/tensor"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// sameStorage reports whether two slices start at the same address.
func sameStorage[T any](a, b []T) bool {
	return len(a) > 0 && len(b) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

func randomInts[T int8 | int32 | int64](t *testing.T, n int) []T {
	r := check.NewRand(t)
	s := make([]T, n)
	for i := range s {
		s[i] = T(r.IntN(100) + 1)
	}
	return s
}

// testShared checks both directions of the adapter on one dtype: shape,
// dtype, values and that a write on either side shows on the other.
func testShared[T float32 | float64 | int8 | int32 | int64](t *testing.T, data []T, get func(*tensor.Tensor) []T, dt tensor.DType, gdt gt.Dtype) {
	shape := []int{2, 3, 4}
	d := gt.New(gt.WithShape(shape...), gt.WithBacking(data))
	x, err := FromDense(d)
	require.NoError(t, err)
	require.Equal(t, dt, x.DType())
	require.Equal(t, shape, x.Shape())
	require.True(t, sameStorage(get(x), data), "FromDense copied")

	get(x)[5] = 42
	v, err := d.At(0, 1, 1)
	require.NoError(t, err)
	require.Equal(t, T(42), v)
	require.NoError(t, d.SetAt(T(7), 1, 2, 3))
	require.Equal(t, T(7), get(x)[23])

	back, err := ToDense(x)
	require.NoError(t, err)
	require.Equal(t, gdt, back.Dtype())
	require.Equal(t, gt.Shape(shape), back.Shape())
	require.True(t, sameStorage(back.Data().([]T), data), "ToDense copied")
	get(x)[0] = 9
	v, err = back.At(0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, T(9), v)
}

func TestSharedStorage(t *testing.T) {
	r := check.NewRand(t)
	t.Run("float32", func(t *testing.T) {
		testShared(t, check.Float32s(check.Uniform(r, 24)), (*tensor.Tensor).Float32, tensor.Float32, gt.Float32)
	})
	t.Run("float64", func(t *testing.T) {
		testShared(t, check.Uniform(r, 24), (*tensor.Tensor).Float64, tensor.Float64, gt.Float64)
	})
	t.Run("int8", func(t *testing.T) {
		testShared(t, randomInts[int8](t, 24), (*tensor.Tensor).Int8, tensor.Int8, gt.Int8)
	})
	t.Run("int32", func(t *testing.T) {
		testShared(t, randomInts[int32](t, 24), (*tensor.Tensor).Int32, tensor.Int32, gt.Int32)
	})
	t.Run("int64", func(t *testing.T) {
		testShared(t, randomInts[int64](t, 24), (*tensor.Tensor).Int64, tensor.Int64, gt.Int64)
	})
}

func TestToDenseFromTensor(t *testing.T) {
	r := check.NewRand(t)
	x, err := tensor.FromFloat64(check.Uniform(r, 6), 3, 2)
	require.NoError(t, err)
	d, err := ToDense(x)
	require.NoError(t, err)
	require.True(t, sameStorage(d.Data().([]float64), x.Float64()))
	y, err := FromDense(d)
	require.NoError(t, err)
	require.True(t, sameStorage(y.Float64(), x.Float64()), "round trip shares the original slice")
	require.Equal(t, x.Shape(), y.Shape())
	// gorgonia arithmetic in place lands in the matmix tensor.
	want := make([]float64, 6)
	for i, v := range x.Float64() {
		want[i] = 2 * v
	}
	_, err = d.MulScalar(2.0, true, gt.UseUnsafe())
	require.NoError(t, err)
	require.Equal(t, want, x.Float64())
}

func TestContiguousRowSlice(t *testing.T) {
	r := check.NewRand(t)
	data := check.Float32s(check.Uniform(r, 12))
	d := gt.New(gt.WithShape(4, 3), gt.WithBacking(data))
	v, err := d.Slice(gt.S(1, 3))
	require.NoError(t, err)
	x, err := FromDense(v.(*gt.Dense))
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, x.Shape())
	require.Equal(t, data[3:9], x.Float32())
	require.True(t, sameStorage(x.Float32(), data[3:]))
	require.Equal(t, 6, cap(x.Float32()), "the view cannot reach past its rows")
}

func TestRefused(t *testing.T) {
	r := check.NewRand(t)
	mk := func() *gt.Dense { return gt.New(gt.WithShape(4, 3), gt.WithBacking(check.Uniform(r, 12))) }

	col, err := mk().Slice(nil, gt.S(1, 2))
	require.NoError(t, err)
	lazyT := mk()
	require.NoError(t, lazyT.T())
	fortran := gt.New(gt.WithShape(2, 3), gt.WithBacking(check.Uniform(r, 6)), gt.AsFortran(nil))
	masked := gt.New(gt.WithShape(2), gt.WithBacking([]float64{1, 2}, []bool{true, false}))
	scalar := gt.New(gt.WithShape(), gt.WithBacking([]float64{3}))
	cases := []struct {
		name string
		d    *gt.Dense
		kind error
	}{
		{"nil", nil, errs.ErrArgument},
		{"strided column", col.(*gt.Dense), errs.ErrArgument},
		{"lazy transpose", lazyT, errs.ErrArgument},
		{"column major", fortran, errs.ErrArgument},
		{"masked", masked, errs.ErrArgument},
		{"scalar", scalar, errs.ErrShape},
		{"uint8", gt.New(gt.WithShape(2), gt.WithBacking([]uint8{1, 2})), errs.ErrDType},
		{"bool", gt.New(gt.WithShape(2), gt.WithBacking([]bool{true, false})), errs.ErrDType},
		{"complex64", gt.New(gt.WithShape(1), gt.WithBacking([]complex64{1})), errs.ErrDType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, err := FromDense(c.d)
			require.ErrorIs(t, err, c.kind)
			require.Nil(t, x)
			assert.NotContains(t, err.Error(), "\n")
		})
	}

	// A transpose carried out (data moved) is contiguous again.
	done := mk()
	require.NoError(t, done.T())
	require.NoError(t, done.Transpose())
	x, err := FromDense(done)
	require.NoError(t, err)
	require.Equal(t, []int{3, 4}, x.Shape())
	v, err := done.At(2, 1)
	require.NoError(t, err)
	require.Equal(t, v, x.Float64()[2*4+1])
}

type deviceBuf struct{}

func (deviceBuf) Device() string { return "fake:0" }
func (deviceBuf) Bytes() int64   { return 1 << 20 }

func TestToDenseRefused(t *testing.T) {
	newT := func(dt tensor.DType, shape ...int) *tensor.Tensor {
		x, err := tensor.New(dt, shape...)
		require.NoError(t, err)
		return x
	}
	dev, err := tensor.OnDevice(tensor.Float32, deviceBuf{}, 4)
	require.NoError(t, err)
	cases := []struct {
		name string
		x    *tensor.Tensor
		kind error
	}{
		{"nil", nil, errs.ErrArgument},
		{"device", dev, errs.ErrArgument},
		{"rank 0", newT(tensor.Float32), errs.ErrShape},
		{"empty", newT(tensor.Float32, 0, 3), errs.ErrShape},
		{"float16", newT(tensor.Float16, 2), errs.ErrDType},
		{"bfloat16", newT(tensor.BFloat16, 2), errs.ErrDType},
		{"int4", newT(tensor.Int4, 2, 2), errs.ErrDType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ToDense(c.x)
			require.ErrorIs(t, err, c.kind)
			require.Nil(t, d)
		})
	}
}

// TestMonarchThroughAdapter runs the engine on gorgonia tensors: inputs
// and a gorgonia-owned output shared with the engine, checked against the
// float64 reference.
func TestMonarchThroughAdapter(t *testing.T) {
	r := check.NewRand(t)
	dims := ref.MonarchDims{Batch: 3, K: 4, Q: 3, P: 5, L: 2, S: 7, R: 6} // L*R = K*Q
	xs := check.Uniform(r, dims.Batch*dims.N())
	w1s := check.Uniform(r, dims.K*dims.Q*dims.P)
	w2s := check.Uniform(r, dims.L*dims.S*dims.R)
	want := make([]float64, dims.Batch*dims.M())
	ref.MonarchForward(dims, xs, w1s, w2s, want)

	e, err := engine.Open(engine.WithBackend("cpu"))
	require.NoError(t, err)
	defer e.Close()
	ctx := context.Background()

	for _, dt := range []gt.Dtype{gt.Float64, gt.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			dense := func(v []float64, shape ...int) *gt.Dense {
				if dt == gt.Float32 {
					return gt.New(gt.WithShape(shape...), gt.WithBacking(check.Float32s(v)))
				}
				return gt.New(gt.WithShape(shape...), gt.WithBacking(append([]float64(nil), v...)))
			}
			x, err := FromDense(dense(xs, dims.Batch, dims.N()))
			require.NoError(t, err)
			w1, err := FromDense(dense(w1s, dims.K, dims.Q, dims.P))
			require.NoError(t, err)
			w2, err := FromDense(dense(w2s, dims.L, dims.S, dims.R))
			require.NoError(t, err)

			tol := 1e-12
			if dt == gt.Float32 {
				tol = 1e-5
			}
			y, err := e.Monarch(ctx, x, w1, w2)
			require.NoError(t, err)
			yd, err := ToDense(y)
			require.NoError(t, err)
			require.Equal(t, gt.Shape{dims.Batch, dims.M()}, yd.Shape())
			require.Less(t, check.RelFrobenius(denseFloat64s(t, yd), want), tol)

			// The engine writes straight into gorgonia's memory.
			out := gt.New(gt.Of(dt), gt.WithShape(dims.Batch, dims.M()))
			yo, err := FromDense(out)
			require.NoError(t, err)
			yo.FillNaN()
			require.NoError(t, e.MonarchInto(ctx, yo, x, w1, w2))
			require.Less(t, check.RelFrobenius(denseFloat64s(t, out), want), tol)
		})
	}
}

func denseFloat64s(t *testing.T, d *gt.Dense) []float64 {
	switch s := d.Data().(type) {
	case []float64:
		return s
	case []float32:
		return check.Float64s(s)
	}
	t.Fatalf("unexpected dtype %v", d.Dtype())
	return nil
}

// TestEngineCoreDoesNotImportGorgonia keeps gorgonia out of every program
// that does not ask for this adapter.
func TestEngineCoreDoesNotImportGorgonia(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/matmix/matmix/engine").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "github.com/matmix/matmix/engine/tensor")
	require.NotContains(t, string(out), "gorgonia.org")
}

// TestAssumeNoMovingGCIsCurrent guards the go.mod requirement the package
// doc explains: an older go4.org/unsafe/assume-no-moving-gc panics at
// start-up on this Go (then this test binary would not even start; the check
// names the cause). Test binaries carry no dependency list, so ask go list.
func TestAssumeNoMovingGCIsCurrent(t *testing.T) {
	const path, minVersion = "go4.org/unsafe/assume-no-moving-gc", "v0.0.0-20231121144256-b99613f794b6"
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{with .Replace}}{{.Version}}{{end}}", path).CombinedOutput()
	require.NoError(t, err, string(out))
	f := strings.Fields(string(out))
	require.NotEmpty(t, f)
	v := f[len(f)-1] // the replacement's version, if any
	// Pseudo-versions of v0.0.0 order by their timestamp.
	require.True(t, strings.HasPrefix(v, "v0.0.0-") && v >= minVersion, "%s is %s, want >= %s", path, v, minVersion)
}
