package sched_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/mempool/mempooltest"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// 1,000 submissions from 64 goroutines at once, over two devices of two
// streams, all four workloads: each result matches package ref.
func TestConcurrentSubmissions(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{
		{Engine: cpuEngine(t, 1), Streams: 2},
		{Engine: cpuEngine(t, 1), Streams: 2},
	}})
	const goroutines, total = 64, 1000
	r := check.NewRand(t)
	jobs := make([]checked, total)
	for i := range jobs {
		jobs[i] = newAny(t, r)
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
	used := map[[2]int]int{}
	for i, f := range futs {
		require.NoError(t, f.Wait(), "submission %d", i)
		jobs[i].Check(t)
		rec := f.Record()
		assert.True(t, rec.Ran())
		assert.Equal(t, jobs[i].W.Kind(), rec.Kind)
		assert.Positive(t, rec.Bytes)
		assert.False(t, rec.Finished.Before(rec.Started))
		used[[2]int{rec.Device, rec.Stream}]++
	}
	// Least-loaded placement spreads the burst (every stream, in practice).
	assert.GreaterOrEqual(t, len(used), 2, "the work spread over streams: %v", used)
	t.Logf("workloads per (device, stream): %v", used)
}

// barrier holds n workloads until all n run at once; it fails (rather than
// hangs) when they do not.
type barrier struct {
	mu      sync.Mutex
	waiting int
	all     chan struct{}
	n       int
}

func newBarrier(n int) *barrier { return &barrier{all: make(chan struct{}), n: n} }

func (b *barrier) wait() error {
	b.mu.Lock()
	b.waiting++
	if b.waiting == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("barrier: the other workload never ran concurrently")
	}
}

// atBarrier runs its workload only once every workload of the barrier has
// started: a test hook that proves concurrency instead of hoping for it.
type atBarrier struct {
	sched.Workload
	b *barrier
}

func (w *atBarrier) Run(ctx context.Context, e *engine.Engine) error {
	if err := w.b.wait(); err != nil {
		return err
	}
	return w.Workload.Run(ctx, e)
}

// A diamond: w4a4 -> (monarch, monarch) -> gla. The middle nodes run
// concurrently (their records overlap; the barrier would fail otherwise)
// and every node's result matches package ref on the inputs it got.
func TestDiamond(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1), Streams: 2}}})
	r := check.NewRand(t)
	const M, K, N = 6, 20, 8 // w4a4 y is (6, 8)
	w, err := engine.QuantizeWeights(floatTensor(t, tensor.Float32, check.Uniform(r, N*K), N, K), 8)
	require.NoError(t, err)
	top := &sched.W4A4Job{X: floatTensor(t, tensor.Float32, check.Uniform(r, M*K), M, K), W: w, Int8Frac: 0.25}
	// Monarch on (6, 8): k=2 blocks of q=2 x p=4, then l=2 blocks of s=2 x r=2: y is (6, 4).
	left := &sched.MonarchJob{
		W1: floatTensor(t, tensor.Float32, check.Uniform(r, 2*2*4), 2, 2, 4),
		W2: floatTensor(t, tensor.Float32, check.Uniform(r, 2*2*2), 2, 2, 2),
	}
	right := &sched.MonarchJob{
		W1: floatTensor(t, tensor.Float32, check.Uniform(r, 2*2*4), 2, 2, 4),
		W2: floatTensor(t, tensor.Float32, check.Uniform(r, 2*2*2), 2, 2, 2),
	}
	// GLA with B=1, T=6, H=1, K=4, V=3: q from left, k from right.
	bottom := &sched.GLAJob{
		V:   floatTensor(t, tensor.Float32, check.Uniform(r, 6*3), 1, 6, 1, 3),
		G:   floatTensor(t, tensor.Float32, glaGates(r, 6*4), 1, 6, 1, 4),
		Opt: engine.GLAOptions{FinalState: true},
	}
	bar := newBarrier(2)
	g := sched.NewGraph()
	a := g.Add("top", top)
	b := g.Add("left", &atBarrier{left, bar}, sched.Bind("x", a, "y"))
	c := g.Add("right", &atBarrier{right, bar}, sched.Bind("x", a, "y"))
	d := g.Add("bottom", bottom, sched.Bind("q", b, "y").Reshape(1, 6, 1, 4), sched.Bind("k", c, "y").Reshape(1, 6, 1, 4))
	run, err := s.Run(context.Background(), g)
	require.NoError(t, err)

	checkW4A4(t, top)
	checkMonarch(t, left)
	checkMonarch(t, right)
	checkGLA(t, bottom)
	// Edges pass the tensor itself (a view), not a copy.
	assert.Same(t, &top.Y.Float32()[0], &left.X.Float32()[0])
	assert.Same(t, &left.Y.Float32()[0], &bottom.Q.Float32()[0])

	recs := run.Records()
	require.Len(t, recs, 4)
	rb, rc := recs[1], recs[2]
	assert.Equal(t, "left", rb.Name)
	assert.Equal(t, "right", rc.Name)
	assert.True(t, rb.Started.Before(rc.Finished) && rc.Started.Before(rb.Finished),
		"middle nodes overlap: left [%v, %v], right [%v, %v]", rb.Started, rb.Finished, rc.Started, rc.Finished)
	assert.NotEqual(t, rb.Stream, rc.Stream)
	for i := 1; i < 4; i++ {
		assert.False(t, recs[i].Started.Before(recs[0].Finished), "%s starts after top", recs[i].Name)
	}
	assert.False(t, recs[3].Started.Before(rb.Finished))
	assert.False(t, recs[3].Started.Before(rc.Finished))
	require.NoError(t, run.Future(d).Err())
}

