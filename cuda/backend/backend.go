// Package backend is matmix's CUDA backend: engine/backend.Backend over a
// device.Device. It registers itself as "cuda" (engine.Open's "cuda" and
// "auto" find it once package engine imports this one): without the
// cudasim build tag the device is the GPU through the driver loaded at run
// time; with it, the CPU simulator (package cuda/sim), so that CI runs the
// same code, kernels included, without a GPU.
//
// Operands are host tensors: each operation takes a device stream, copies
// its inputs through the stream's pinned staging buffer to device buffers
// from the caching pool, launches the kernels through the generated
// wrappers of package cuda/kernels on the stream, copies the outputs back
// the same way and frees the buffers to the pool (call.go, streams.go).
// Implemented: Monarch forward (fused or two-pass) and backward, GLA in both
// forms (chunked and recurrent kernels) and the decode step, for float32,
// float16 and bfloat16; W4A4 GEMM (int4 and int8 groups on the integer
// tensor cores); SpGEMM in float32 and float64 (hash accumulators by row
// bins). float64 Monarch and GLA return errs.ErrUnsupported (engine.Open's
// "auto" runs them on the CPU).
package backend

import (
	"errors"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
)

func init() {
	backend.Register("cuda", func(ordinal int) (backend.Backend, error) {
		// A missing or unreadable autotune cache leaves the heuristics
		// in charge: `matmix bench --autotune` reports a bad file.
		var tune *TuneCache
		if path, err := DefaultTuneCachePath(); err == nil {
			tune, _ = LoadTuneCache(path)
		}
		return Open(ordinal, Options{Tune: tune})
	})
}

// Open returns a backend configured by o on device ordinal: the GPU
// through the driver, or the simulator in a cudasim build. The registered
// "cuda" backend is Open with the default autotune cache.
func Open(ordinal int, o Options) (*Backend, error) {
	d, err := openDevice(ordinal)
	if err != nil {
		return nil, err
	}
	b, err := NewWith(d, o)
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return b, nil
}

// Options configure NewWith.
type Options struct {
	// Memory is the pool the backend allocates its device buffers from,
	// shared with whoever else allocates from it. Nil: a pool of the
	// backend's own over the device, whose Sync is the device's stream
	// synchronization (so blocks move between the backend's streams).
	Memory *mempool.Pool[device.Ptr]
	// MemoryLimit bounds the backend's own pool (mempool.Options.Limit);
	// 0 means no limit. It does not apply to a pool given in Memory.
	MemoryLimit int64
	// Tune holds the autotuned winners (matmix bench --autotune): a shape
	// found there for this device runs its winning plan where the caller
	// leaves the choice open. Nil: the heuristics of *_plan.go alone.
	Tune *TuneCache
}

// Backend runs the workloads on one device. It is safe for concurrent use:
// each call runs on a device stream of its own for its duration (the one
// the context's stream index maps onto, else a free one of a pool), with
// its buffers from the caching pool and its copies staged through the
// stream's pinned buffer (see docs/runtime.md).
type Backend struct {
	d       device.Device
	mem     *mempool.Pool[device.Ptr] // nil only without a device
	streams *streamPool
	tune    *TuneCache // read-only once the backend is made; may be nil
}

// New returns a backend on d with the default options; Close closes d.
// A backend on a nil device validates its arguments and fails every call
// that reaches the device.
func New(d device.Device) *Backend {
	b, err := NewWith(d, Options{})
	if err != nil { // only a nil device gets here: no pool over it
		return &Backend{d: d, streams: newStreamPool(d)}
	}
	return b
}

// NewWith returns a backend on d configured by o; Close closes d.
func NewWith(d device.Device, o Options) (*Backend, error) {
	if d == nil {
		return nil, errs.Argument("cuda", "nil device")
	}
	mem := o.Memory
	if mem == nil {
		var err error
		mem, err = mempool.New[device.Ptr](d, mempool.Options{Limit: o.MemoryLimit, Sync: func(s mempool.Stream) error {
			return d.Sync(device.Stream(s))
		}})
		if err != nil {
			return nil, err
		}
	}
	return &Backend{d: d, mem: mem, streams: newStreamPool(d), tune: o.Tune}, nil
}

// Name is the device's name: "cuda:0", ... or "cuda:sim".
func (b *Backend) Name() string { return b.d.Name() }

// Device returns the device the backend runs on.
func (b *Backend) Device() device.Device { return b.d }

// props are the device's properties; a backend without a device gets zero
// ones, so that it still validates and plans (its calls fail at begin).
func (b *Backend) props() device.Props {
	if b.d == nil {
		return device.Props{}
	}
	return b.d.Props()
}

// Memory is the backend's device-memory pool (its statistics, EmptyCache).
// It is a sched.Memory that package sched recognizes as the backend's
// own: a scheduler given it reserves no workload footprints from it, since
// the backend allocates every buffer there itself.
func (b *Backend) Memory() Memory { return Memory{b.mem} }

// Pool is Memory as engine/backend.Pooled offers it (engine.Engine.Pool).
func (b *Backend) Pool() backend.Pool { return b.Memory() }

// Memory is the backend's pool, marked as the memory the backend itself
// allocates from.
type Memory struct{ *mempool.Pool[device.Ptr] }

// BackendAllocates marks the pool as the one the backend allocates from.
func (Memory) BackendAllocates() {}

// Close destroys the streams, events and pinned buffers, returns the
// pool's cached blocks to the device and closes it. Calls must have
// returned.
func (b *Backend) Close() error {
	var err error
	if b.d != nil {
		err = b.streams.close()
	}
	if b.mem != nil {
		err = errors.Join(err, b.mem.EmptyCache())
	}
	if b.d != nil {
		err = errors.Join(err, b.d.Close())
	}
	return err
}
