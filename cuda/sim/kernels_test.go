//go:build cudasim

package sim

import (
	"testing"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMonarchThroughWrapper runs the generated wrapper on a 1x1 Monarch
// (k=q=p=l=s=r=1): y = w2 * w1 * x, so every argument must arrive in place.
func TestMonarchThroughWrapper(t *testing.T) {
	d := open(t)
	x, err := device.Upload(d, []float32{3, -2})
	require.NoError(t, err)
	w1, err := device.Upload(d, []float32{0.5})
	require.NoError(t, err)
	w2, err := device.Upload(d, []float32{-4})
	require.NoError(t, err)
	y, err := d.Alloc(8)
	require.NoError(t, err)
	require.NoError(t, kernels.MonarchFwdF32(d, 0, device.D1(2), device.D1(32), 4, x, w1, w2, y, 2, 1, 1, 1, 1, 1, 1))
	got := make([]float32, 2)
	require.NoError(t, device.Download(d, got, y))
	assert.Equal(t, []float32{-6, 4}, got)
}

// TestFaultReachesGo: a kernel writing past its buffer (a y one row too
// short) fails the launch, or the free, with the simulator's message, as
// an errs.ErrDevice error.
func TestFaultReachesGo(t *testing.T) {
	if ASan() {
		t.Skip("under AddressSanitizer the out-of-bounds write aborts the process by design (mmsim.h); the guard-zone path is tested without -asan")
	}
	d, err := Open()
	require.NoError(t, err)
	x, err := device.Upload(d, []float32{1, 2, 3, 4})
	require.NoError(t, err)
	w1, err := device.Upload(d, []float32{1})
	require.NoError(t, err)
	w2, err := device.Upload(d, []float32{1})
	require.NoError(t, err)
	y, err := d.Alloc(3 * 4) // batch 4 needs 4 floats
	require.NoError(t, err)
	err = kernels.MonarchFwdF32(d, 0, device.D1(1), device.D1(32), 4, x, w1, w2, y, 4, 1, 1, 1, 1, 1, 1)
	if err == nil {
		err = d.Free(y)
	}
	require.Error(t, err, "the write past y must be caught")
	assert.ErrorIs(t, err, errs.ErrDevice)
	t.Log(err)
	assert.Error(t, d.Close(), "closing frees y, whose guard zone was overwritten")
}
