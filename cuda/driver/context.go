package driver

import (
	"runtime"
	"unsafe"
)

// Context is a device's primary context, retained by Retain and released by
// Close. Every method makes it current on the calling OS thread first (see
// the package documentation), so a Context may be used from any goroutine.
type Context struct {
	d   *Driver
	dev Device
	h   uintptr // CUcontext
}

// Retain retains the primary context of dev.
func (d *Driver) Retain(dev Device) (*Context, error) {
	var h uintptr
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&h, dev)); err != nil {
		return nil, err
	}
	return &Context{d: d, dev: dev, h: h}, nil
}

// Driver returns the driver the context belongs to.
func (c *Context) Driver() *Driver { return c.d }

// Device returns the context's device.
func (c *Context) Device() Device { return c.dev }

// Close releases the primary context (it is destroyed when the last user
// releases it).
func (c *Context) Close() error {
	return c.d.check("cuDevicePrimaryCtxRelease_v2", c.d.cuDevicePrimaryCtxRelease(c.dev))
}

// do runs one driver call with the context current on a locked OS thread.
func (c *Context) do(op string, call func() Result) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := c.d.check("cuCtxSetCurrent", c.d.cuCtxSetCurrent(c.h)); err != nil {
		return err
	}
	return c.d.check(op, call())
}

// Synchronize waits for all work in the context.
func (c *Context) Synchronize() error {
	return c.do("cuCtxSynchronize", c.d.cuCtxSynchronize)
}

// Alloc allocates device memory.
func (c *Context) Alloc(bytes int) (DevicePtr, error) {
	var p DevicePtr
	err := c.do("cuMemAlloc_v2", func() Result { return c.d.cuMemAlloc(&p, uintptr(bytes)) })
	return p, err
}

// Free frees memory from Alloc.
func (c *Context) Free(p DevicePtr) error {
	return c.do("cuMemFree_v2", func() Result { return c.d.cuMemFree(p) })
}

// AllocAsync allocates stream-ordered memory (cuMemAllocAsync) where the
// driver has it; otherwise it falls back to a synchronous cuMemAlloc, which
// is ordered before everything later on any stream.
func (c *Context) AllocAsync(bytes int, s Stream) (DevicePtr, error) {
	if c.d.cuMemAllocAsync == nil {
		return c.Alloc(bytes)
	}
	var p DevicePtr
	err := c.do("cuMemAllocAsync", func() Result { return c.d.cuMemAllocAsync(&p, uintptr(bytes), s) })
	return p, err
}

// FreeAsync frees stream-ordered memory after the work queued on s; without
// cuMemFreeAsync it waits for s and frees synchronously.
func (c *Context) FreeAsync(p DevicePtr, s Stream) error {
	if c.d.cuMemFreeAsync == nil {
		if err := c.StreamSynchronize(s); err != nil {
			return err
		}
		return c.Free(p)
	}
	return c.do("cuMemFreeAsync", func() Result { return c.d.cuMemFreeAsync(p, s) })
}

// Memset sets bytes bytes at p to v.
func (c *Context) Memset(p DevicePtr, v byte, bytes int) error {
	return c.do("cuMemsetD8_v2", func() Result { return c.d.cuMemsetD8(p, v, uintptr(bytes)) })
}

// MemsetAsync is Memset queued on s.
func (c *Context) MemsetAsync(p DevicePtr, v byte, bytes int, s Stream) error {
	return c.do("cuMemsetD8Async", func() Result { return c.d.cuMemsetD8Async(p, v, uintptr(bytes), s) })
}

// CopyHtoD copies src to device memory at dst.
func (c *Context) CopyHtoD(dst DevicePtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return c.do("cuMemcpyHtoD_v2", func() Result {
		return c.d.cuMemcpyHtoD(dst, unsafe.Pointer(&src[0]), uintptr(len(src)))
	})
}

// CopyDtoH copies len(dst) bytes from device memory at src.
func (c *Context) CopyDtoH(dst []byte, src DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	return c.do("cuMemcpyDtoH_v2", func() Result {
		return c.d.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), src, uintptr(len(dst)))
	})
}

// CopyDtoD copies bytes bytes between device buffers.
func (c *Context) CopyDtoD(dst, src DevicePtr, bytes int) error {
	return c.do("cuMemcpyDtoD_v2", func() Result { return c.d.cuMemcpyDtoD(dst, src, uintptr(bytes)) })
}

// CopyHtoDAsync queues a host-to-device copy on s. For Go (pageable) memory
// the driver has staged src before it returns, so src may be reused at once;
// only pinned memory (HostAlloc) makes the copy overlap with the host.
func (c *Context) CopyHtoDAsync(dst DevicePtr, src []byte, s Stream) error {
	if len(src) == 0 {
		return nil
	}
	return c.do("cuMemcpyHtoDAsync_v2", func() Result {
		return c.d.cuMemcpyHtoDAsync(dst, unsafe.Pointer(&src[0]), uintptr(len(src)), s)
	})
}

// CopyDtoHAsync queues a device-to-host copy on s. Into Go (pageable)
// memory the driver returns only when the copy is done; into pinned memory
// (HostAlloc) the data is there after the stream is synchronized.
func (c *Context) CopyDtoHAsync(dst []byte, src DevicePtr, s Stream) error {
	if len(dst) == 0 {
		return nil
	}
	return c.do("cuMemcpyDtoHAsync_v2", func() Result {
		return c.d.cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), src, uintptr(len(dst)), s)
	})
}

// CopyDtoDAsync queues a device-to-device copy on s.
func (c *Context) CopyDtoDAsync(dst, src DevicePtr, bytes int, s Stream) error {
	return c.do("cuMemcpyDtoDAsync_v2", func() Result { return c.d.cuMemcpyDtoDAsync(dst, src, uintptr(bytes), s) })
}

// HostAlloc allocates page-locked host memory, usable by every context;
// the slice aliases driver memory, valid until FreeHost.
func (c *Context) HostAlloc(bytes int) ([]byte, error) {
	var p unsafe.Pointer
	if err := c.do("cuMemHostAlloc", func() Result { return c.d.cuMemHostAlloc(&p, uintptr(bytes), MemHostAllocPortable) }); err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), bytes), nil
}

// FreeHost frees memory from HostAlloc.
func (c *Context) FreeHost(b []byte) error {
	if cap(b) == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	return c.do("cuMemFreeHost", func() Result { return c.d.cuMemFreeHost(p) })
}
