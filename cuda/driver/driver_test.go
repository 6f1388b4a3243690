package driver_test

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/matmix/matmix/cuda/driver"
	"github.com/matmix/matmix/cuda/driver/drivertest"
	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenMissingLibrary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libcuda.so.1")
	d, err := driver.OpenLibrary(path)
	require.Error(t, err)
	assert.Nil(t, d)
	assert.ErrorIs(t, err, errs.ErrDevice)
	assert.Contains(t, err.Error(), "libcuda.so.1 not found: ")
	assert.NotContains(t, err.Error(), "\n")
}

// TestOpenSystem opens whatever driver this machine has: on a GPU machine it
// must work, elsewhere it must fail with a device error, never panic.
func TestOpenSystem(t *testing.T) {
	d, err := driver.Open()
	if err != nil {
		t.Logf("no usable driver: %v", err)
		assert.ErrorIs(t, err, errs.ErrDevice)
		assert.True(t, strings.Contains(err.Error(), "libcuda.so.1 not found: ") || strings.Contains(err.Error(), "cuInit"), err.Error())
		return
	}
	n, err := d.DeviceCount()
	require.NoError(t, err)
	require.Positive(t, n)
	dev, err := d.Device(0)
	require.NoError(t, err)
	p, err := d.Props(dev)
	require.NoError(t, err)
	t.Logf("%+v", p)
	assert.GreaterOrEqual(t, p.Major, 5)
	assert.Positive(t, p.SMs)
}

func fake(t *testing.T) *driver.Driver { return drivertest.Open(t) }

func TestProps(t *testing.T) {
	d := fake(t)
	n, err := d.DeviceCount()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = d.Device(1)
	var de *driver.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, driver.Result(101), de.Code)
	assert.Equal(t, "CUDA_ERROR_INVALID_DEVICE", de.Name)
	assert.Equal(t, "cuda: cuDeviceGet: CUDA_ERROR_INVALID_DEVICE (101): invalid device ordinal", err.Error())
	assert.ErrorIs(t, err, errs.ErrDevice)
	assert.ErrorIs(t, err, &driver.Error{Code: 101})
	assert.NotErrorIs(t, err, &driver.Error{Code: 1})

	dev, err := d.Device(0)
	require.NoError(t, err)
	p, err := d.Props(dev)
	require.NoError(t, err)
	assert.Equal(t, driver.Props{
		Name: "Fake GPU", Major: 9, Minor: 0, SMs: 132,
		SharedPerBlock: 48 << 10, SharedPerBlockOptin: 227 << 10, SharedPerSM: 228 << 10,
		L2Bytes: 50 << 20, TotalMem: 141 << 30, ClockKHz: 1980000, MemClockKHz: 2619000, MemBusWidth: 6144,
		WarpSize: 32, MaxThreadsPerBlock: 1024, MaxThreadsPerSM: 2048, RegistersPerBlock: 65536,
		StreamOrderedAlloc: false, // the stand-in exports no cuMemAllocAsync
		DriverVersion:      12040,
	}, p)
	assert.Equal(t, "sm_90", p.Arch())
	assert.False(t, d.HasStreamOrderedAlloc())
}

func retain(t *testing.T) *driver.Context {
	d := fake(t)
	dev, err := d.Device(0)
	require.NoError(t, err)
	c, err := d.Retain(dev)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func f32bytes(v []float32) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)) }

func TestMemory(t *testing.T) {
	c := retain(t)
	src := []float32{1, -2, 3.5, 4, 5}
	p, err := c.Alloc(20)
	require.NoError(t, err)
	require.NoError(t, c.CopyHtoD(p, f32bytes(src)))
	q, err := c.AllocAsync(20, 0) // falls back to cuMemAlloc
	require.NoError(t, err)
	require.NoError(t, c.CopyDtoD(q, p, 20))
	got := make([]float32, 5)
	require.NoError(t, c.CopyDtoH(f32bytes(got), q))
	assert.Equal(t, src, got)

	require.NoError(t, c.Memset(q+4, 0xff, 4))
	require.NoError(t, c.CopyDtoHAsync(f32bytes(got), q, 0))
	assert.True(t, math.IsNaN(float64(got[1])), "the memset (0xffffffff is a NaN) reaches the second element only")
	assert.Equal(t, src[0], got[0])
	assert.Equal(t, src[2:], got[2:])

	s, err := c.NewStream()
	require.NoError(t, err)
	require.NoError(t, c.MemsetAsync(p, 0, 20, s))
	require.NoError(t, c.CopyDtoDAsync(q, p, 8, s))
	require.NoError(t, c.CopyHtoDAsync(p, f32bytes(src[:2]), s))
	require.NoError(t, c.StreamSynchronize(s))
	require.NoError(t, c.CopyDtoH(f32bytes(got), q))
	assert.Equal(t, []float32{0, 0}, got[:2])
	require.NoError(t, c.FreeAsync(q, s)) // synchronizes s, then cuMemFree
	require.NoError(t, c.Free(p))
	require.NoError(t, c.DestroyStream(s))

	h, err := c.HostAlloc(64)
	require.NoError(t, err)
	require.Len(t, h, 64)
	h[63] = 1
	require.NoError(t, c.FreeHost(h))

	_, err = c.Alloc(1 << 41)
	var de *driver.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, driver.ErrOutOfMemory, de.Code)
	assert.Equal(t, "cuMemAlloc_v2", de.Op)
	assert.Equal(t, "out of memory", de.Text)
}

