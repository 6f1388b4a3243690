package driver

import (
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/matmix/matmix/engine/errs"
)

// LibName is the soname of the driver library (the unversioned libcuda.so
// exists only where the toolkit's development files are installed).
const LibName = "libcuda.so.1"

// Driver is the loaded driver library: one function value per entry point.
// It holds no other state and is safe for concurrent use.
type Driver struct {
	cuInit               func(flags uint32) Result
	cuDriverGetVersion   func(v *int32) Result
	cuGetErrorName       func(r Result, s **byte) Result
	cuGetErrorString     func(r Result, s **byte) Result
	cuDeviceGetCount     func(n *int32) Result
	cuDeviceGet          func(dev *Device, ordinal int32) Result
	cuDeviceGetName      func(name *byte, n int32, dev Device) Result
	cuDeviceGetAttribute func(v *int32, attr Attribute, dev Device) Result
	cuDeviceTotalMem     func(bytes *uintptr, dev Device) Result

	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev Device) Result
	cuDevicePrimaryCtxRelease func(dev Device) Result
	cuCtxSetCurrent           func(ctx uintptr) Result
	cuCtxSynchronize          func() Result

	cuMemAlloc        func(p *DevicePtr, bytes uintptr) Result
	cuMemFree         func(p DevicePtr) Result
	cuMemAllocAsync   func(p *DevicePtr, bytes uintptr, s Stream) Result // nil before CUDA 11.2
	cuMemFreeAsync    func(p DevicePtr, s Stream) Result                 // nil before CUDA 11.2
	cuMemsetD8        func(p DevicePtr, v uint8, n uintptr) Result
	cuMemsetD8Async   func(p DevicePtr, v uint8, n uintptr, s Stream) Result
	cuMemcpyHtoD      func(dst DevicePtr, src unsafe.Pointer, n uintptr) Result
	cuMemcpyDtoH      func(dst unsafe.Pointer, src DevicePtr, n uintptr) Result
	cuMemcpyDtoD      func(dst, src DevicePtr, n uintptr) Result
	cuMemcpyHtoDAsync func(dst DevicePtr, src unsafe.Pointer, n uintptr, s Stream) Result
	cuMemcpyDtoHAsync func(dst unsafe.Pointer, src DevicePtr, n uintptr, s Stream) Result
	cuMemcpyDtoDAsync func(dst, src DevicePtr, n uintptr, s Stream) Result
	cuMemHostAlloc    func(p *unsafe.Pointer, n uintptr, flags uint32) Result
	cuMemFreeHost     func(p unsafe.Pointer) Result

	cuStreamCreate      func(s *Stream, flags uint32) Result
	cuStreamSynchronize func(s Stream) Result
	cuStreamDestroy     func(s Stream) Result

	cuEventCreate      func(e *Event, flags uint32) Result
	cuEventRecord      func(e Event, s Stream) Result
	cuEventSynchronize func(e Event) Result
	cuEventElapsedTime func(ms *float32, start, end Event) Result
	cuEventDestroy     func(e Event) Result

	cuModuleLoadData    func(m *Module, image unsafe.Pointer) Result
	cuModuleUnload      func(m Module) Result
	cuModuleGetFunction func(f *Function, m Module, name string) Result
	cuFuncGetAttribute  func(v *int32, attr FuncAttribute, f Function) Result
	cuFuncSetAttribute  func(f Function, attr FuncAttribute, v int32) Result
	cuLaunchKernel      func(f Function, gx, gy, gz, bx, by, bz, smem uint32, s Stream, params, extra unsafe.Pointer) Result
}

// symbol binds one entry point. Names lists the exported symbols to try in
// order (the versioned one first); an optional symbol may be missing.
type symbol struct {
	fptr     any
	names    []string
	optional bool
}

