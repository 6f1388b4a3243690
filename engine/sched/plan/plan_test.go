package plan_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/mempool/mempooltest"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/sched/internal/schedtest"
	"github.com/matmix/matmix/engine/sched/plan"
	"github.com/matmix/matmix/engine/tensor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func cpuEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.WithBackend("cpu"), engine.WithThreads(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func newSched(t *testing.T, opts sched.Options) *sched.Scheduler {
	t.Helper()
	s, err := sched.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	return s
}

func readPlan(t *testing.T, name string) *plan.Plan {
	t.Helper()
	p, err := plan.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return p
}

// The mixed plan runs, and the last repetition's results match package
// ref node by node (each on the inputs it got from the node before).
func TestRunMix(t *testing.T) {
	p := readPlan(t, "mix.json")
	pp, err := p.Prepare()
	require.NoError(t, err)
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t), Streams: 2}}})
	res, err := pp.Run(context.Background(), s)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Repeats)
	require.Len(t, res.Records, 15)
	require.Len(t, res.Last, 5)
	for _, w := range res.Last {
		schedtest.Check(t, w)
	}
	// The edges pass tensors along: attn's q is proj's y, reshaped.
	proj, attn := res.Last[0].(*sched.W4A4Job), res.Last[1].(*sched.GLAJob)
	assert.Same(t, &proj.Y.Float32()[0], &attn.Q.Float32()[0])
	assert.Equal(t, []int{1, 32, 2, 32}, attn.Q.Shape())
	g2 := res.Last[4].(*sched.SpGEMMJob[float32])
	assert.Same(t, res.Last[3].(*sched.SpGEMMJob[float32]).C, g2.B)

	sum := res.Summary()
	require.Len(t, sum, 5)
	for i, n := range []string{"proj", "attn", "mlp", "graph", "graph2"} {
		assert.Equal(t, n, sum[i].Name)
		assert.Equal(t, 3, sum[i].Runs)
		assert.Zero(t, sum[i].Failed)
		assert.Positive(t, sum[i].Run.Mean)
		assert.LessOrEqual(t, sum[i].Run.Min, sum[i].Run.Mean)
		assert.LessOrEqual(t, sum[i].Run.Mean, sum[i].Run.Max)
		assert.Positive(t, sum[i].Bytes)
	}
	assert.Equal(t, "w4a4", sum[0].Kind)
	var out strings.Builder
	require.NoError(t, res.WriteSummary(&out))
	assert.Contains(t, out.String(), "plan: 5 nodes x 3 repeats (15 workloads)")
	for _, n := range []string{"proj", "attn", "mlp", "graph2", "w4a4", "gla", "monarch", "spgemm"} {
		assert.Contains(t, out.String(), n)
	}
	t.Log("\n" + out.String())
}

// Inputs come from the seed: the same seed gives the same inputs, another
// seed others.
func TestPrepareDeterministic(t *testing.T) {
	first := func(seed uint64) []float32 {
		p := readPlan(t, "mix.json")
		p.Seed = seed
		pp, err := p.Prepare()
		require.NoError(t, err)
		_, nodes, err := pp.Graph()
		require.NoError(t, err)
		x := nodes[0].Workload().(*sched.W4A4Job).X.Float32()
		require.NotContains(t, x, float32(0))
		return x
	}
	assert.Equal(t, first(1), first(1))
	assert.NotEqual(t, first(1), first(2))
}

// The caching pool over a fake device serves a repeated mixed plan from
// its cache: above 90% hits, nothing in use at the end, nothing left on
// the device once the scheduler is closed.
func TestPoolHitRate(t *testing.T) {
	p := readPlan(t, "mix.json")
	p.Repeat = 20
	pp, err := p.Prepare()
	require.NoError(t, err)
	dev := &mempooltest.Allocator{}
	pool, err := mempool.New[uint64](dev, mempool.Options{Sync: mempool.NoSync})
	require.NoError(t, err)
	s, err := sched.New(sched.Options{Devices: []sched.Device{{Engine: cpuEngine(t), Streams: 2, Memory: pool}}})
	require.NoError(t, err)
	_, err = pp.Run(context.Background(), s)
	require.NoError(t, err)
	st := pool.Stats()
	t.Logf("pool: %+v, hit rate %.3f", st, st.HitRate())
	assert.Greater(t, st.HitRate(), 0.9)
	assert.Zero(t, st.InUse)
	assert.Positive(t, st.Cached)
	assert.Positive(t, st.Peak)
	assert.Equal(t, st.Allocs, st.Hits+st.Misses)
	assert.Equal(t, st.Misses, st.DeviceAllocs)
	require.NoError(t, s.Close(context.Background()))
	assert.Zero(t, pool.Stats().Cached)
	assert.Zero(t, dev.Live())
}

