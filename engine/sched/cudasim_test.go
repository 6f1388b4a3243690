//go:build cudasim

package sched_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/sim"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

// The same runtime over the CUDA backend on the simulator: the engine runs
// the kernels there, and each device's pool allocates the workloads'
// buffers from the simulated device itself (cuda/device.Device is the
// pool's allocator as it is).

// faultyDevice fails its nth Alloc and every later one.
type faultyDevice struct {
	device.Device
	n     int64
	calls atomic.Int64
}

func (d *faultyDevice) Alloc(bytes int) (device.Ptr, error) {
	if d.n > 0 && d.calls.Add(1) >= d.n {
		return 0, errs.Device("faulty", nil, "injected out of memory")
	}
	return d.Device.Alloc(bytes)
}

// simDevice opens the simulator with a CUDA engine and a pool over the
// device (failing at the nth allocation when n > 0).
func simDevice(t *testing.T, streams int, n int64) (sched.Device, *mempool.Pool[device.Ptr]) {
	t.Helper()
	d, err := sim.Open()
	require.NoError(t, err)
	e := engine.New(cudabackend.New(d))
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	pool, err := mempool.New[device.Ptr](&faultyDevice{Device: d, n: n}, mempool.Options{Sync: mempool.NoSync})
	require.NoError(t, err)
	return sched.Device{Engine: e, Streams: streams, Memory: pool}, pool
}

// simJob is a float32 workload the CUDA backend implements: a Monarch
// product or recurrent GLA.
func simJob(t *testing.T, r *rand.Rand) checked {
	if r.IntN(2) == 0 {
		return newMonarch(t, r, tensor.Float32)
	}
	c := newGLA(t, r, tensor.Float32)
	c.W.(*sched.GLAJob).Opt.Form = engine.GLARecurrent
	return c
}

func TestCUDASimConcurrent(t *testing.T) {
	d, pool := simDevice(t, 2, 0)
	s := newSched(t, sched.Options{Devices: []sched.Device{d}})
	r := check.NewRand(t)
	const goroutines, total = 16, 200
	jobs := make([]checked, total)
	for i := range jobs {
		jobs[i] = simJob(t, r)
	}
	futs := make([]*sched.Future, total)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := g; i < total; i += goroutines {
				futs[i] = s.Submit(context.Background(), jobs[i].W)
			}
		})
	}
	wg.Wait()
	for i, f := range futs {
		require.NoError(t, f.Wait(), "submission %d", i)
		jobs[i].Check(t)
		assert.Equal(t, "cuda:sim", f.Record().DeviceName)
	}
	st := pool.Stats()
	assert.Zero(t, st.InUse)
	assert.Positive(t, st.Hits)
}

func TestCUDASimDiamond(t *testing.T) {
	d, pool := simDevice(t, 2, 0)
	s := newSched(t, sched.Options{Devices: []sched.Device{d}})
	r := check.NewRand(t)
	mk := func(shape1, shape2 []int) *sched.MonarchJob {
		return &sched.MonarchJob{
			W1: floatTensor(t, tensor.Float32, check.Uniform(r, shape1[0]*shape1[1]*shape1[2]), shape1...),
			W2: floatTensor(t, tensor.Float32, check.Uniform(r, shape2[0]*shape2[1]*shape2[2]), shape2...),
		}
	}
	top := mk([]int{2, 4, 4}, []int{2, 4, 4}) // (6, 8) -> (6, 8)
	top.X = floatTensor(t, tensor.Float32, check.Uniform(r, 6*8), 6, 8)
	left, right := mk([]int{2, 2, 4}, []int{2, 2, 2}), mk([]int{2, 2, 4}, []int{2, 2, 2}) // (6, 8) -> (6, 4)
	bottom := &sched.GLAJob{
		V:   floatTensor(t, tensor.Float32, check.Uniform(r, 6*3), 1, 6, 1, 3),
		G:   floatTensor(t, tensor.Float32, glaGates(r, 6*4), 1, 6, 1, 4),
		Opt: engine.GLAOptions{Form: engine.GLARecurrent, FinalState: true},
	}
	bar := newBarrier(2)
	g := sched.NewGraph()
	a := g.Add("top", top)
	b := g.Add("left", &atBarrier{left, bar}, sched.Bind("x", a, "y"))
	c := g.Add("right", &atBarrier{right, bar}, sched.Bind("x", a, "y"))
	g.Add("bottom", bottom, sched.Bind("q", b, "y").Reshape(1, 6, 1, 4), sched.Bind("k", c, "y").Reshape(1, 6, 1, 4))
	run, err := s.Run(context.Background(), g)
	require.NoError(t, err)
	for _, j := range []*sched.MonarchJob{top, left, right} {
		checkMonarch(t, j)
	}
	checkGLA(t, bottom)
	recs := run.Records()
	assert.True(t, recs[1].Started.Before(recs[2].Finished) && recs[2].Started.Before(recs[1].Finished))
	assert.Zero(t, pool.Stats().InUse)
}

