// Package device is the CUDA backend's view of a GPU: the Device interface
// (memory, copies, streams, events, kernel launch by name) and its
// implementation over the real driver (package cuda/driver, with the kernel
// images embedded in kernels/images). The CPU simulator implements the same
// interface in package cuda/sim (build tag cudasim), so that everything
// above it (choosing kernels, grid and block sizes, argument packing,
// workspace) is one code path for the GPU and for CI.
package device

import (
	"time"

	"github.com/matmix/matmix/cuda/driver"
)

// Ptr is a device address. Go never dereferences it; Add offsets it.
type Ptr uint64

// Add returns p offset by bytes.
func (p Ptr) Add(bytes int) Ptr { return p + Ptr(bytes) }

// Dim3 is a grid size in blocks or a block size in threads.
type Dim3 = driver.Dim3

// D1 is the one-dimensional Dim3 {x, 1, 1}.
func D1(x int) Dim3 { return Dim3{X: uint32(x), Y: 1, Z: 1} }

// D3 is Dim3 {x, y, z}.
func D3(x, y, z int) Dim3 { return Dim3{X: uint32(x), Y: uint32(y), Z: uint32(z)} }

// Stream is a queue of device work; 0 is the default stream.
type Stream uintptr

// Event marks a point in a stream, for timing and ordering.
type Event uintptr

// Props are the device's properties (see driver.Props).
type Props = driver.Props

// Device is one GPU, real or simulated. Implementations are safe for
// concurrent use. Sizes are in bytes. Work on one stream runs in order;
// methods named Async queue on a stream and return before the work is done
// (the simulator runs it at once), the others wait for it.
type Device interface {
	// Name is "cuda:0", "cuda:1", ... or "cuda:sim".
	Name() string
	Props() Props

	Alloc(bytes int) (Ptr, error)
	Free(p Ptr) error
	// AllocAsync and FreeAsync are stream-ordered where the driver has
	// memory pools, and synchronous otherwise.
	AllocAsync(bytes int, s Stream) (Ptr, error)
	FreeAsync(p Ptr, s Stream) error
	Memset(p Ptr, v byte, bytes int) error
	MemsetAsync(p Ptr, v byte, bytes int, s Stream) error

	CopyHtoD(dst Ptr, src []byte) error
	CopyDtoH(dst []byte, src Ptr) error
	CopyDtoD(dst, src Ptr, bytes int) error
	CopyHtoDAsync(dst Ptr, src []byte, s Stream) error
	CopyDtoHAsync(dst []byte, src Ptr, s Stream) error
	CopyDtoDAsync(dst, src Ptr, bytes int, s Stream) error

	// HostAlloc returns page-locked host memory (the only host memory that
	// makes async copies overlap with the host); HostFree releases it.
	HostAlloc(bytes int) ([]byte, error)
	HostFree(b []byte) error

	NewStream() (Stream, error)
	Sync(s Stream) error
	DestroyStream(s Stream) error

	NewEvent() (Event, error)
	Record(e Event, s Stream) error
	// Elapsed waits for end and returns the time from start to end.
	Elapsed(start, end Event) (time.Duration, error)
	DestroyEvent(e Event) error

	// Launch queues the extern "C" kernel named kernel on s with smem bytes
	// of dynamic shared memory. The generated wrappers of package
	// cuda/kernels build args from typed parameters; call those.
	Launch(kernel string, grid, block Dim3, smem int, s Stream, args ...Arg) error

	Close() error
}
