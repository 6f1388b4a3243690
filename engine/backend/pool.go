package backend

import "github.com/matmix/matmix/engine/mempool"

// Pool is the caching device-memory pool a backend allocates its own
// buffers from, as a scheduler and the tools see it: a sched.BackendMemory
// (the scheduler reserves no footprints from it) with statistics.
type Pool interface {
	Reserve(sizes []int, s mempool.Stream) (release func(mempool.Stream) error, err error)
	EmptyCache() error
	Stats() mempool.Stats
	BackendAllocates()
}

// Pooled is a backend with such a pool; Pool may return nil (a Fallback
// whose primary has none).
type Pooled interface {
	Pool() Pool
}

// Pool is the primary's pool, or nil: the secondary (the CPU) allocates
// host memory only.
func (f Fallback) Pool() Pool {
	if p, ok := f.Primary.(Pooled); ok {
		return p.Pool()
	}
	return nil
}
