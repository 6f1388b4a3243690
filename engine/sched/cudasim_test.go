//go:build cudasim

package sched_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/cuda/sim"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/sched/plan"
	"github.com/matmix/matmix/engine/tensor"
)

// The same runtime over the CUDA backend on the simulator: each scheduler
// stream runs its workloads on a device stream of the backend, every
// buffer comes from the backend's caching pool (the device's Memory, from
// which the scheduler then reserves nothing), copies go through pinned
// staging buffers and records carry the device time of events.

// simDevice opens the simulator with a CUDA engine; its Memory is the
// backend's pool.
func simDevice(t *testing.T, streams int) (sched.Device, *cudabackend.Backend, *sim.Device) {
	t.Helper()
	d, err := sim.Open()
	require.NoError(t, err)
	b, err := cudabackend.NewWith(d, cudabackend.Options{})
	require.NoError(t, err)
	e := engine.New(b)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return sched.Device{Engine: e, Streams: streams, Memory: b.Memory()}, b, d
}

// simJob is a float32 workload the CUDA backend implements: a Monarch
// product or GLA (either form).
func simJob(t *testing.T, r *rand.Rand) checked {
	if r.IntN(2) == 0 {
		return newMonarch(t, r, tensor.Float32)
	}
	return newGLA(t, r, tensor.Float32)
}

// requireDeviceTime checks that a record carries the device time the
// backend measured with events.
func requireDeviceTime(t *testing.T, r sched.Record) {
	t.Helper()
	dt := r.DeviceTime
	require.Equal(t, 1, dt.Calls, "%s: one backend call", r.Name)
	require.Positive(t, dt.Span, r.Name)
	require.Positive(t, dt.Kernels, r.Name)
	require.Positive(t, dt.CopyBytes, r.Name)
	require.GreaterOrEqual(t, dt.Span, dt.Kernels+dt.Copies, r.Name)
}

// 1,000 submissions from 64 goroutines on two streams: every result right,
// every record timed by events, the backend on exactly the scheduler's two
// device streams, the pool and the staging buffers reused, nothing in use.
func TestCUDASimConcurrent(t *testing.T) {
	d, b, _ := simDevice(t, 2)
	s := newSched(t, sched.Options{Devices: []sched.Device{d}})
	r := check.NewRand(t)
	const goroutines, total = 64, 1000
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
		rec := f.Record()
		assert.Equal(t, "cuda:sim", rec.DeviceName)
		requireDeviceTime(t, rec)
	}
	assert.Equal(t, 2, b.Streams(), "one device stream per scheduler stream")
	st := b.Memory().Stats()
	t.Logf("pool %+v, hit rate %.3f; staging %+v", st, st.HitRate(), b.Staging())
	assert.Zero(t, st.InUse)
	assert.Greater(t, st.HitRate(), 0.9)
	stg := b.Staging()
	assert.Equal(t, int64(total), stg.HostAllocs+stg.Reuses, "every call staged its copies")
	assert.Greater(t, stg.Reuses, int64(total-20), "the staging buffers are reused, grown a few times at most")
}

func TestCUDASimDiamond(t *testing.T) {
	d, cb, _ := simDevice(t, 2)
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
	assert.NotEqual(t, recs[1].Stream, recs[2].Stream)
	for _, rec := range recs {
		requireDeviceTime(t, rec)
	}
	assert.Zero(t, cb.Memory().Stats().InUse)
}

