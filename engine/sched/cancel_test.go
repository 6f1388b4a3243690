package sched_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool/mempooltest"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

// prompt bounds how long cancellation may take to come back.
const prompt = 2 * time.Second

// Cancelling a context drops queued work at once, even behind a workload
// that is still running on the same stream.
func TestCancelQueued(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	g := newGate(false)
	busy := s.Submit(context.Background(), g)
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	r := check.NewRand(t)
	queued := s.Submit(ctx, newMonarch(t, r, tensor.Float32).W)
	cancel()
	select {
	case <-queued.Done():
	case <-time.After(prompt):
		t.Fatal("a queued workload was not dropped promptly")
	}
	require.ErrorIs(t, queued.Err(), context.Canceled)
	assert.False(t, queued.Record().Ran())
	assert.Nil(t, busy.Err(), "still running")
	close(g.release)
	require.NoError(t, busy.Wait())
	assert.Zero(t, s.Load(0))
}

// A workload running when its context is cancelled finishes; its result
// is discarded.
func TestCancelRunningDiscardsResult(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	g := newGate(false) // ignores its context: runs until released
	ctx, cancel := context.WithCancel(context.Background())
	f := s.Submit(ctx, g)
	<-g.started
	cancel()
	time.Sleep(10 * time.Millisecond)
	assert.Nil(t, f.Err(), "running work finishes first")
	close(g.release)
	err := f.Wait()
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "discarded")
	assert.True(t, f.Record().Ran())
	assert.Zero(t, f.Record().Bytes)
}

// Cancelling mid-plan: a wide, deep graph with one workload running (it
// honours its context, as the engine's calls do between their steps);
// Wait returns promptly, every node not done is dropped or fails with the
// cancellation, the pool holds nothing in use and no goroutine is left
// (TestMain checks).
func TestCancelMidPlan(t *testing.T) {
	dev := &mempooltest.Allocator{}
	d, pool := pooled(t, cpuEngine(t, 1), 2, dev)
	s := newSched(t, sched.Options{Devices: []sched.Device{d}})
	r := check.NewRand(t)
	g := sched.NewGraph()
	first := g.Add("warmup", newMonarch(t, r, tensor.Float32).W)
	gt := newGate(true)
	hold := g.Add("hold", gt, sched.After(first))
	var all []*sched.Node
	for layer := range 10 {
		for i := range 10 {
			prev := []sched.Edge{sched.After(hold)}
			if layer > 0 {
				prev = []sched.Edge{sched.After(all[len(all)-10])}
			}
			all = append(all, g.Add(fmt.Sprintf("n%d.%d", layer, i), newAny(t, r).W, prev...))
		}
	}
	// Independent roots queued behind the gate on its stream.
	var roots []*sched.Node
	for i := range 20 {
		roots = append(roots, g.Add(fmt.Sprintf("root%d", i), newAny(t, r).W))
	}
	run := cancelMidPlan(t, s, g, gt)
	err := run.Wait()
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, run.Future(first).Err())
	require.ErrorIs(t, run.Future(hold).Err(), context.Canceled)
	for _, n := range all {
		var de *sched.DepError
		require.ErrorAs(t, run.Future(n).Err(), &de, n.Name())
		require.ErrorIs(t, run.Future(n).Err(), context.Canceled)
		assert.False(t, run.Future(n).Record().Ran())
	}
	for _, n := range roots {
		if err := run.Future(n).Err(); err != nil {
			require.ErrorIs(t, err, context.Canceled)
		}
	}
	assert.Zero(t, pool.Stats().InUse)
	assert.Zero(t, s.Load(0))
}

