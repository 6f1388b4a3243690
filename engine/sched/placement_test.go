package sched_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

func TestCPUSplit(t *testing.T) {
	for _, c := range []struct{ cores, streams, threads int }{
		{1, 1, 1}, {2, 2, 1}, {4, 2, 2}, {8, 2, 4}, {16, 4, 4}, {64, 8, 8}, {12, 3, 4},
	} {
		s, th := sched.CPUSplit(c.cores)
		assert.Equal(t, [2]int{c.streams, c.threads}, [2]int{s, th}, "cores %d", c.cores)
		assert.LessOrEqual(t, s*th, c.cores, "no oversubscription")
	}
	d, err := sched.CPUDevice(0)
	require.NoError(t, err)
	defer d.Engine.Close()
	assert.Equal(t, "cpu", d.Engine.Backend())
	assert.Positive(t, d.Streams)
}

// Work on one stream runs in submission order, one at a time.
func TestStreamOrder(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1), Streams: 3}}})
	r := check.NewRand(t)
	var futs []*sched.Future
	for range 30 {
		futs = append(futs, s.Submit(context.Background(), newMonarch(t, r, tensor.Float32).W, sched.OnStream(0, 1)))
	}
	var prev sched.Record
	for i, f := range futs {
		require.NoError(t, f.Wait())
		rec := f.Record()
		assert.Equal(t, 1, rec.Stream)
		if i > 0 {
			assert.False(t, rec.Started.Before(prev.Finished), "workload %d started before %d finished", i, i-1)
		}
		prev = rec
	}
}

func TestPlacementPolicies(t *testing.T) {
	r := check.NewRand(t)
	t.Run("round-robin", func(t *testing.T) {
		e := cpuEngine(t, 1)
		s := newSched(t, sched.Options{Policy: sched.RoundRobin, Devices: []sched.Device{{Engine: e}, {Engine: e}, {Engine: e}}})
		var devs []int
		for range 9 {
			f := s.Submit(context.Background(), newMonarch(t, r, tensor.Float32).W)
			require.NoError(t, f.Wait())
			devs = append(devs, f.Record().Device)
		}
		assert.Equal(t, []int{0, 1, 2, 0, 1, 2, 0, 1, 2}, devs)
	})
	t.Run("least-loaded", func(t *testing.T) {
		e := cpuEngine(t, 1)
		s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: e}, {Engine: e}}})
		g := newGate(false)
		busy := s.Submit(context.Background(), g, sched.OnDevice(0))
		<-g.started
		assert.Equal(t, int64(1), s.Load(0))
		// Device 0 holds one workload: the next ones go to device 1 until
		// it holds as many (ties go to the lower index).
		var futs []*sched.Future
		for range 3 {
			futs = append(futs, s.Submit(context.Background(), newMonarch(t, r, tensor.Float32).W))
		}
		close(g.release)
		require.NoError(t, busy.Wait())
		for _, f := range futs {
			require.NoError(t, f.Wait())
		}
		assert.Equal(t, 1, futs[0].Record().Device, "the first goes to the idle device")
	})
	t.Run("explicit", func(t *testing.T) {
		e := cpuEngine(t, 1)
		s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: e, Streams: 2}, {Engine: e, Streams: 3}}})
		f := s.Submit(context.Background(), newMonarch(t, r, tensor.Float32).W, sched.OnStream(1, 2), sched.Named("mine"))
		require.NoError(t, f.Wait())
		rec := f.Record()
		assert.Equal(t, [2]int{1, 2}, [2]int{rec.Device, rec.Stream})
		assert.Equal(t, "mine", rec.Name)
		assert.Equal(t, "monarch", rec.Kind)
		assert.Equal(t, "cpu", rec.DeviceName)
		assert.Equal(t, 2, s.Devices())
		assert.Equal(t, 3, s.Streams(1))
	})
}
