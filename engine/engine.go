// Package engine is matmix's public API: open an Engine on a backend (the
// CPU, or a CUDA GPU where one is usable) and compute Monarch products, gated
// linear attention, W4A4 GEMM and SpGEMM with the semantics of
// shared/spec/workloads.md.
//
//	e, err := engine.Open(engine.WithBackend("auto"))
//	if err != nil { ... }
//	defer e.Close()
//	y, err := e.Monarch(ctx, x, w1, w2)
package engine

import (
	"fmt"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// Re-exported so that most users need only this package.
type (
	Tensor = tensor.Tensor
	DType  = tensor.DType
)

// Element types.
const (
	Float32  = tensor.Float32
	Float64  = tensor.Float64
	Float16  = tensor.Float16
	BFloat16 = tensor.BFloat16
	Int8     = tensor.Int8
	Int32    = tensor.Int32
	Int64    = tensor.Int64
	Int4     = tensor.Int4
)

// Error kinds, for errors.Is.
var (
	ErrShape       = errs.ErrShape
	ErrDType       = errs.ErrDType
	ErrArgument    = errs.ErrArgument
	ErrDevice      = errs.ErrDevice
	ErrLimit       = errs.ErrLimit
	ErrFormat      = errs.ErrFormat
	ErrUnsupported = errs.ErrUnsupported
)

// Options configure Open.
type Options struct {
	// Backend is "auto" (CUDA where a usable GPU is found, else the CPU;
	// on a GPU, the operations the CUDA backend does not support run on the
	// CPU), "cpu" or "cuda" (the GPU alone: unsupported operations are
	// errs.ErrUnsupported).
	Backend string
	// Device is the GPU index for the CUDA backend.
	Device int
	// Threads bounds the CPU backend's parallelism; 0 means GOMAXPROCS.
	Threads int
	// MaxSpGEMMBytes bounds the memory one SpGEMM may allocate; 0 means
	// DefaultMaxSpGEMMBytes.
	MaxSpGEMMBytes int64
}

// DefaultMaxSpGEMMBytes is the default SpGEMM memory limit (8 GiB).
const DefaultMaxSpGEMMBytes = sparse.DefaultMaxSpGEMMBytes

// Option sets one field of Options.
type Option func(*Options)

// WithBackend selects "auto", "cpu" or "cuda".
func WithBackend(name string) Option { return func(o *Options) { o.Backend = name } }

// WithDevice selects the GPU index.
func WithDevice(i int) Option { return func(o *Options) { o.Device = i } }

// WithThreads bounds the CPU backend's parallelism.
func WithThreads(n int) Option { return func(o *Options) { o.Threads = n } }

// WithMaxSpGEMMBytes bounds SpGEMM memory.
func WithMaxSpGEMMBytes(n int64) Option { return func(o *Options) { o.MaxSpGEMMBytes = n } }

// Engine runs workloads on one backend. It is safe for concurrent use.
type Engine struct {
	b      backend.Backend
	opts   Options
	reason string
}

// Open opens an engine. With backend "auto" it falls back to the CPU when no
// GPU is usable and records why (see Reason); with "cuda" that is an error.
func Open(opts ...Option) (*Engine, error) {
	o := Options{Backend: "auto"}
	for _, f := range opts {
		f(&o)
	}
	if o.Threads < 0 {
		return nil, errs.Argument("engine.Open", "threads must be >= 0, got %d", o.Threads)
	}
	if o.Device < 0 {
		return nil, errs.Argument("engine.Open", "device index must be >= 0, got %d", o.Device)
	}
	if o.MaxSpGEMMBytes < 0 {
		return nil, errs.Argument("engine.Open", "SpGEMM memory limit must be >= 0, got %d", o.MaxSpGEMMBytes)
	}
	if o.MaxSpGEMMBytes == 0 {
		o.MaxSpGEMMBytes = DefaultMaxSpGEMMBytes
	}
	switch o.Backend {
	case "cpu":
		return &Engine{b: cpu.New(o.Threads), opts: o, reason: "cpu backend requested"}, nil
	case "cuda", "auto":
		b, err := openCUDA(o.Device)
		if err == nil && o.Backend == "auto" {
			// What the GPU has no kernels for (float64 Monarch and GLA) runs
			// on the CPU rather than failing: "auto" promises a result.
			fb := backend.Fallback{Primary: b, Secondary: cpu.New(o.Threads)}
			return &Engine{b: fb, opts: o, reason: "CUDA device found; what it has no kernels for runs on the CPU"}, nil
		}
		if err == nil {
			return &Engine{b: b, opts: o, reason: "CUDA device found"}, nil
		}
		if o.Backend == "cuda" {
			return nil, err
		}
		return &Engine{b: cpu.New(o.Threads), opts: o, reason: "no usable GPU: " + err.Error()}, nil
	}
	return nil, errs.Argument("engine.Open", "unknown backend %q (want auto, cpu or cuda)", o.Backend)
}

func openCUDA(device int) (backend.Backend, error) {
	f, ok := backend.Lookup("cuda")
	if !ok {
		return nil, errs.Device("engine.Open", nil, "this build has no CUDA backend")
	}
	b, err := f(device)
	if err != nil {
		return nil, errs.Device("engine.Open", err, "cuda device %d", device)
	}
	return b, nil
}

// New wraps an already opened backend (tests and custom backends use it).
func New(b backend.Backend, opts ...Option) *Engine {
	o := Options{Backend: b.Name(), MaxSpGEMMBytes: DefaultMaxSpGEMMBytes}
	for _, f := range opts {
		f(&o)
	}
	if o.MaxSpGEMMBytes <= 0 {
		o.MaxSpGEMMBytes = DefaultMaxSpGEMMBytes
	}
	return &Engine{b: b, opts: o, reason: "backend given"}
}

// Backend returns the backend's name ("cpu", "cuda:0", ...).
func (e *Engine) Backend() string { return e.b.Name() }

// Pool is the caching device-memory pool the backend allocates from (the
// CUDA backend's, also behind "auto"), or nil for a backend without one
// (the CPU's). A scheduler given it as a device's Memory reserves nothing
// from it; its Stats say how the pool served the engine's work.
func (e *Engine) Pool() backend.Pool {
	if p, ok := e.b.(backend.Pooled); ok {
		return p.Pool()
	}
	return nil
}

// Reason says why this backend was chosen (for "auto", why not the GPU).
func (e *Engine) Reason() string { return e.reason }

// Close releases the backend.
func (e *Engine) Close() error {
	if err := e.b.Close(); err != nil {
		return fmt.Errorf("engine: close %s: %w", e.b.Name(), err)
	}
	return nil
}
