// Package cpu is matmix's CPU backend: float64 inputs run the obviously
// correct references of package ref; float32 (and float16/bfloat16, widened
// to float32) run parallel blocked loops over all cores.
package cpu

import (
	"runtime"
)

// Backend is the CPU implementation of backend.Backend.
type Backend struct {
	threads int
}

// New returns a CPU backend using up to threads goroutines (0: GOMAXPROCS).
func New(threads int) *Backend {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return &Backend{threads: threads}
}

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Close does nothing: the CPU backend holds no resources.
func (b *Backend) Close() error { return nil }

// Threads is the parallelism bound.
func (b *Backend) Threads() int { return b.threads }