// Fault injection inside the simulator device: an allocation, a launch or
// a copy failing at the Nth call of its kind, in a chain of four Monarch
// nodes of growing batch (so that later nodes allocate too). The failing
// node's error is the injected device fault, every later node fails as its
// dependent with the same cause, the nodes before are right, the pool
// holds nothing in use, and Close leaves nothing on the device.
func TestCUDASimFaults(t *testing.T) {
	r := check.NewRand(t)
	chain := func(s *sched.Scheduler) (*sched.Graph, []*sched.Node, []*sched.MonarchJob) {
		g := sched.NewGraph()
		var nodes []*sched.Node
		var jobs []*sched.MonarchJob
		for i := range 4 {
			batch := 40 * (i + 1)
			j := &sched.MonarchJob{
				X:  floatTensor(t, tensor.Float32, check.Uniform(r, batch*4), batch, 4),
				W1: floatTensor(t, tensor.Float32, check.Uniform(r, 8), 2, 2, 2),
				W2: floatTensor(t, tensor.Float32, check.Uniform(r, 8), 2, 2, 2),
			}
			var in []sched.Edge
			if i > 0 {
				in = append(in, sched.After(nodes[i-1]))
			}
			nodes = append(nodes, g.Add(fmt.Sprint(i), j, in...))
			jobs = append(jobs, j)
		}
		return g, nodes, jobs
	}

	// A clean run counts each kind's calls up to the end of each node (the
	// nodes run one after the other; OnRecord sees each as it completes).
	var cum []sim.Faults
	{
		d, _, dev := simDevice(t, 1)
		var mu sync.Mutex
		s := newSched(t, sched.Options{Devices: []sched.Device{d}, OnRecord: func(sched.Record) {
			mu.Lock()
			defer mu.Unlock()
			cum = append(cum, dev.Calls())
		}})
		g, _, jobs := chain(s)
		_, err := s.Run(context.Background(), g)
		require.NoError(t, err)
		for _, j := range jobs {
			checkMonarch(t, j)
		}
		require.Len(t, cum, 4)
		t.Logf("calls by the end of each node: %+v", cum)
	}
	// failingNode is the node whose calls include the nth of a kind.
	failingNode := func(n int64, count func(sim.Faults) int64) int {
		for i, c := range cum {
			if n <= count(c) {
				return i
			}
		}
		t.Fatalf("call %d is past the plan", n)
		return -1
	}
	kinds := []struct {
		name   string
		count  func(sim.Faults) int64
		inject func(n int64) sim.Faults
	}{
		{"alloc", func(f sim.Faults) int64 { return f.Alloc }, func(n int64) sim.Faults { return sim.Faults{Alloc: n, Persist: true} }},
		{"launch", func(f sim.Faults) int64 { return f.Launch }, func(n int64) sim.Faults { return sim.Faults{Launch: n} }},
		{"copy", func(f sim.Faults) int64 { return f.Copy }, func(n int64) sim.Faults { return sim.Faults{Copy: n} }},
	}
	for _, k := range kinds {
		// The first call, the last call of node 1 and the last of node 2.
		for _, n := range []int64{1, k.count(cum[1]), k.count(cum[2])} {
			t.Run(fmt.Sprintf("%s failure at %d", k.name, n), func(t *testing.T) {
				failing := failingNode(n, k.count)
				d, b, dev := simDevice(t, 1)
				dev.InjectFaults(k.inject(n))
				s, err := sched.New(sched.Options{Devices: []sched.Device{d}})
				require.NoError(t, err)
				g, nodes, jobs := chain(s)
				run, err := s.Start(context.Background(), g)
				require.NoError(t, err)
				require.ErrorIs(t, run.Wait(), sim.ErrInjected)
				for i, nd := range nodes {
					err := run.Future(nd).Err()
					switch {
					case i < failing:
						require.NoError(t, err)
						checkMonarch(t, jobs[i])
					case i == failing:
						require.ErrorIs(t, err, errs.ErrDevice)
						require.ErrorIs(t, err, sim.ErrInjected)
					default:
						var de *sched.DepError
						require.ErrorAs(t, err, &de)
						require.ErrorIs(t, err, sim.ErrInjected)
					}
				}
				assert.Zero(t, b.Memory().Stats().InUse)
				require.NoError(t, s.Close(context.Background()))
				assert.Zero(t, b.Memory().Stats().Cached, "Close empties the backend's pool")
				assert.Zero(t, dev.Live().Allocs, "nothing left on the device")
			})
		}
	}
	t.Run("launch refused", func(t *testing.T) {
		d, b, _ := simDevice(t, 2)
		s := newSched(t, sched.Options{Devices: []sched.Device{d}})
		g := sched.NewGraph()
		w := g.Add("monarch64", newMonarch(t, r, tensor.Float64).W) // no float64 kernels on cuda
		m := g.Add("after", &sched.MonarchJob{}, sched.Bind("x", w, "y"))
		ok := newMonarch(t, r, tensor.Float32)
		g.Add("independent", ok.W)
		run, err := s.Run(context.Background(), g)
		require.ErrorIs(t, err, errs.ErrUnsupported)
		var de *sched.DepError
		require.ErrorAs(t, run.Future(m).Err(), &de)
		require.ErrorIs(t, run.Future(m).Err(), errs.ErrUnsupported)
		ok.Check(t)
		assert.Zero(t, b.Memory().Stats().InUse)
	})
}