// Close drains: queued work and graphs still in progress complete.
func TestCloseDrains(t *testing.T) {
	e := cpuEngine(t, 1)
	s, err := sched.New(sched.Options{Devices: []sched.Device{{Engine: e, Streams: 2}}})
	require.NoError(t, err)
	r := check.NewRand(t)
	g := sched.NewGraph()
	var prev *sched.Node
	var jobs []checked
	for i := range 8 {
		c := newMonarch(t, r, tensor.Float64)
		jobs = append(jobs, c)
		if prev == nil {
			prev = g.Add(fmt.Sprint(i), c.W)
		} else {
			prev = g.Add(fmt.Sprint(i), c.W, sched.After(prev))
		}
	}
	run, err := s.Start(context.Background(), g)
	require.NoError(t, err)
	var futs []*sched.Future
	for range 20 {
		c := newAny(t, r)
		jobs = append(jobs, c)
		futs = append(futs, s.Submit(context.Background(), c.W))
	}
	require.NoError(t, s.Close(context.Background()))
	require.NoError(t, run.Wait(), "a draining scheduler runs the rest of a graph")
	for _, f := range futs {
		require.NoError(t, f.Err())
	}
	for _, c := range jobs {
		c.Check(t)
	}
	require.ErrorIs(t, s.Submit(context.Background(), jobs[0].W).Wait(), sched.ErrClosed)
	require.ErrorIs(t, s.Close(context.Background()), sched.ErrClosed)
	_, err = s.Start(context.Background(), sched.NewGraph())
	require.NoError(t, err, "an empty graph is done at once")
}

// Close with a done context drops the queued work, waits for the running
// workload and returns the context's error.
func TestCloseCancels(t *testing.T) {
	e := cpuEngine(t, 1)
	dev := &mempooltest.Allocator{}
	d, pool := pooled(t, e, 1, dev)
	s, err := sched.New(sched.Options{Devices: []sched.Device{d}})
	require.NoError(t, err)
	gt := newGate(false)
	busy := s.Submit(context.Background(), gt)
	<-gt.started
	r := check.NewRand(t)
	var futs []*sched.Future
	for range 10 {
		futs = append(futs, s.Submit(context.Background(), newAny(t, r).W))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(gt.release)
	}()
	err = s.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, busy.Err(), "the running workload finished")
	for _, f := range futs {
		require.ErrorIs(t, f.Err(), sched.ErrClosed)
	}
	assert.Zero(t, pool.Stats().InUse)
	assert.Zero(t, pool.Stats().Cached, "Close empties the cache")
	assert.Zero(t, dev.Live())
}

func TestNewErrors(t *testing.T) {
	_, err := sched.New(sched.Options{})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = sched.New(sched.Options{Devices: []sched.Device{{}}})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = sched.New(sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1), Streams: -1}}})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = sched.New(sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}, Policy: 7})
	require.ErrorIs(t, err, errs.ErrArgument)
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	require.ErrorIs(t, s.Submit(context.Background(), nil).Wait(), errs.ErrArgument)
	//nolint:staticcheck // a nil context is the error checked
	require.ErrorIs(t, s.Submit(nil, &sched.MonarchJob{}).Wait(), errs.ErrArgument)
	require.ErrorIs(t, s.Submit(context.Background(), &sched.MonarchJob{}, sched.OnDevice(1)).Wait(), errs.ErrArgument)
	require.ErrorIs(t, s.Submit(context.Background(), &sched.MonarchJob{}, sched.OnStream(0, 3)).Wait(), errs.ErrArgument)
	require.True(t, errors.Is(s.Submit(context.Background(), &sched.MonarchJob{}).Wait(), errs.ErrArgument), "a job with no inputs")
}

// cancelMidPlan starts g, cancels its context once the gate gt runs and
// returns the run once it has stopped, failing the test unless that is
// prompt.
func cancelMidPlan(t *testing.T, s *sched.Scheduler, g *sched.Graph, gt *gate) *sched.Run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := s.Start(ctx, g)
	require.NoError(t, err)
	<-gt.started
	t0 := time.Now()
	cancel()
	select {
	case <-run.Done():
	case <-time.After(prompt):
		t.Fatal("the plan did not stop promptly")
	}
	t.Logf("stopped %v after cancel", time.Since(t0))
	return run
}
