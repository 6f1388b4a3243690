package sched_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/mempool/mempooltest"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

// backendPool is a pool marked as the one the engine's backend allocates
// from, as cuda/backend's Backend.Memory() is.
type backendPool struct{ *mempool.Pool[uint64] }

func (backendPool) BackendAllocates() {}

// TestBackendMemory: the scheduler reserves footprints from a plain
// Memory but not from a BackendMemory (the backend's own allocations are
// the workload's memory), and empties both at Close. On the CPU backend
// records carry no device time.
func TestBackendMemory(t *testing.T) {
	r := check.NewRand(t)
	for _, own := range []bool{false, true} {
		dev := &mempooltest.Allocator{}
		d, pool := pooled(t, cpuEngine(t, 1), 1, dev)
		if own {
			d.Memory = backendPool{pool}
		}
		s, err := sched.New(sched.Options{Devices: []sched.Device{d}})
		require.NoError(t, err)
		job := newMonarch(t, r, tensor.Float32)
		f := s.Submit(context.Background(), job.W)
		require.NoError(t, f.Wait())
		job.Check(t)
		assert.Zero(t, f.Record().DeviceTime, "the CPU measures no device time")
		if own {
			assert.Zero(t, pool.Stats().Allocs, "nothing reserved from the backend's own pool")
			b, err := pool.Alloc(100, 0) // as the backend would
			require.NoError(t, err)
			require.NoError(t, pool.Free(b, 0))
		} else {
			assert.Equal(t, int64(len(job.W.Footprint())), pool.Stats().Allocs, "the footprint reserved")
		}
		require.NoError(t, s.Close(context.Background()))
		assert.Zero(t, pool.Stats().Cached, "Close empties the cache")
		assert.Zero(t, dev.Live())
	}
}
