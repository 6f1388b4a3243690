// Package cpu is matmix's CPU backend: float64 Monarch runs the obviously
// correct reference of package ref; everything else (float32, float16 and
// bfloat16 widened to float32, and float64 GLA and SpGEMM, whose float64
// forms are checked against package ref) runs parallel blocked loops over
// all cores.
package cpu

import (
	"runtime"
)

// Backend is the CPU implementation of backend.Backend.
type Backend struct {
	threads int
	spgemm  spgemmPool // SpGEMM workspaces kept between products
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
