//go:build cudasim

package sim

import (
	"math"
	"sync"
	"testing"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func open(t *testing.T) *Device {
	d, err := Open()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

func TestMemory(t *testing.T) {
	d := open(t)
	assert.Equal(t, "cuda:sim", d.Name())
	src := []float32{1, 2, 3, 4, 5}
	p, err := device.Upload(d, src)
	require.NoError(t, err)
	q, err := d.AllocAsync(20, 0)
	require.NoError(t, err)
	got := make([]float32, 5)
	require.NoError(t, device.Download(d, got, q))
	for _, v := range got {
		assert.True(t, math.IsNaN(float64(v)), "fresh simulator memory is NaN-poisoned")
	}
	require.NoError(t, d.CopyDtoD(q, p, 20))
	require.NoError(t, device.Download(d, got, q))
	assert.Equal(t, src, got)
	require.NoError(t, d.Memset(q.Add(4), 0, 8))
	require.NoError(t, device.Download(d, got, q))
	assert.Equal(t, []float32{1, 0, 0, 4, 5}, got)

	// Host-side copies stay inside one allocation, as the driver checks.
	err = d.CopyHtoD(p.Add(4), device.Bytes(src))
	assert.ErrorIs(t, err, errs.ErrDevice)
	assert.Contains(t, err.Error(), "20 bytes at offset 4 overrun the allocation of 20 bytes")
	assert.Error(t, d.CopyDtoH(make([]byte, 1), p.Add(20)), "one past the end")
	assert.Error(t, d.CopyDtoH(make([]byte, 1), p-1), "before the start")
	assert.Error(t, d.Memset(q, 0, 21))
	assert.Error(t, d.CopyDtoD(q, p.Add(8), 16))
	_, err = d.Alloc(0)
	assert.ErrorIs(t, err, errs.ErrArgument)

	require.NoError(t, d.FreeAsync(q, 0))
	assert.ErrorIs(t, d.Free(q), errs.ErrDevice, "double free")
	assert.Error(t, d.CopyHtoD(q, device.Bytes(src)), "use after free")
	require.NoError(t, d.Free(p))

	h, err := d.HostAlloc(32)
	require.NoError(t, err)
	h[31] = 7
	require.NoError(t, d.HostFree(h))
	assert.ErrorIs(t, d.HostFree(make([]byte, 4)), errs.ErrArgument)
}

func TestStreamsAndEvents(t *testing.T) {
	d := open(t)
	s, err := d.NewStream()
	require.NoError(t, err)
	a, err := d.NewEvent()
	require.NoError(t, err)
	b, err := d.NewEvent()
	require.NoError(t, err)
	_, err = d.Elapsed(a, b)
	assert.ErrorIs(t, err, errs.ErrArgument, "unrecorded events")
	require.NoError(t, d.Record(a, s))
	require.NoError(t, d.Record(b, s))
	el, err := d.Elapsed(a, b)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, el.Nanoseconds(), int64(0))
	require.NoError(t, d.Sync(s))
	require.NoError(t, d.DestroyStream(s))
	assert.ErrorIs(t, d.Sync(s), errs.ErrArgument)
	assert.ErrorIs(t, d.Record(a, s), errs.ErrArgument)
	require.NoError(t, d.DestroyEvent(a))
	require.NoError(t, d.DestroyEvent(b))
	assert.ErrorIs(t, d.DestroyEvent(b), errs.ErrArgument)
}

func TestLaunchErrors(t *testing.T) {
	d := open(t)
	err := d.Launch("no_such_kernel", device.D1(1), device.D1(32), 0, 0)
	assert.ErrorIs(t, err, errs.ErrDevice)
	assert.Contains(t, err.Error(), "no_such_kernel")
	err = d.Launch("no_such_kernel", device.D1(1), device.D1(32), 228<<10, 0)
	assert.ErrorIs(t, err, errs.ErrLimit)
}

func TestConcurrentAllocations(t *testing.T) {
	d := open(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				v := []int32{int32(g), int32(i)}
				p, err := device.Upload(d, v)
				if !assert.NoError(t, err) {
					return
				}
				out := make([]int32, 2)
				assert.NoError(t, device.Download(d, out, p))
				assert.Equal(t, v, out)
				assert.NoError(t, d.Free(p))
			}
		})
	}
	wg.Wait()
}
