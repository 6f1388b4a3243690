package device

import (
	"testing"
	"time"

	"github.com/matmix/matmix/cuda/driver/drivertest"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/kernels/images"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenCUDAWithoutGPU: on a machine without a driver or a GPU, opening
// the device is a device error, not a panic.
func TestOpenCUDAWithoutGPU(t *testing.T) {
	d, err := OpenCUDA(0)
	if err == nil {
		t.Logf("a GPU is present: %s", d.Props().Name)
		require.NoError(t, d.Close())
		return
	}
	assert.ErrorIs(t, err, errs.ErrDevice)
	t.Log(err)
}

// openFake opens the device over the stand-in driver, loading its image.
func openFake(t *testing.T) Device {
	d := drivertest.Open(t)
	sel := func(major, minor int) ([]images.Image, error) {
		require.Equal(t, 9, major)
		require.Equal(t, 0, minor)
		return []images.Image{{Name: "fake", Data: []byte(drivertest.Image)}}, nil
	}
	_, err := openCUDA(d, 1, sel)
	assert.ErrorIs(t, err, errs.ErrArgument, "the stand-in has one device")
	dev, err := openCUDA(d, 0, sel)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dev.Close()) })
	return dev
}

func TestCUDADevice(t *testing.T) {
	d := openFake(t)
	assert.Equal(t, "cuda:0", d.Name())
	assert.Equal(t, "sm_90", d.Props().Arch())

	x := []float32{1, 2, 3, 4}
	y := []float32{-1, -2, -3, -4}
	px, err := Upload(d, x)
	require.NoError(t, err)
	py, err := Upload(d, y)
	require.NoError(t, err)
	pout, err := d.Alloc(24)
	require.NoError(t, err)
	s, err := d.NewStream()
	require.NoError(t, err)
	start, err := d.NewEvent()
	require.NoError(t, err)
	end, err := d.NewEvent()
	require.NoError(t, err)

	require.NoError(t, d.Record(start, s))
	// The stand-in's saxpy(y, x, a, n, out): y += a*x over n elements, and
	// out = {grid.x, block.x, smem}; 100 KiB needs the opt-in attribute,
	// which Launch sets.
	err = d.Launch("saxpy", D1(2), D1(64), 100<<10, s, PtrArg(py), PtrArg(px), Float32Arg(2), Int32Arg(3), PtrArg(pout))
	require.NoError(t, err)
	require.NoError(t, d.Record(end, s))
	require.NoError(t, d.Sync(s))
	el, err := d.Elapsed(start, end)
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Microsecond, el)

	require.NoError(t, Download(d, y, py))
	assert.Equal(t, []float32{1, 2, 3, -4}, y, "n = 3 elements updated")
	out := make([]int64, 3)
	require.NoError(t, Download(d, out, pout))
	assert.Equal(t, []int64{2, 64, 100 << 10}, out)

	err = d.Launch("nope", D1(1), D1(1), 0, s)
	assert.ErrorIs(t, err, errs.ErrUnsupported)
	err = d.Launch("saxpy", D1(1), D1(2048), 0, s)
	assert.ErrorIs(t, err, errs.ErrLimit)
	err = d.Launch("saxpy", D1(1), D1(32), 228<<10, s)
	assert.ErrorIs(t, err, errs.ErrLimit)
	err = d.Launch("saxpy", D3(1, 0, 1), D1(32), 0, s)
	assert.ErrorIs(t, err, errs.ErrArgument)

	require.NoError(t, d.MemsetAsync(py, 0, 16, s))
	require.NoError(t, d.CopyDtoDAsync(px, py, 8, s))
	require.NoError(t, d.CopyDtoHAsync(Bytes(x), px, s))
	assert.Equal(t, []float32{0, 0, 3, 4}, x)
	for _, p := range []Ptr{px, py, pout} {
		require.NoError(t, d.FreeAsync(p, s))
	}
	require.NoError(t, d.DestroyEvent(start))
	require.NoError(t, d.DestroyEvent(end))
	require.NoError(t, d.DestroyStream(s))
}

func TestArgs(t *testing.T) {
	assert.Equal(t, uint64(0xffffffff), Int32Arg(-1).Bits(), "an int fills the low 4 bytes only")
	assert.Equal(t, uint64(0x3f800000), Float32Arg(1).Bits())
	assert.Equal(t, ^uint64(0), Int64Arg(-1).Bits())
	assert.Equal(t, uint64(0x3ff0000000000000), Float64Arg(1).Bits())
	assert.Equal(t, uint64(0x1000), PtrArg(0x1000).Bits())
	assert.Equal(t, Ptr(0x1010), Ptr(0x1000).Add(16))
	assert.Equal(t, []byte{0, 0, 0x80, 0x3f}, Bytes([]float32{1}))
	assert.Nil(t, Bytes([]int32{}))
}
