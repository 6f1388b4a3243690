// Package driver is matmix's thin layer over the CUDA driver API, loaded at
// run time: Open dlopens libcuda.so.1 with github.com/ebitengine/purego (as
// github.com/NVIDIA/go-nvml does for NVML), so building and linking need no
// CUDA headers or libraries, and a binary that runs on a machine without a GPU
// gets an error from Open instead of failing to start. Only the entry points
// the project uses are declared, with the signatures of cuda.h (CUDA 11.8,
// https://docs.nvidia.com/cuda/cuda-driver-api/); where cuda.h maps a name to
// a versioned symbol (cuMemAlloc -> cuMemAlloc_v2, ...) the versioned symbol
// is bound, since that is what code compiled against cuda.h calls.
//
// # Threads and contexts
//
// The driver keeps a "current context" per OS thread, while Go moves
// goroutines between OS threads at will. This package uses the device's
// primary context (the one the runtime API, cuBLAS and PyTorch share, so that
// memory and modules can be exchanged with them) and makes it current on
// every call that needs one: each Context method locks the calling goroutine
// to its OS thread (runtime.LockOSThread), calls cuCtxSetCurrent, makes the
// driver call and unlocks. cuCtxSetCurrent only stores a thread-local
// pointer, so this costs tens of nanoseconds, keeps every call on the
// caller's goroutine (no hand-off to a dedicated thread and its channel
// round trip of several microseconds) and makes a Context safe for
// concurrent use: the driver API itself is thread safe. A context left
// current on a thread after a call is harmless, since every call sets its
// own first.
//
// Device pointers (DevicePtr) are plain integers that Go never dereferences.
// Host memory handed to the driver is only read or written during the call
// that receives it, except for pinned memory from HostAlloc, which the driver
// owns and which is therefore the only host memory async copies should use
// when the caller wants them truly asynchronous.
package driver
