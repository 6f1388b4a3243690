package main

import (
	"fmt"
	"io"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/mempool"
)

// planPool is a device's caching pool as run --plan uses it: the
// scheduler's Memory, with statistics to print.
type planPool interface {
	Reserve(sizes []int, s mempool.Stream) (release func(mempool.Stream) error, err error)
	EmptyCache() error
	Stats() mempool.Stats
}

// openPlanEngine opens device i's engine and, on the cuda backend, returns
// the backend's own pool (a sched.BackendMemory: the scheduler reserves
// nothing from it) for the scheduler and the statistics. The CUDA backend
// is opened here rather than by engine.Open, which does not expose it;
// where it cannot be opened, engine.Open decides (the CPU for auto, the
// error for cuda). The CPU backend has no pool: nil.
func openPlanEngine(name string, i, threads int) (*engine.Engine, planPool, error) {
	if name == "cuda" || name == "auto" {
		if f, ok := backend.Lookup("cuda"); ok {
			if b, err := f(i); err == nil {
				e := engine.New(b, engine.WithDevice(i), engine.WithThreads(threads))
				if cb, ok := b.(*cudabackend.Backend); ok {
					return e, cb.Memory(), nil
				}
				return e, nil, nil
			}
		}
	}
	e, err := engine.Open(engine.WithBackend(name), engine.WithDevice(i), engine.WithThreads(threads))
	return e, nil, err
}

// writePoolStats prints one line per device pool, as they stand at the end
// of the plan (before Close empties the caches).
func writePoolStats(w io.Writer, names []string, stats []mempool.Stats) {
	for i, st := range stats {
		fmt.Fprintf(w, "memory pool %s: in use %d B, cached %d B, peak %d B, %d allocations (%d hits, %d misses), hit rate %.1f%%\n",
			names[i], st.InUse, st.Cached, st.Peak, st.Allocs, st.Hits, st.Misses, 100*st.HitRate())
	}
}
