//go:build cudasim

package sim

/*
#cgo CXXFLAGS: -std=c++20 -O2 -g -fno-omit-frame-pointer -I${SRCDIR}/../../kernels -I${SRCDIR}/../../kernels/include -I${SRCDIR}/../../kernels/sim
#cgo CFLAGS: -I${SRCDIR}/../../kernels/sim
// go test -asan instruments C (CFLAGS) but not C++: the simulator asks for it.
#cgo asan CXXFLAGS: -fsanitize=address
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mmsim.h"

// Device addresses cross from Go as integers; these helpers turn them into
// pointers on the C side, where the memory lives.
static uintptr_t sim_malloc(size_t n) { return (uintptr_t)mmsim_malloc(n); }
static int sim_free(uintptr_t p, char* err, size_t errlen) { return mmsim_free((void*)p, err, errlen); }
static void sim_htod(uintptr_t dst, const void* src, size_t n) { memcpy((void*)dst, src, n); }
static void sim_dtoh(void* dst, uintptr_t src, size_t n) { memcpy(dst, (const void*)src, n); }
static void sim_dtod(uintptr_t dst, uintptr_t src, size_t n) { memmove((void*)dst, (const void*)src, n); }
static void sim_memset(uintptr_t p, int v, size_t n) { memset((void*)p, v, n); }

// sim_launch copies the argument slots into C memory and points
// kernelParams at them, as cuLaunchKernel receives them.
static int sim_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                      unsigned bz, size_t smem, const uint64_t* vals, int n, char* err, size_t errlen) {
	uint64_t slots[64];
	void* params[64];
	if (n > 64) {
		snprintf(err, errlen, "%d kernel arguments (at most 64)", n);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		slots[i] = vals[i];
		params[i] = &slots[i];
	}
	mmsim_dim3 grid = {gx, gy, gz}, block = {bx, by, bz};
	return mmsim_launch(name, grid, block, smem, params, err, errlen);
}
*/
import "C"

import (
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
)

// errLen is the size of the simulator's one-line error messages.
const errLen = 1024

// Device is the simulator as a device.Device. Work on every stream runs
// synchronously, in call order, which is one of the orders a GPU may choose.
type Device struct {
	props device.Props

	mu      sync.Mutex
	allocs  []alloc // live allocations sorted by base
	streams map[device.Stream]bool
	events  map[device.Event]time.Time
	next    uintptr // the last stream or event handle given out
	host    map[uintptr]int
	faults  Faults
	calls   [faultKinds]int64 // calls of each kind since InjectFaults
}

type alloc struct {
	base device.Ptr
	size int
}

// Props of the simulated device: an sm_90 part with H100's limits (the
// simulator enforces the shared memory limits).
func simProps() device.Props {
	return device.Props{
		Name: "matmix CUDA simulator", Major: 9, Minor: 0, SMs: 132,
		SharedPerBlock: 48 << 10, SharedPerBlockOptin: 227 << 10, SharedPerSM: 228 << 10,
		L2Bytes: 50 << 20, TotalMem: 16 << 30, ClockKHz: 1_980_000, MemClockKHz: 2_619_000, MemBusWidth: 5120,
		WarpSize: 32, MaxThreadsPerBlock: 1024, MaxThreadsPerSM: 2048, RegistersPerBlock: 65536,
		StreamOrderedAlloc: true,
	}
}

// Open returns a simulated device.
func Open() (*Device, error) {
	p := simProps()
	if C.mmsim_set_limits(C.size_t(p.SharedPerBlockOptin)) != 0 {
		return nil, errs.Device("cudasim", nil, "the simulator refused a dynamic shared memory limit of %d bytes", p.SharedPerBlockOptin)
	}
	return &Device{
		props:   p,
		streams: map[device.Stream]bool{0: true},
		events:  map[device.Event]time.Time{},
		host:    map[uintptr]int{},
	}, nil
}

// ASan reports whether the simulator was built with AddressSanitizer (go
// test -asan): then a kernel's access past a buffer aborts the process with
// ASan's report, instead of failing the launch through the guard zones.
func ASan() bool { return C.mmsim_asan() != 0 }

// Name is "cuda:sim".
func (d *Device) Name() string { return "cuda:sim" }

// Props returns the simulated device's properties.
func (d *Device) Props() device.Props { return d.props }