// Cancelling the context mid-plan returns promptly with the cancellation
// and leaks nothing (TestMain checks goroutines).
func TestCancelMidPlan(t *testing.T) {
	p := readPlan(t, "mix.json")
	p.Repeat = 1000
	pp, err := p.Prepare()
	require.NoError(t, err)
	dev := &mempooltest.Allocator{}
	pool, err := mempool.New[uint64](dev, mempool.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done atomic.Int64
	var cancelled atomic.Int64 // when cancel was called, in ns since start
	t0 := time.Now()
	s := newSched(t, sched.Options{
		Devices: []sched.Device{{Engine: cpuEngine(t), Streams: 2, Memory: pool}},
		OnRecord: func(sched.Record) {
			if done.Add(1) == 12 { // mid-way through the third repetition
				cancelled.Store(int64(time.Since(t0)))
				cancel()
			}
		},
	})
	res, err := pp.Run(ctx, s)
	require.ErrorIs(t, err, context.Canceled)
	elapsed := time.Since(t0) - time.Duration(cancelled.Load())
	t.Logf("returned %v after cancel, %d repetitions", elapsed, res.Repeats)
	assert.Less(t, elapsed, 2*time.Second)
	assert.Less(t, res.Repeats, 1000)
	assert.Zero(t, pool.Stats().InUse)
}

func TestParseErrors(t *testing.T) {
	good := `{"name": "a", "monarch": {"batch": 2, "n": 8, "blocks": 2}}`
	for _, c := range []struct {
		name, plan string
		kind       error
	}{
		{"not json", `{`, errs.ErrFormat},
		{"unknown field", `{"nodes": [` + good + `], "sede": 1}`, errs.ErrFormat},
		{"trailing", `{"nodes": [` + good + `]} {}`, errs.ErrFormat},
		{"no nodes", `{"nodes": []}`, errs.ErrArgument},
		{"dtype", `{"dtype": "int8", "nodes": [` + good + `]}`, errs.ErrArgument},
		{"repeat", `{"repeat": -1, "nodes": [` + good + `]}`, errs.ErrArgument},
		{"no name", `{"nodes": [{"monarch": {"batch": 2, "n": 8, "blocks": 2}}]}`, errs.ErrArgument},
		{"dotted name", `{"nodes": [{"name": "a.b", "monarch": {"batch": 2, "n": 8, "blocks": 2}}]}`, errs.ErrArgument},
		{"twice", `{"nodes": [` + good + `, ` + good + `]}`, errs.ErrArgument},
		{"no op", `{"nodes": [{"name": "a"}]}`, errs.ErrArgument},
		{"two ops", `{"nodes": [{"name": "a", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "w4a4": {"m": 1, "n": 1, "k": 1}}]}`, errs.ErrArgument},
		{"blocks", `{"nodes": [{"name": "a", "monarch": {"batch": 2, "n": 9, "blocks": 2}}]}`, errs.ErrArgument},
		{"zero size", `{"nodes": [{"name": "a", "gla": {"b": 1, "t": 0, "h": 1, "k": 1, "v": 1}}]}`, errs.ErrArgument},
		{"too large", `{"nodes": [{"name": "a", "w4a4": {"m": 100000, "n": 1, "k": 100000}}]}`, errs.ErrLimit},
		{"form", `{"nodes": [{"name": "a", "gla": {"b": 1, "t": 1, "h": 1, "k": 1, "v": 1, "form": "fast"}}]}`, errs.ErrArgument},
		{"frac", `{"nodes": [{"name": "a", "w4a4": {"m": 1, "n": 1, "k": 1, "int8_frac": 2}}]}`, errs.ErrArgument},
		{"gen", `{"nodes": [{"name": "a", "spgemm": {"gen": "grid", "n": 4}}]}`, errs.ErrArgument},
		{"rmat scale", `{"nodes": [{"name": "a", "spgemm": {"gen": "rmat", "scale": 40, "ef": 1}}]}`, errs.ErrArgument},
		{"device", `{"nodes": [{"name": "a", "device": -1, "monarch": {"batch": 2, "n": 8, "blocks": 2}}]}`, errs.ErrArgument},
		{"unknown input", `{"nodes": [` + good + `, {"name": "b", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "inputs": {"w9": "a.y"}}]}`, errs.ErrArgument},
		{"not node.output", `{"nodes": [` + good + `, {"name": "b", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "inputs": {"x": "a"}}]}`, errs.ErrArgument},
		{"later node", `{"nodes": [{"name": "b", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "inputs": {"x": "a.y"}}, ` + good + `]}`, errs.ErrArgument},
		{"unknown output", `{"nodes": [` + good + `, {"name": "b", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "inputs": {"x": "a.o"}}]}`, errs.ErrArgument},
		{"elements", `{"nodes": [` + good + `, {"name": "b", "monarch": {"batch": 3, "n": 8, "blocks": 2}, "inputs": {"x": "a.y"}}]}`, errs.ErrShape},
		{"sparse into dense", `{"nodes": [{"name": "a", "spgemm": {"gen": "er", "n": 4, "deg": 1}}, {"name": "b", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "inputs": {"x": "a.c"}}]}`, errs.ErrArgument},
		{"dtype edge", `{"dtype": "float64", "nodes": [{"name": "a", "w4a4": {"m": 2, "n": 8, "k": 4}}, {"name": "b", "monarch": {"batch": 2, "n": 8, "blocks": 2}, "inputs": {"x": "a.y"}}]}`, errs.ErrDType},
		{"ht needs final_state", `{"nodes": [{"name": "a", "gla": {"b": 1, "t": 2, "h": 1, "k": 2, "v": 2}}, {"name": "b", "monarch": {"batch": 1, "n": 4, "blocks": 2}, "inputs": {"x": "a.ht"}}]}`, errs.ErrArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := plan.Parse(strings.NewReader(c.plan))
			require.ErrorIs(t, err, c.kind)
			assert.NotContains(t, err.Error(), "\n")
			t.Log(err)
		})
	}
}