// cudaMix is a plan the CUDA backend runs whole: a GLA layer feeding a
// Monarch MLP, and a recurrent GLA beside them.
const cudaMix = `{
  "seed": 5,
  "repeat": 20,
  "nodes": [
    {"name": "attn", "gla": {"b": 1, "t": 16, "h": 2, "k": 8, "v": 8, "form": "chunked"}},
    {"name": "mlp", "monarch": {"batch": 16, "n": 16, "blocks": 4}, "inputs": {"x": "attn.o"}},
    {"name": "side", "gla": {"b": 2, "t": 8, "h": 1, "k": 4, "v": 4, "form": "recurrent", "final_state": true}}
  ]
}`

// A repeated mixed plan over the CUDA backend: the pool serves above 90%
// of the allocations from its cache, the staging buffers are reused, every
// record carries its device time, and the Chrome trace shows it.
func TestCUDASimPlan(t *testing.T) {
	p, err := plan.Parse(strings.NewReader(cudaMix))
	require.NoError(t, err)
	pp, err := p.Prepare()
	require.NoError(t, err)
	d, b, _ := simDevice(t, 2)
	s := newSched(t, sched.Options{Devices: []sched.Device{d}})
	res, err := pp.Run(context.Background(), s)
	require.NoError(t, err)
	require.Len(t, res.Records, 60)
	for _, rec := range res.Records {
		requireDeviceTime(t, rec)
	}
	st := b.Memory().Stats()
	t.Logf("pool %+v, hit rate %.3f; staging %+v", st, st.HitRate(), b.Staging())
	assert.Greater(t, st.HitRate(), 0.9)
	assert.Zero(t, st.InUse)
	assert.Equal(t, st.Misses, st.DeviceAllocs)
	stg := b.Staging()
	assert.LessOrEqual(t, stg.HostAllocs, int64(2*3), "a few staging buffers per stream")
	assert.Equal(t, int64(60), stg.HostAllocs+stg.Reuses)

	var buf bytes.Buffer
	require.NoError(t, sched.EncodeTrace(&buf, res.Records))
	var tr struct {
		TraceEvents []struct {
			Ph   string         `json:"ph"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &tr))
	events := 0
	for _, ev := range tr.TraceEvents {
		if ev.Ph == "X" {
			events++
			assert.Positive(t, ev.Args["device_us"], "device time in the trace")
			assert.Positive(t, ev.Args["kernel_us"])
		}
	}
	assert.Equal(t, 60, events)
}

// Cancelling mid-plan over the CUDA backend: CUDA work runs on one stream
// while a gate holds the other; the plan stops promptly, the nodes behind
// the gate fail with the cancellation without running, whatever finished is
// right, and the pool holds nothing in use (TestMain checks goroutines).
func TestCUDASimCancelMidPlan(t *testing.T) {
	d, b, _ := simDevice(t, 2)
	s := newSched(t, sched.Options{Devices: []sched.Device{d}})
	r := check.NewRand(t)
	g := sched.NewGraph()
	gt := newGate(true)
	hold := g.Add("hold", gt).On(0, 0)
	var behind []*sched.Node
	for i := range 6 {
		prev := hold
		if i > 0 {
			prev = behind[i-1]
		}
		behind = append(behind, g.Add(fmt.Sprintf("behind%d", i), simJob(t, r).W, sched.After(prev)))
	}
	var side []*sched.Node
	var sideJobs []checked
	for i := range 8 {
		c := simJob(t, r)
		sideJobs = append(sideJobs, c)
		side = append(side, g.Add(fmt.Sprintf("side%d", i), c.W).On(0, 1))
	}
	run := cancelMidPlan(t, s, g, gt)
	require.ErrorIs(t, run.Wait(), context.Canceled)
	require.ErrorIs(t, run.Future(hold).Err(), context.Canceled)
	for _, n := range behind {
		var de *sched.DepError
		require.ErrorAs(t, run.Future(n).Err(), &de, n.Name())
		assert.False(t, run.Future(n).Record().Ran(), n.Name())
	}
	for i, n := range side {
		if err := run.Future(n).Err(); err != nil {
			require.ErrorIs(t, err, context.Canceled, n.Name())
			continue
		}
		sideJobs[i].Check(t)
	}
	assert.Zero(t, b.Memory().Stats().InUse)
}