// pooled is a device whose memory is a pool over a fake allocator.
func pooled(t *testing.T, e *engine.Engine, streams int, dev *mempooltest.Allocator) (sched.Device, *mempool.Pool[uint64]) {
	t.Helper()
	p, err := mempool.New[uint64](dev, mempool.Options{Sync: mempool.NoSync})
	require.NoError(t, err)
	return sched.Device{Engine: e, Streams: streams, Memory: p}, p
}

// chain is a -> b -> c (Monarch, then GLA reading it, then another Monarch
// reading that) plus an independent node, on random inputs.
func chain(t *testing.T, r *rand.Rand) (*sched.Graph, []*sched.Node) {
	t.Helper()
	g := sched.NewGraph()
	// d first: on one stream the roots then run d, a (in the order added),
	// and b, c as they become ready.
	other := newMonarch(t, r, tensor.Float32)
	d := g.Add("d", other.W)
	// Monarch (4, 6) -> (4, 6): k=2, q=3, p=3, l=3, s=2, r=2.
	a := g.Add("a", &sched.MonarchJob{
		X:  floatTensor(t, tensor.Float32, check.Uniform(r, 4*6), 4, 6),
		W1: floatTensor(t, tensor.Float32, check.Uniform(r, 2*3*3), 2, 3, 3),
		W2: floatTensor(t, tensor.Float32, check.Uniform(r, 3*2*2), 3, 2, 2),
	})
	b := g.Add("b", &sched.GLAJob{
		K: floatTensor(t, tensor.Float32, check.Uniform(r, 4*6), 1, 4, 2, 3),
		V: floatTensor(t, tensor.Float32, check.Uniform(r, 4*6), 1, 4, 2, 3),
		G: floatTensor(t, tensor.Float32, glaGates(r, 4*6), 1, 4, 2, 3),
	}, sched.Bind("q", a, "y").Reshape(1, 4, 2, 3))
	c := g.Add("c", &sched.MonarchJob{
		W1: floatTensor(t, tensor.Float32, check.Uniform(r, 2*3*3), 2, 3, 3),
		W2: floatTensor(t, tensor.Float32, check.Uniform(r, 3*2*2), 3, 2, 2),
	}, sched.Bind("x", b, "o").Reshape(4, 6))
	return g, []*sched.Node{a, b, c, d}
}

