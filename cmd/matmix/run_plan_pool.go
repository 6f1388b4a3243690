package main

import (
	"fmt"
	"io"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/mempool"
)

// openPlanEngine opens device i's engine and returns its backend's pool
// (engine.Engine.Pool: the CUDA backend's, nil on the CPU) for the
// scheduler and the statistics.
func openPlanEngine(name string, i, threads int) (*engine.Engine, backend.Pool, error) {
	e, err := engine.Open(engine.WithBackend(name), engine.WithDevice(i), engine.WithThreads(threads))
	if err != nil {
		return nil, nil, err
	}
	return e, e.Pool(), nil
}

// writePoolStats prints one line per device pool, as they stand at the end
// of the plan (before Close empties the caches).
func writePoolStats(w io.Writer, names []string, stats []mempool.Stats) {
	for i, st := range stats {
		fmt.Fprintf(w, "memory pool %s: in use %d B, cached %d B, peak %d B, %d allocations (%d hits, %d misses), hit rate %.1f%%\n",
			names[i], st.InUse, st.Cached, st.Peak, st.Allocs, st.Hits, st.Misses, 100*st.HitRate())
	}
}
