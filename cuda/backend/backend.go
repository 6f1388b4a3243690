// Package backend is matmix's CUDA backend: engine/backend.Backend over a
// device.Device. It registers itself as "cuda" (engine.Open's "cuda" and
// "auto" find it once package engine imports this one): without the
// cudasim build tag the device is the GPU through the driver loaded at run
// time; with it, the CPU simulator (package cuda/sim), so that CI runs the
// same code, kernels included, without a GPU.
//
// Operands are host tensors: each operation copies its inputs to device
// buffers, launches the kernels through the generated wrappers of package
// cuda/kernels, copies the outputs back and frees the buffers. Implemented
// for float32, float16 and bfloat16: Monarch forward (fused or two-pass) and
// backward, GLA in both forms (chunked and recurrent kernels) and the decode
// step. float64, W4A4 and SpGEMM return errs.ErrUnsupported for now.
package backend

import (
	"context"
	"errors"
	"unsafe"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

func init() {
	backend.Register("cuda", func(ordinal int) (backend.Backend, error) {
		d, err := openDevice(ordinal)
		if err != nil {
			return nil, err
		}
		return New(d), nil
	})
}

// Backend runs the workloads on one device. It is safe for concurrent use
// (the device is, and every call has its own buffers).
type Backend struct {
	d device.Device
}

// New returns a backend on d; Close closes d.
func New(d device.Device) *Backend { return &Backend{d: d} }

// Name is the device's name: "cuda:0", ... or "cuda:sim".
func (b *Backend) Name() string { return b.d.Name() }

// Device returns the device the backend runs on.
func (b *Backend) Device() device.Device { return b.d }

// Close closes the device.
func (b *Backend) Close() error { return b.d.Close() }

func (b *Backend) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	return errs.Unsupported("w4a4", "not implemented on cuda yet")
}

func (b *Backend) SpGEMM32(ctx context.Context, x, y *sparse.CSR[float32], opt backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	return nil, errs.Unsupported("spgemm", "not implemented on cuda yet")
}

func (b *Backend) SpGEMM64(ctx context.Context, x, y *sparse.CSR[float64], opt backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	return nil, errs.Unsupported("spgemm", "not implemented on cuda yet")
}

// buffers are the device allocations of one call, freed together.
type buffers struct {
	d    device.Device
	ptrs []device.Ptr
}

// upload copies host data to a new device buffer.
func upload[T device.Elem](bs *buffers, data []T) (device.Ptr, error) {
	p, err := device.Upload(bs.d, data)
	if err == nil {
		bs.ptrs = append(bs.ptrs, p)
	}
	return p, err
}

// alloc returns an uninitialized device buffer of n elements of T.
func alloc[T device.Elem](bs *buffers, n int) (device.Ptr, error) {
	var zero T
	p, err := bs.d.Alloc(max(n*int(unsafe.Sizeof(zero)), 1))
	if err == nil {
		bs.ptrs = append(bs.ptrs, p)
	}
	return p, err
}

// free frees every buffer; err is the call's error so far, joined with any
// failure to free (a simulator fault found at free time is one).
func (bs *buffers) free(err error) error {
	for _, p := range bs.ptrs {
		if ferr := bs.d.Free(p); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	return err
}