func (d *Driver) symbols() []symbol {
	req := func(fptr any, names ...string) symbol { return symbol{fptr: fptr, names: names} }
	opt := func(fptr any, names ...string) symbol { return symbol{fptr: fptr, names: names, optional: true} }
	return []symbol{
		req(&d.cuInit, "cuInit"),
		req(&d.cuDriverGetVersion, "cuDriverGetVersion"),
		req(&d.cuGetErrorName, "cuGetErrorName"),
		req(&d.cuGetErrorString, "cuGetErrorString"),
		req(&d.cuDeviceGetCount, "cuDeviceGetCount"),
		req(&d.cuDeviceGet, "cuDeviceGet"),
		req(&d.cuDeviceGetName, "cuDeviceGetName"),
		req(&d.cuDeviceGetAttribute, "cuDeviceGetAttribute"),
		req(&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
		req(&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
		req(&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
		req(&d.cuCtxSetCurrent, "cuCtxSetCurrent"),
		req(&d.cuCtxSynchronize, "cuCtxSynchronize"),
		req(&d.cuMemAlloc, "cuMemAlloc_v2"),
		req(&d.cuMemFree, "cuMemFree_v2"),
		opt(&d.cuMemAllocAsync, "cuMemAllocAsync"),
		opt(&d.cuMemFreeAsync, "cuMemFreeAsync"),
		req(&d.cuMemsetD8, "cuMemsetD8_v2"),
		req(&d.cuMemsetD8Async, "cuMemsetD8Async"),
		req(&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
		req(&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2"),
		req(&d.cuMemcpyDtoD, "cuMemcpyDtoD_v2"),
		req(&d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
		req(&d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
		req(&d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
		req(&d.cuMemHostAlloc, "cuMemHostAlloc"),
		req(&d.cuMemFreeHost, "cuMemFreeHost"),
		req(&d.cuStreamCreate, "cuStreamCreate"),
		req(&d.cuStreamSynchronize, "cuStreamSynchronize"),
		req(&d.cuStreamDestroy, "cuStreamDestroy_v2"),
		req(&d.cuEventCreate, "cuEventCreate"),
		req(&d.cuEventRecord, "cuEventRecord"),
		req(&d.cuEventSynchronize, "cuEventSynchronize"),
		req(&d.cuEventElapsedTime, "cuEventElapsedTime"),
		req(&d.cuEventDestroy, "cuEventDestroy_v2"),
		req(&d.cuModuleLoadData, "cuModuleLoadData"),
		req(&d.cuModuleUnload, "cuModuleUnload"),
		req(&d.cuModuleGetFunction, "cuModuleGetFunction"),
		req(&d.cuFuncGetAttribute, "cuFuncGetAttribute"),
		req(&d.cuFuncSetAttribute, "cuFuncSetAttribute"),
		req(&d.cuLaunchKernel, "cuLaunchKernel"),
	}
}

// Open loads libcuda.so.1 and initializes the driver. On a machine without
// the driver it returns an errs.ErrDevice error saying "libcuda.so.1 not
// found" and the loader's reason; with a driver but no usable GPU, the
// driver's own error from cuInit (e.g. CUDA_ERROR_NO_DEVICE).
func Open() (*Driver, error) { return OpenLibrary(LibName) }

// OpenLibrary is Open with another library path (tests load a stand-in).
func OpenLibrary(path string) (*Driver, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, errs.Device("cuda", err, "%s not found", path)
	}
	// The handle is never closed: dlopen handles are reference counted, and
	// unloading libcuda while another library in the process uses it is
	// undefined behaviour.
	d := &Driver{}
	for _, s := range d.symbols() {
		if err := bind(h, s); err != nil {
			return nil, errs.Device("cuda", err, "%s is unusable", path)
		}
	}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return nil, err
	}
	return d, nil
}

// bind looks up the first of s.names the library exports.
func bind(h uintptr, s symbol) error {
	var last error
	for _, n := range s.names {
		p, err := purego.Dlsym(h, n)
		if err == nil && p != 0 {
			purego.RegisterFunc(s.fptr, p)
			return nil
		}
		last = err
	}
	if s.optional {
		return nil
	}
	return errs.Device("cuda", last, "the driver lacks %s (driver too old)", s.names[0])
}

// Version is the driver's CUDA version, 1000*major + 10*minor (12040 = 12.4).
func (d *Driver) Version() (int, error) {
	var v int32
	err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v))
	return int(v), err
}

// HasStreamOrderedAlloc reports whether the driver exports cuMemAllocAsync
// and cuMemFreeAsync (CUDA 11.2 and later).
func (d *Driver) HasStreamOrderedAlloc() bool {
	return d.cuMemAllocAsync != nil && d.cuMemFreeAsync != nil
}

// goString copies a NUL-terminated C string the driver owns.
func goString(p *byte) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