func (d *Device) Alloc(bytes int) (device.Ptr, error) {
	if err := d.fault(faultAlloc); err != nil {
		return 0, err
	}
	if bytes <= 0 || int64(bytes) > d.props.TotalMem {
		return 0, errs.Argument("cudasim alloc", "cannot allocate %d bytes", bytes)
	}
	p := device.Ptr(C.sim_malloc(C.size_t(bytes)))
	if p == 0 {
		return 0, errs.Device("cudasim alloc", nil, "out of memory allocating %d bytes", bytes)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].base > p })
	d.allocs = slices.Insert(d.allocs, i, alloc{p, bytes})
	return p, nil
}

func (d *Device) Free(p device.Ptr) error {
	d.mu.Lock()
	i, ok := slices.BinarySearchFunc(d.allocs, p, func(a alloc, p device.Ptr) int { return cmpPtr(a.base, p) })
	if !ok {
		d.mu.Unlock()
		return errs.Device("cudasim free", nil, "%#x is not a live allocation", uint64(p))
	}
	d.allocs = slices.Delete(d.allocs, i, i+1)
	d.mu.Unlock()
	var msg [errLen]C.char
	if C.sim_free(C.uintptr_t(p), &msg[0], errLen) != 0 {
		return errs.Device("cudasim free", nil, "%s", C.GoString(&msg[0]))
	}
	return nil
}

func cmpPtr(a, b device.Ptr) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (d *Device) AllocAsync(bytes int, s device.Stream) (device.Ptr, error) {
	if err := d.stream(s); err != nil {
		return 0, err
	}
	return d.Alloc(bytes)
}

func (d *Device) FreeAsync(p device.Ptr, s device.Stream) error {
	if err := d.stream(s); err != nil {
		return err
	}
	return d.Free(p)
}

// span checks that [p, p+n) lies inside one live allocation, as the driver
// does for copies (CUDA_ERROR_INVALID_VALUE), so that host-side copies
// cannot reach the guard zones the simulator checks for device faults.
func (d *Device) span(op string, p device.Ptr, n int) error {
	if n < 0 {
		return errs.Argument(op, "negative size %d", n)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].base > p }) - 1
	if i < 0 || p >= d.allocs[i].base.Add(d.allocs[i].size) {
		return errs.Device(op, nil, "%#x is not in a live allocation", uint64(p))
	}
	a := d.allocs[i]
	if off := int(p - a.base); n > a.size-off {
		return errs.Device(op, nil, "%d bytes at offset %d overrun the allocation of %d bytes at %#x", n, off, a.size, uint64(a.base))
	}
	return nil
}

func (d *Device) Memset(p device.Ptr, v byte, bytes int) error {
	if err := d.span("cudasim memset", p, bytes); err != nil {
		return err
	}
	C.sim_memset(C.uintptr_t(p), C.int(v), C.size_t(bytes))
	return nil
}

func (d *Device) MemsetAsync(p device.Ptr, v byte, bytes int, s device.Stream) error {
	if err := d.stream(s); err != nil {
		return err
	}
	return d.Memset(p, v, bytes)
}

func (d *Device) CopyHtoD(dst device.Ptr, src []byte) error {
	if err := d.fault(faultCopy); err != nil {
		return err
	}
	if err := d.span("cudasim copy to device", dst, len(src)); err != nil || len(src) == 0 {
		return err
	}
	C.sim_htod(C.uintptr_t(dst), unsafe.Pointer(&src[0]), C.size_t(len(src)))
	return nil
}

func (d *Device) CopyDtoH(dst []byte, src device.Ptr) error {
	if err := d.fault(faultCopy); err != nil {
		return err
	}
	if err := d.span("cudasim copy to host", src, len(dst)); err != nil || len(dst) == 0 {
		return err
	}
	C.sim_dtoh(unsafe.Pointer(&dst[0]), C.uintptr_t(src), C.size_t(len(dst)))
	return nil
}

func (d *Device) CopyDtoD(dst, src device.Ptr, bytes int) error {
	if err := d.fault(faultCopy); err != nil {
		return err
	}
	if err := d.span("cudasim copy on device", src, bytes); err != nil {
		return err
	}
	if err := d.span("cudasim copy on device", dst, bytes); err != nil {
		return err
	}
	C.sim_dtod(C.uintptr_t(dst), C.uintptr_t(src), C.size_t(bytes))
	return nil
}

func (d *Device) CopyHtoDAsync(dst device.Ptr, src []byte, s device.Stream) error {
	if err := d.stream(s); err != nil {
		return err
	}
	return d.CopyHtoD(dst, src)
}

func (d *Device) CopyDtoHAsync(dst []byte, src device.Ptr, s device.Stream) error {
	if err := d.stream(s); err != nil {
		return err
	}
	return d.CopyDtoH(dst, src)
}