// Fault injection: an allocation failure or a launch failure at the Nth
// call reaches the caller and every dependent; the pool's in-use bytes
// return to zero and, once closed, nothing is left on the device.
func TestFaultInjection(t *testing.T) {
	r := check.NewRand(t)
	for n := 1; n <= 4; n++ {
		t.Run(fmt.Sprintf("alloc failure at call %d", n), func(t *testing.T) {
			dev := &mempooltest.Allocator{}
			d, pool := pooled(t, cpuEngine(t, 1), 1, dev)
			s, err := sched.New(sched.Options{Devices: []sched.Device{d}})
			require.NoError(t, err)
			// A node's buffers are allocated together; fail the nth device
			// allocation from then on (the pool's retry fails too).
			dev.Fail = mempooltest.FailAt(n)
			g, nodes := chain(t, r)
			for _, nd := range nodes {
				nd.On(0, 0) // one stream: a, b, c, d in order
			}
			run, err := s.Start(context.Background(), g)
			require.NoError(t, err)
			werr := run.Wait()
			require.ErrorIs(t, werr, errs.ErrDevice)
			require.ErrorIs(t, werr, mempooltest.ErrOutOfMemory)
			failed := 0
			for _, nd := range nodes {
				if err := run.Future(nd).Err(); err != nil {
					failed++
					require.ErrorIs(t, err, errs.ErrDevice, nd.Name())
				}
			}
			assert.Positive(t, failed)
			// Whatever failed, its dependents failed with it.
			for i, nd := range nodes[:3] {
				if run.Future(nd).Err() != nil {
					for _, dep := range nodes[i+1 : 3] {
						var de *sched.DepError
						require.ErrorAs(t, run.Future(dep).Err(), &de, dep.Name())
						assert.False(t, run.Future(dep).Record().Ran())
					}
					break
				}
			}
			assert.Zero(t, pool.Stats().InUse)
			require.NoError(t, s.Close(context.Background()))
			assert.Zero(t, pool.Stats().Cached)
			assert.Zero(t, dev.Live())
		})
	}
	for n := 1; n <= 4; n++ {
		t.Run(fmt.Sprintf("launch failure at call %d", n), func(t *testing.T) {
			dev := &mempooltest.Allocator{}
			d, pool := pooled(t, newFaultEngine(n), 1, dev)
			s, err := sched.New(sched.Options{Devices: []sched.Device{d}})
			require.NoError(t, err)
			g, nodes := chain(t, r)
			for _, nd := range nodes {
				nd.On(0, 0)
			}
			run, err := s.Start(context.Background(), g)
			require.NoError(t, err)
			require.ErrorIs(t, run.Wait(), errInjected)
			// One stream runs d, a, b, c (see chain): the nth call is node
			// order[n-1]. It
			// fails, its dependents in the chain a -> b -> c fail with
			// it, and the others succeed.
			order := []int{3, 0, 1, 2}
			failing := order[n-1]
			for i, nd := range nodes {
				err := run.Future(nd).Err()
				var de *sched.DepError
				switch {
				case i == failing:
					require.ErrorIs(t, err, errInjected)
					assert.False(t, errors.As(err, &de))
				case failing < 3 && i < 3 && i > failing:
					require.ErrorAs(t, err, &de)
					require.ErrorIs(t, err, errInjected)
				default:
					require.NoError(t, err, nd.Name())
				}
			}
			assert.Zero(t, pool.Stats().InUse)
			require.NoError(t, s.Close(context.Background()))
			assert.Zero(t, dev.Live())
		})
	}
	t.Run("submissions", func(t *testing.T) {
		s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: newFaultEngine(5), Streams: 2}}})
		var futs []*sched.Future
		for range 10 {
			futs = append(futs, s.Submit(context.Background(), newMonarch(t, r, tensor.Float32).W))
		}
		failed := 0
		for _, f := range futs {
			if err := f.Wait(); err != nil {
				require.ErrorIs(t, err, errInjected)
				failed++
			}
		}
		assert.Equal(t, 1, failed)
	})
}

// A workload that panics fails; the stream survives.
func TestPanicBecomesError(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	f := s.Submit(context.Background(), &sched.MonarchJob{}) // no inputs: an argument error
	require.ErrorIs(t, f.Wait(), errs.ErrArgument)
	p := s.Submit(context.Background(), panicky{})
	require.ErrorContains(t, p.Wait(), "panicked")
	r := check.NewRand(t)
	ok := newMonarch(t, r, tensor.Float64)
	require.NoError(t, s.Submit(context.Background(), ok.W).Wait())
	ok.Check(t)
}

type panicky struct{ sched.Workload }

func (panicky) Kind() string                              { return "panicky" }
func (panicky) Footprint() []int                          { return nil }
func (panicky) Run(context.Context, *engine.Engine) error { panic("boom") }
