package sched_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

func TestGraphValidation(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	r := check.NewRand(t)
	ctx := context.Background()

	g := sched.NewGraph()
	g.Add("a", newMonarch(t, r, tensor.Float32).W)
	g.Add("a", newMonarch(t, r, tensor.Float32).W)
	_, err := s.Start(ctx, g)
	require.ErrorIs(t, err, errs.ErrArgument, "duplicate names")

	other := sched.NewGraph()
	x := other.Add("x", newMonarch(t, r, tensor.Float32).W)
	g = sched.NewGraph()
	g.Add("y", &sched.MonarchJob{}, sched.Bind("x", x, "y"))
	_, err = s.Start(ctx, g)
	require.ErrorIs(t, err, errs.ErrArgument, "edge from another graph")

	g = sched.NewGraph()
	g.Add("nil", nil)
	_, err = s.Start(ctx, g)
	require.ErrorIs(t, err, errs.ErrArgument, "nil workload")

	g = sched.NewGraph()
	a := g.Add("a", newMonarch(t, r, tensor.Float32).W)
	g.Add("b", &sched.MonarchJob{}, sched.Edge{From: a, Output: "y"})
	_, err = s.Start(ctx, g)
	require.ErrorIs(t, err, errs.ErrArgument, "edge without an input")

	g = sched.NewGraph()
	g.Add("a", newMonarch(t, r, tensor.Float32).W)
	_, err = s.Run(ctx, g)
	require.NoError(t, err)
	_, err = s.Start(ctx, g)
	require.ErrorIs(t, err, errs.ErrArgument, "a graph runs once")
}

// Binding errors fail the node before it runs, and its dependents.
func TestGraphBindErrors(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	r := check.NewRand(t)
	for _, c := range []struct {
		name string
		edge func(a *sched.Node) sched.Edge
		kind error
	}{
		{"unknown input", func(a *sched.Node) sched.Edge { return sched.Bind("nope", a, "y") }, errs.ErrArgument},
		{"unknown output", func(a *sched.Node) sched.Edge { return sched.Bind("x", a, "nope") }, errs.ErrArgument},
		{"bad reshape", func(a *sched.Node) sched.Edge { return sched.Bind("x", a, "y").Reshape(1000, 3) }, errs.ErrShape},
		{"wrong type", func(a *sched.Node) sched.Edge { return sched.Bind("w", a, "y") }, errs.ErrArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := sched.NewGraph()
			a := g.Add("a", newMonarch(t, r, tensor.Float32).W)
			b := g.Add("b", &sched.W4A4Job{}, c.edge(a))
			d := g.Add("d", &sched.MonarchJob{}, sched.Bind("x", b, "y"))
			run, err := s.Run(context.Background(), g)
			require.ErrorIs(t, err, c.kind)
			require.NoError(t, run.Future(a).Err())
			require.ErrorIs(t, run.Future(b).Err(), c.kind)
			assert.False(t, run.Future(b).Record().Ran())
			var de *sched.DepError
			require.ErrorAs(t, run.Future(d).Err(), &de)
			assert.Equal(t, "b", de.Dep)
		})
	}
}

// A SpGEMM chain: C = A*B, then D = C*C, sparse values passed along.
func TestGraphSparse(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1)}}})
	r := check.NewRand(t)
	first := newSpGEMM(t, r)
	j := first.W.(*sched.SpGEMMJob[float64])
	j.B = nil // A*A needs a square A
	j.A = newSquareCSR(t, r, 7)
	second := &sched.SpGEMMJob[float64]{}
	g := sched.NewGraph()
	a := g.Add("c", j)
	g.Add("d", second, sched.Bind("a", a, "c"))
	_, err := s.Run(context.Background(), g)
	require.NoError(t, err)
	checkSpGEMM(t, j)
	assert.Same(t, j.C, second.A)
	checkSpGEMM(t, second)
}

// The trace is Chrome trace JSON: complete events with ts and dur in
// microseconds, pid = device, tid = stream, and names for both.
func TestTrace(t *testing.T) {
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t, 1), Streams: 2}}})
	r := check.NewRand(t)
	g := sched.NewGraph()
	a := g.Add("a", newMonarch(t, r, tensor.Float32).W)
	g.Add("b", newGLA(t, r, tensor.Float32).W)
	g.Add("c", &sched.MonarchJob{}, sched.Bind("x", a, "nope")) // fails: never runs
	run, err := s.Run(context.Background(), g)
	require.Error(t, err)
	path := filepath.Join(t.TempDir(), "trace.json")
	require.NoError(t, sched.WriteTrace(path, run.Records()))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var tr struct {
		TraceEvents []struct {
			Name, Ph, Cat string
			Ts            float64
			Dur           *float64
			Pid, Tid      int
			Args          map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(raw, &tr))
	var complete, meta int
	for _, ev := range tr.TraceEvents {
		switch ev.Ph {
		case "X":
			complete++
			require.NotNil(t, ev.Dur)
			assert.GreaterOrEqual(t, ev.Ts, 0.0)
			assert.Positive(t, *ev.Dur)
			assert.Contains(t, []string{"a", "b"}, ev.Name)
			assert.Equal(t, 0, ev.Pid)
			assert.Contains(t, []int{0, 1}, ev.Tid)
			assert.Contains(t, ev.Args, "queue_us")
			assert.Positive(t, ev.Args["bytes"])
		case "M":
			meta++
			assert.Contains(t, []string{"process_name", "thread_name"}, ev.Name)
		default:
			t.Errorf("unexpected phase %q", ev.Ph)
		}
	}
	assert.Equal(t, 2, complete, "the node that never ran has no event")
	assert.GreaterOrEqual(t, meta, 2)
}