// Fault injection on the simulator: a device allocation failing at the
// Nth call, and a launch the backend refuses (W4A4 is not on CUDA yet):
// each reaches the caller and the dependents, and the pool holds nothing.
func TestCUDASimFaults(t *testing.T) {
	r := check.NewRand(t)
	// Node i is a Monarch of batch 40(i+1) over blocks of 2x2: its x and y
	// take a new size class each time (two device allocations), its
	// weights come from the cache after node 0's (which allocates four).
	// So the device's calls 1-4 serve node 0, 5-6 node 1, 7-8 node 2...
	node := func(i int) (sched.Workload, func(testing.TB)) {
		batch := 40 * (i + 1)
		j := &sched.MonarchJob{
			X:  floatTensor(t, tensor.Float32, check.Uniform(r, batch*4), batch, 4),
			W1: floatTensor(t, tensor.Float32, check.Uniform(r, 8), 2, 2, 2),
			W2: floatTensor(t, tensor.Float32, check.Uniform(r, 8), 2, 2, 2),
		}
		return j, func(t testing.TB) { checkMonarch(t, j) }
	}
	for _, c := range []struct{ n, failing int64 }{{1, 0}, {4, 0}, {5, 1}, {8, 2}, {9, 3}} {
		t.Run(fmt.Sprintf("alloc failure at %d", c.n), func(t *testing.T) {
			d, pool := simDevice(t, 1, c.n)
			s, err := sched.New(sched.Options{Devices: []sched.Device{d}})
			require.NoError(t, err)
			g := sched.NewGraph()
			var nodes []*sched.Node
			var checks []func(testing.TB)
			for i := range 4 {
				w, chk := node(i)
				var in []sched.Edge
				if i > 0 {
					in = append(in, sched.After(nodes[i-1]))
				}
				nodes = append(nodes, g.Add(fmt.Sprint(i), w, in...))
				checks = append(checks, chk)
			}
			run, err := s.Start(context.Background(), g)
			require.NoError(t, err)
			require.ErrorIs(t, run.Wait(), errs.ErrDevice)
			for i, nd := range nodes {
				err := run.Future(nd).Err()
				switch {
				case int64(i) < c.failing:
					require.NoError(t, err)
					checks[i](t)
				case int64(i) == c.failing:
					require.ErrorIs(t, err, errs.ErrDevice)
				default:
					var de *sched.DepError
					require.ErrorAs(t, err, &de)
					require.ErrorIs(t, err, errs.ErrDevice)
				}
			}
			assert.Zero(t, pool.Stats().InUse)
			require.NoError(t, s.Close(context.Background()))
			assert.Zero(t, pool.Stats().Cached)
		})
	}
	t.Run("launch refused", func(t *testing.T) {
		d, pool := simDevice(t, 2, 0)
		s := newSched(t, sched.Options{Devices: []sched.Device{d}})
		g := sched.NewGraph()
		w := g.Add("w4a4", newW4A4(t, r).W)
		m := g.Add("after", &sched.MonarchJob{}, sched.Bind("x", w, "y"))
		ok := newMonarch(t, r, tensor.Float32)
		g.Add("independent", ok.W)
		run, err := s.Run(context.Background(), g)
		require.ErrorIs(t, err, errs.ErrUnsupported)
		var de *sched.DepError
		require.ErrorAs(t, run.Future(m).Err(), &de)
		require.ErrorIs(t, run.Future(m).Err(), errs.ErrUnsupported)
		ok.Check(t)
		assert.Zero(t, pool.Stats().InUse)
	})
}
