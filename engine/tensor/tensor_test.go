package tensor

import (
	"math"
	"testing"

	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestViewsShareStorage(t *testing.T) {
	data := []float32{1, 2, 3, 4, 5, 6}
	x, err := FromFloat32(data, 2, 3)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3}, x.Shape())
	assert.Equal(t, 6, x.Len())
	assert.Equal(t, 3, x.Dim(-1))
	x.Float32()[4] = -9
	assert.Equal(t, float32(-9), data[4], "a view must not copy")

	y, err := x.Reshape(3, 2)
	require.NoError(t, err)
	y.Float32()[0] = 7
	assert.Equal(t, float32(7), data[0])
	assert.Equal(t, []int{2, 3}, x.Shape(), "reshape leaves the original's shape")

	c := x.Clone()
	c.Float32()[1] = 100
	assert.Equal(t, float32(2), data[1], "clone owns its storage")
}

func TestShapeErrors(t *testing.T) {
	_, err := New(Float32, 2, -1)
	assert.ErrorIs(t, err, errs.ErrShape)
	_, err = New(Float32, 1<<30, 1<<30)
	assert.ErrorIs(t, err, errs.ErrLimit)
	_, err = FromFloat64(make([]float64, 5), 2, 3)
	assert.ErrorIs(t, err, errs.ErrShape)
	_, err = New(Invalid, 2)
	assert.ErrorIs(t, err, errs.ErrDType)
	x, _ := New(Float32, 2, 3)
	_, err = x.Reshape(4, 2)
	assert.ErrorIs(t, err, errs.ErrShape)
	i4, _ := New(Int4, 2, 4)
	_, err = i4.Reshape(4, 2)
	assert.ErrorIs(t, err, errs.ErrShape, "int4 keeps its packed last axis")
}

func TestNewEveryDType(t *testing.T) {
	for d := Float32; d <= Int4; d++ {
		x, err := New(d, 3, 5)
		require.NoError(t, err, d.String())
		assert.Equal(t, d, x.DType())
		assert.True(t, d.Valid())
		p, ok := ParseDType(d.String())
		assert.True(t, ok)
		assert.Equal(t, d, p)
	}
	x, _ := New(Int4, 3, 5)
	assert.Len(t, x.Int4Packed(), 9, "3 rows of ceil(5/2) bytes")
	_, ok := ParseDType("complex64")
	assert.False(t, ok)
	assert.Equal(t, "dtype(200)", DType(200).String())
}

type fakeBuffer int64

func (b fakeBuffer) Device() string { return "fake:0" }
func (b fakeBuffer) Bytes() int64   { return int64(b) }

func TestOnDevice(t *testing.T) {
	x, err := OnDevice(Float32, fakeBuffer(24), 2, 3)
	require.NoError(t, err)
	assert.False(t, x.OnHost())
	assert.Nil(t, x.Float32())
	assert.Contains(t, x.String(), "fake:0")
	_, err = x.AsFloat64()
	assert.ErrorIs(t, err, errs.ErrDType)
	_, err = OnDevice(Float32, fakeBuffer(20), 2, 3)
	assert.ErrorIs(t, err, errs.ErrShape)
}

func TestFloatConversions(t *testing.T) {
	vals := []float64{1.5, -2.25, 3.0e-3, 1024}
	for _, d := range []DType{Float32, Float64, Float16, BFloat16} {
		x, err := New(d, 4)
		require.NoError(t, err)
		x.FillNaN()
		got, err := x.AsFloat64()
		require.NoError(t, err)
		for _, v := range got {
			assert.True(t, math.IsNaN(v), "%v poisoned", d)
		}
		require.NoError(t, x.SetFromFloat64(vals))
		got, err = x.AsFloat64()
		require.NoError(t, err)
		for i := range vals {
			assert.InEpsilon(t, vals[i], got[i], 1e-2, "%v value %d", d, i)
		}
		assert.ErrorIs(t, x.SetFromFloat64(vals[:3]), errs.ErrShape)
	}
	i8, _ := New(Int8, 2)
	_, err := i8.AsFloat64()
	assert.ErrorIs(t, err, errs.ErrDType)
}

func TestBF16RoundsToNearestEven(t *testing.T) {
	// 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
	assert.Equal(t, float32(1), ToBF16(1+1.0/256).Float32())
	// 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even).
	assert.Equal(t, float32(1+1.0/64), ToBF16(1+3.0/256).Float32())
	assert.Equal(t, float32(1+1.0/128), ToBF16(1+1.0/128+1.0/1024).Float32())
	assert.True(t, math.IsNaN(float64(ToBF16(float32(math.NaN())).Float32())))
	assert.True(t, math.IsInf(float64(ToBF16(float32(math.Inf(-1))).Float32()), -1))
	assert.Equal(t, float32(0.5), ToF16(0.5).Float32())
}

func TestInt4PackRoundTrip(t *testing.T) {
	codes := []int8{1, -1, 7, -8, 0, 3, -7, 5, 2}
	for _, cols := range []int{3, 9} {
		p := PackInt4(codes, cols)
		assert.Len(t, p, len(codes)/cols*((cols+1)/2))
		assert.Equal(t, codes, UnpackInt4(p, len(codes)/cols, cols))
	}
	assert.Equal(t, []byte{0xf1, 0x07}, PackInt4([]int8{1, -1, 7}, 3), "even k in the low nibble")
	assert.Nil(t, PackInt4(nil, 0))
}
