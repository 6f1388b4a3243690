package backend_test

import (
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegistered: importing the package registers "cuda"; opening it
// without a usable GPU (no driver, or a driver and no device) is a device
// error, never a panic.
func TestRegistered(t *testing.T) {
	f, ok := backend.Lookup("cuda")
	require.True(t, ok)
	b, err := f(0)
	if err == nil {
		t.Logf("opened %s", b.Name())
		require.NoError(t, b.Close())
		return
	}
	assert.ErrorIs(t, err, errs.ErrDevice)
	t.Log(err)
}

func f32(t *testing.T, shape ...int) *tensor.Tensor {
	x, err := tensor.New(tensor.Float32, shape...)
	require.NoError(t, err)
	return x
}

// TestUnsupported: what the backend does not implement is refused with
// errs.ErrUnsupported, and invalid arguments with their kind, before the
// device is touched (the backend here has no device at all).
func TestUnsupported(t *testing.T) {
	b := cudabackend.New(nil)
	ctx := t.Context()
	assert.ErrorIs(t, b.W4A4GEMM(ctx, backend.W4A4Args{}), errs.ErrArgument)
	_, err := b.SpGEMM32(ctx, nil, nil, backend.SpGEMMOptions{})
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = b.SpGEMM64(ctx, nil, nil, backend.SpGEMMOptions{})
	assert.ErrorIs(t, err, errs.ErrArgument)

	x64, err := tensor.New(tensor.Float64, 2, 4)
	require.NoError(t, err)
	w1, err := tensor.New(tensor.Float64, 2, 2, 2)
	require.NoError(t, err)
	y, err := tensor.New(tensor.Float64, 2, 4)
	require.NoError(t, err)
	err = b.MonarchForward(ctx, backend.MonarchArgs{X: x64, W1: w1, W2: w1, Y: y})
	assert.ErrorIs(t, err, errs.ErrUnsupported, "float64 monarch")
	err = b.MonarchBackward(ctx, backend.MonarchGradArgs{X: x64, W1: w1, W2: w1, DY: y, DX: x64})
	assert.ErrorIs(t, err, errs.ErrUnsupported, "float64 monarch backward")
	err = b.MonarchForward(ctx, backend.MonarchArgs{X: f32(t, 2, 5), W1: f32(t, 2, 2, 2), W2: f32(t, 2, 2, 2), Y: f32(t, 2, 4)})
	assert.ErrorIs(t, err, errs.ErrShape, "arguments are still validated")
	err = b.MonarchForward(ctx, backend.MonarchArgs{X: f32(t, 2, 4), W1: f32(t, 2, 2, 2), W2: f32(t, 2, 2, 2), Y: f32(t, 2, 4)})
	assert.ErrorIs(t, err, errs.ErrDevice, "valid arguments reach the missing device")
	q32, v32 := f32(t, 1, 3, 2, 4), f32(t, 1, 3, 2, 5)
	err = b.GLAForward(ctx, backend.GLAArgs{Q: q32, K: q32, V: v32, G: q32, O: v32, Form: backend.GLAChunked})
	assert.Error(t, err, "valid gla arguments: an error (no shared memory to plan with), not a panic")

	f64 := func(shape ...int) *tensor.Tensor {
		x, err := tensor.New(tensor.Float64, shape...)
		require.NoError(t, err)
		return x
	}
	q, v := f64(1, 3, 2, 4), f64(1, 3, 2, 5)
	a := backend.GLAArgs{Q: q, K: q, V: v, G: q, O: v, Form: backend.GLAChunked}
	assert.ErrorIs(t, b.GLAForward(ctx, a), errs.ErrUnsupported, "float64 gla")
	q, v = f64(3, 2, 4), f64(3, 2, 5)
	d := backend.GLADecodeArgs{Q: q, K: q, V: v, G: q, O: v, State: f32(t, 3, 2, 4, 5)}
	assert.ErrorIs(t, b.GLADecode(ctx, d), errs.ErrUnsupported, "float64 gla decode")
}