func (d *Device) CopyDtoDAsync(dst, src device.Ptr, bytes int, s device.Stream) error {
	if err := d.stream(s); err != nil {
		return err
	}
	return d.CopyDtoD(dst, src, bytes)
}

// HostAlloc returns C memory, which the Go collector does not manage, as
// pinned memory is on a GPU.
func (d *Device) HostAlloc(bytes int) ([]byte, error) {
	if err := d.fault(faultHostAlloc); err != nil {
		return nil, err
	}
	if bytes <= 0 {
		return nil, errs.Argument("cudasim host alloc", "cannot allocate %d bytes", bytes)
	}
	p := C.malloc(C.size_t(bytes))
	if p == nil {
		return nil, errs.Device("cudasim host alloc", nil, "out of memory allocating %d bytes", bytes)
	}
	b := unsafe.Slice((*byte)(p), bytes)
	d.mu.Lock()
	d.host[uintptr(p)] = bytes
	d.mu.Unlock()
	return b, nil
}

func (d *Device) HostFree(b []byte) error {
	if cap(b) == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	d.mu.Lock()
	_, ok := d.host[uintptr(p)]
	delete(d.host, uintptr(p))
	d.mu.Unlock()
	if !ok {
		return errs.Argument("cudasim host free", "memory not from HostAlloc")
	}
	C.free(p)
	return nil
}

func (d *Device) stream(s device.Stream) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.streams[s] {
		return errs.Argument("cudasim", "unknown stream %#x", uintptr(s))
	}
	return nil
}

func (d *Device) NewStream() (device.Stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	s := device.Stream(d.next)
	d.streams[s] = true
	return s, nil
}

// Sync returns at once: the simulator finished the stream's work when it
// was queued.
func (d *Device) Sync(s device.Stream) error { return d.stream(s) }

func (d *Device) DestroyStream(s device.Stream) error {
	if err := d.stream(s); err != nil || s == 0 {
		return err
	}
	d.mu.Lock()
	delete(d.streams, s)
	d.mu.Unlock()
	return nil
}

func (d *Device) NewEvent() (device.Event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	e := device.Event(d.next)
	d.events[e] = time.Time{}
	return e, nil
}

func (d *Device) Record(e device.Event, s device.Stream) error {
	if err := d.stream(s); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.events[e]; !ok {
		return errs.Argument("cudasim", "unknown event %#x", uintptr(e))
	}
	d.events[e] = time.Now()
	return nil
}

// Elapsed is host time between the recordings, which is simulation time,
// not a prediction of GPU time.
func (d *Device) Elapsed(start, end device.Event) (time.Duration, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, okA := d.events[start]
	b, okB := d.events[end]
	if !okA || !okB || a.IsZero() || b.IsZero() {
		return 0, errs.Argument("cudasim", "elapsed time of an unknown or unrecorded event")
	}
	return b.Sub(a), nil
}

func (d *Device) DestroyEvent(e device.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.events[e]; !ok {
		return errs.Argument("cudasim", "unknown event %#x", uintptr(e))
	}
	delete(d.events, e)
	return nil
}

// Launch runs the whole grid before it returns; a fault the simulator
// detects fails the launch with the simulator's message.
func (d *Device) Launch(kernel string, grid, block device.Dim3, smem int, s device.Stream, args ...device.Arg) error {
	if err := d.fault(faultLaunch); err != nil {
		return err
	}
	if err := device.CheckLaunch(d.props, kernel, grid, block, smem); err != nil {
		return err
	}
	if err := d.stream(s); err != nil {
		return err
	}
	vals := make([]C.uint64_t, max(len(args), 1))
	for i, a := range args {
		vals[i] = C.uint64_t(a.Bits())
	}
	name := C.CString(kernel)
	defer C.free(unsafe.Pointer(name))
	var msg [errLen]C.char
	// The simulator runs concurrent launches independently (mmsim.h).
	rc := C.sim_launch(name, C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z), C.uint(block.X), C.uint(block.Y), C.uint(block.Z),
		C.size_t(smem), &vals[0], C.int(len(args)), &msg[0], errLen)
	if rc != 0 {
		return errs.Device("launch "+kernel, nil, "%s", C.GoString(&msg[0]))
	}
	return nil
}

// Close frees what is still allocated, reporting the first fault found.
func (d *Device) Close() error {
	d.mu.Lock()
	live := slices.Clone(d.allocs)
	d.mu.Unlock()
	var first error
	for _, a := range live {
		if err := d.Free(a.base); err != nil && first == nil {
			first = err
		}
	}
	return first
}

var _ device.Device = (*Device)(nil)