// A float64 plan with final states, explicit placement and an .mtx operand.
func TestRunFloat64(t *testing.T) {
	dir := t.TempDir()
	mtxPath := filepath.Join(dir, "a.mtx")
	require.NoError(t, writeFile(mtxPath, "%%MatrixMarket matrix coordinate real general\n3 3 4\n1 1 0.5\n2 3 -1.5\n3 1 2\n3 2 0.25\n"))
	src := `{"seed": 3, "dtype": "float64", "nodes": [
		{"name": "m", "monarch": {"batch": 3, "n": 6, "blocks": 3}, "device": 1, "stream": 0},
		{"name": "g", "gla": {"b": 1, "t": 6, "h": 1, "k": 3, "v": 2, "form": "recurrent", "final_state": true}, "inputs": {"q": "m.y"}},
		{"name": "h", "monarch": {"batch": 1, "n": 6, "blocks": 2}, "inputs": {"x": "g.ht"}},
		{"name": "s", "spgemm": {"mtx": "a.mtx"}}
	]}`
	p, err := plan.ReadFile(writePlan(t, dir, src))
	require.ErrorIs(t, err, errs.ErrDType, "ht is float32: it cannot feed a float64 node")
	src = strings.Replace(src, `"inputs": {"x": "g.ht"}`, `"inputs": {"x": "g.o"}`, 1)
	src = strings.Replace(src, `"batch": 1, "n": 6`, `"batch": 3, "n": 4`, 1)
	p, err = plan.ReadFile(writePlan(t, dir, src))
	require.NoError(t, err)
	pp, err := p.Prepare()
	require.NoError(t, err)
	e := cpuEngine(t)
	s := newSched(t, sched.Options{Devices: []sched.Device{{Engine: e}, {Engine: e}}})
	res, err := pp.Run(context.Background(), s)
	require.NoError(t, err)
	for _, w := range res.Last {
		schedtest.Check(t, w)
	}
	assert.Equal(t, 1, res.Records[0].Device)
	assert.Equal(t, tensor.Float64, res.Last[0].(*sched.MonarchJob).Y.DType())
	assert.NotNil(t, res.Last[1].(*sched.GLAJob).HT)
	assert.Equal(t, 3, res.Last[3].(*sched.SpGEMMJob[float64]).C.Rows)
}

func writePlan(t *testing.T, dir, src string) string {
	t.Helper()
	p := filepath.Join(dir, "plan.json")
	require.NoError(t, writeFile(p, src))
	return p
}
