package device

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/matmix/matmix/cuda/driver"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/kernels/images"
)

// cudaDevice is a Device over the real driver: the primary context of one
// GPU and a module per kernel source file, loaded from the embedded image
// that suits the device's compute capability.
type cudaDevice struct {
	ctx     *driver.Context
	ordinal int
	props   Props
	modules []driver.Module

	mu    sync.Mutex
	funcs map[string]*function
}

// function is a kernel looked up once, with the dynamic shared memory limit
// it has been opted in to.
type function struct {
	f         driver.Function
	smemLimit int
}

// OpenCUDA opens GPU ordinal through libcuda.so.1, loading the kernel
// images embedded in the binary. Without a driver or a GPU it returns the
// driver's error (an errs.ErrDevice).
func OpenCUDA(ordinal int) (Device, error) {
	d, err := driver.Open()
	if err != nil {
		return nil, err
	}
	return openCUDA(d, ordinal, images.Select)
}

// openCUDA is OpenCUDA over a loaded driver with a choice of images (the
// tests pass a stand-in driver and image).
func openCUDA(d *driver.Driver, ordinal int, sel func(major, minor int) ([]images.Image, error)) (Device, error) {
	n, err := d.DeviceCount()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, errs.Argument("cuda", "device %d does not exist (%d devices)", ordinal, n)
	}
	dev, err := d.Device(ordinal)
	if err != nil {
		return nil, err
	}
	props, err := d.Props(dev)
	if err != nil {
		return nil, err
	}
	imgs, err := sel(props.Major, props.Minor)
	if err != nil {
		return nil, err
	}
	ctx, err := d.Retain(dev)
	if err != nil {
		return nil, err
	}
	c := &cudaDevice{ctx: ctx, ordinal: ordinal, props: props, funcs: map[string]*function{}}
	for _, im := range imgs {
		m, err := ctx.LoadModule(im.Data)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("load %s for %s: %w", im.Name, props.Arch(), err), c.Close())
		}
		c.modules = append(c.modules, m)
	}
	return c, nil
}

func (c *cudaDevice) Name() string { return fmt.Sprintf("cuda:%d", c.ordinal) }
func (c *cudaDevice) Props() Props { return c.props }

func (c *cudaDevice) Alloc(bytes int) (Ptr, error) {
	p, err := c.ctx.Alloc(bytes)
	return Ptr(p), err
}
func (c *cudaDevice) Free(p Ptr) error { return c.ctx.Free(driver.DevicePtr(p)) }
func (c *cudaDevice) AllocAsync(bytes int, s Stream) (Ptr, error) {
	p, err := c.ctx.AllocAsync(bytes, driver.Stream(s))
	return Ptr(p), err
}
func (c *cudaDevice) FreeAsync(p Ptr, s Stream) error {
	return c.ctx.FreeAsync(driver.DevicePtr(p), driver.Stream(s))
}
func (c *cudaDevice) Memset(p Ptr, v byte, bytes int) error {
	return c.ctx.Memset(driver.DevicePtr(p), v, bytes)
}
func (c *cudaDevice) MemsetAsync(p Ptr, v byte, bytes int, s Stream) error {
	return c.ctx.MemsetAsync(driver.DevicePtr(p), v, bytes, driver.Stream(s))
}
func (c *cudaDevice) CopyHtoD(dst Ptr, src []byte) error {
	return c.ctx.CopyHtoD(driver.DevicePtr(dst), src)
}
func (c *cudaDevice) CopyDtoH(dst []byte, src Ptr) error {
	return c.ctx.CopyDtoH(dst, driver.DevicePtr(src))
}
func (c *cudaDevice) CopyDtoD(dst, src Ptr, bytes int) error {
	return c.ctx.CopyDtoD(driver.DevicePtr(dst), driver.DevicePtr(src), bytes)
}
func (c *cudaDevice) CopyHtoDAsync(dst Ptr, src []byte, s Stream) error {
	return c.ctx.CopyHtoDAsync(driver.DevicePtr(dst), src, driver.Stream(s))
}
func (c *cudaDevice) CopyDtoHAsync(dst []byte, src Ptr, s Stream) error {
	return c.ctx.CopyDtoHAsync(dst, driver.DevicePtr(src), driver.Stream(s))
}
func (c *cudaDevice) CopyDtoDAsync(dst, src Ptr, bytes int, s Stream) error {
	return c.ctx.CopyDtoDAsync(driver.DevicePtr(dst), driver.DevicePtr(src), bytes, driver.Stream(s))
}
func (c *cudaDevice) HostAlloc(bytes int) ([]byte, error) { return c.ctx.HostAlloc(bytes) }
func (c *cudaDevice) HostFree(b []byte) error             { return c.ctx.FreeHost(b) }

func (c *cudaDevice) NewStream() (Stream, error) {
	s, err := c.ctx.NewStream()
	return Stream(s), err
}
func (c *cudaDevice) Sync(s Stream) error          { return c.ctx.StreamSynchronize(driver.Stream(s)) }
func (c *cudaDevice) DestroyStream(s Stream) error { return c.ctx.DestroyStream(driver.Stream(s)) }
func (c *cudaDevice) NewEvent() (Event, error) {
	e, err := c.ctx.NewEvent()
	return Event(e), err
}
func (c *cudaDevice) Record(e Event, s Stream) error {
	return c.ctx.Record(driver.Event(e), driver.Stream(s))
}
func (c *cudaDevice) Elapsed(start, end Event) (time.Duration, error) {
	return c.ctx.Elapsed(driver.Event(start), driver.Event(end))
}
func (c *cudaDevice) DestroyEvent(e Event) error { return c.ctx.DestroyEvent(driver.Event(e)) }

// function finds kernel in the loaded modules and opts it in to smem bytes
// of dynamic shared memory when that is more than the default 48 KiB.
func (c *cudaDevice) function(kernel string, smem int) (driver.Function, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn := c.funcs[kernel]
	if fn == nil {
		for _, m := range c.modules {
			f, err := c.ctx.Function(m, kernel)
			if err == nil {
				fn = &function{f: f, smemLimit: driver.DefaultDynamicSmemMax}
				break
			}
			if !errors.Is(err, &driver.Error{Code: driver.ErrNotFound}) {
				return 0, err
			}
		}
		if fn == nil {
			return 0, errs.Unsupported("launch", "no kernel %s in the images for %s", kernel, c.props.Arch())
		}
		c.funcs[kernel] = fn
	}
	if smem > fn.smemLimit {
		if err := c.ctx.SetFuncAttribute(fn.f, driver.FuncMaxDynamicSharedSizeByte, smem); err != nil {
			return 0, err
		}
		fn.smemLimit = smem
	}
	return fn.f, nil
}

func (c *cudaDevice) Launch(kernel string, grid, block Dim3, smem int, s Stream, args ...Arg) error {
	if err := CheckLaunch(c.props, kernel, grid, block, smem); err != nil {
		return err
	}
	f, err := c.function(kernel, smem)
	if err != nil {
		return err
	}
	// Values and the pointer array live on the heap, which does not move,
	// and only for the call: the driver copies the values at launch.
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		vals[i] = a.bits
		params[i] = unsafe.Pointer(&vals[i])
	}
	return c.ctx.Launch(f, grid, block, smem, driver.Stream(s), params)
}

func (c *cudaDevice) Close() error {
	var errl []error
	for _, m := range c.modules {
		errl = append(errl, c.ctx.UnloadModule(m))
	}
	c.modules = nil
	errl = append(errl, c.ctx.Close())
	return errors.Join(errl...)
}