// TestConcurrentCalls checks the context rule: the stand-in keeps its
// current context per OS thread, as the driver does, so calls from many
// goroutines (on many threads) work only if each call makes it current.
func TestConcurrentCalls(t *testing.T) {
	c := retain(t)
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := []float32{float32(g), 1}
			p, err := c.Alloc(8)
			if err != nil {
				errc <- err
				return
			}
			for range 50 {
				out := make([]float32, 2)
				if err := c.CopyHtoD(p, f32bytes(v)); err != nil {
					errc <- err
					return
				}
				if err := c.CopyDtoH(f32bytes(out), p); err != nil {
					errc <- err
					return
				}
				if out[0] != v[0] {
					errc <- errors.New("copy returned another goroutine's data")
					return
				}
			}
			errc <- c.Free(p)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
}

func TestEvents(t *testing.T) {
	c := retain(t)
	a, err := c.NewEvent()
	require.NoError(t, err)
	b, err := c.NewEvent()
	require.NoError(t, err)
	require.NoError(t, c.Record(a, 0))
	require.NoError(t, c.Record(b, 0))
	el, err := c.Elapsed(a, b)
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Microsecond, el) // the stand-in records event i at 1.5*i ms
	require.NoError(t, c.DestroyEvent(a))
	require.NoError(t, c.DestroyEvent(b))
}

func TestModuleAndLaunch(t *testing.T) {
	c := retain(t)
	_, err := c.LoadModule([]byte("NOTANIMAGE"))
	assert.ErrorIs(t, err, &driver.Error{Code: driver.ErrInvalidValue})
	m, err := c.LoadModule([]byte("FAKEIMAGE")) // LoadModule adds the NUL PTX needs
	require.NoError(t, err)
	_, err = c.Function(m, "nope")
	assert.EqualError(t, err, "cuda: cuModuleGetFunction: CUDA_ERROR_NOT_FOUND (500): named symbol not found")
	f, err := c.Function(m, "saxpy")
	require.NoError(t, err)
	regs, err := c.FuncAttribute(f, driver.FuncNumRegs)
	require.NoError(t, err)
	assert.Equal(t, 18, regs)

	x := []float32{1, 2, 3}
	y := []float32{10, 20, 30}
	px, err := c.Alloc(12)
	require.NoError(t, err)
	py, err := c.Alloc(12)
	require.NoError(t, err)
	pout, err := c.Alloc(24)
	require.NoError(t, err)
	require.NoError(t, c.CopyHtoD(px, f32bytes(x)))
	require.NoError(t, c.CopyHtoD(py, f32bytes(y)))

	// One heap slot per parameter, as cuLaunchKernel's kernelParams wants.
	a, n := float32(0.5), int32(3)
	params := []unsafe.Pointer{unsafe.Pointer(&py), unsafe.Pointer(&px), unsafe.Pointer(&a), unsafe.Pointer(&n), unsafe.Pointer(&pout)}
	grid, block := driver.Dim3{X: 3, Y: 1, Z: 1}, driver.Dim3{X: 128, Y: 1, Z: 1}
	err = c.Launch(f, grid, block, 64<<10, 0, params)
	assert.ErrorIs(t, err, &driver.Error{Code: driver.ErrInvalidValue}, "64 KiB needs the opt-in")
	require.NoError(t, c.SetFuncAttribute(f, driver.FuncMaxDynamicSharedSizeByte, 64<<10))
	require.NoError(t, c.Launch(f, grid, block, 64<<10, 0, params))
	require.NoError(t, c.Synchronize())
	require.NoError(t, c.CopyDtoH(f32bytes(y), py))
	assert.Equal(t, []float32{10.5, 21, 31.5}, y)
	out := make([]int64, 3)
	require.NoError(t, c.CopyDtoH(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 24), pout))
	assert.Equal(t, []int64{3, 128, 64 << 10}, out)
	err = c.SetFuncAttribute(f, driver.FuncMaxDynamicSharedSizeByte, 300<<10)
	assert.ErrorIs(t, err, errs.ErrDevice)
	require.NoError(t, c.UnloadModule(m))
}
