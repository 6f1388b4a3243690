package backend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h200 (monarch_plan_test.go) with the name and architecture the cache
// keys on.
var namedH200 = func() device.Props {
	p := h200
	p.Name, p.Major = "NVIDIA H200", 9
	return p
}()

// TestTuneWinner checks the choice with a fake timer of known per-run
// times: the fastest median wins, launches are batched to MinTime, and a
// noisy round does not move the median.
func TestTuneWinner(t *testing.T) {
	per := []time.Duration{30 * time.Microsecond, 10 * time.Microsecond, 20 * time.Microsecond}
	calls := map[int][]int{}
	timer := func(i, runs int) (time.Duration, error) {
		calls[i] = append(calls[i], runs)
		d := per[i] * time.Duration(runs)
		if i == 1 && len(calls[i]) == 4 {
			d *= 100 // one outlier round of the winner
		}
		return d, nil
	}
	e, err := tune(context.Background(), []string{"a", "b", "c"}, timer, TuneOptions{MinTime: time.Millisecond, Rounds: 5})
	require.NoError(t, err)
	assert.Equal(t, "b", e.Plan)
	assert.InDelta(t, 10e-6, e.Seconds, 1e-12)
	assert.InDelta(t, 30e-6, e.Timed["a"], 1e-12)
	assert.InDelta(t, 20e-6, e.Timed["c"], 1e-12)
	// Warm-up and calibration at 1 run, then 5 rounds of MinTime/per runs.
	assert.Equal(t, []int{1, 1, 100, 100, 100, 100, 100}, calls[1])
	assert.Equal(t, []int{1, 1, 50, 50, 50, 50, 50}, calls[2])
}

func TestTuneErrors(t *testing.T) {
	_, err := tune(context.Background(), nil, nil, TuneOptions{})
	assert.ErrorIs(t, err, errs.ErrUnsupported)
	boom := errors.New("launch failed")
	_, err = tune(context.Background(), []string{"a"}, func(int, int) (time.Duration, error) { return 0, boom }, TuneOptions{})
	assert.ErrorIs(t, err, boom)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tune(ctx, []string{"a"}, func(int, int) (time.Duration, error) { return time.Microsecond, nil }, TuneOptions{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTuneCacheRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "autotune.json")
	c, err := LoadTuneCache(path) // missing: empty
	require.NoError(t, err)
	_, ok := c.Lookup("dev", "k")
	assert.False(t, ok)
	c.Record("NVIDIA H200 sm_90", "monarch/bf16/batch=1", TuneEntry{Plan: "fused/bm=32", Seconds: 1e-4,
		Timed: map[string]float64{"fused/bm=32": 1e-4, "two-pass": 3e-4}})
	c.SetCeilings("NVIDIA H200 sm_90", Ceilings{GBPS: 4300, BF16GFLOPS: 7e5})
	require.NoError(t, c.Save(path))
	got, err := LoadTuneCache(path)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	e, ok := got.Lookup("NVIDIA H200 sm_90", "monarch/bf16/batch=1")
	require.True(t, ok)
	assert.Equal(t, "fused/bm=32", e.Plan)
	cl, ok := got.Ceilings("NVIDIA H200 sm_90")
	require.True(t, ok)
	assert.Equal(t, 4300.0, cl.GBPS)
	_, ok = got.Ceilings("other sm_80")
	assert.False(t, ok)
	var nilCache *TuneCache
	_, ok = nilCache.Lookup("NVIDIA H200 sm_90", "monarch/bf16/batch=1")
	assert.False(t, ok)
}

func TestTuneCacheCorrupt(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"truncated": `{"version": 1, "devices": {`,
		"not json":  "hello",
		"unknown":   `{"version": 1, "devices": {}, "extra": 1}`,
		"version":   `{"version": 99, "devices": {}}`,
		"null dev":  `{"version": 1, "devices": {"x": null}}`,
	} {
		path := filepath.Join(dir, name+".json")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		_, err := LoadTuneCache(path)
		require.ErrorIs(t, err, errs.ErrFormat, name)
		assert.Contains(t, err.Error(), path, name)
		assert.Contains(t, err.Error(), "delete it", name)
	}
	_, err := LoadTuneCache(dir) // a directory: an I/O error, not format
	require.Error(t, err)
}

func TestDefaultTuneCachePath(t *testing.T) {
	t.Setenv(TuneCacheEnv, "/x/y.json")
	p, err := DefaultTuneCachePath()
	require.NoError(t, err)
	assert.Equal(t, "/x/y.json", p)
	t.Setenv(TuneCacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	p, err = DefaultTuneCachePath()
	require.NoError(t, err)
	assert.Equal(t, "/cache/matmix/autotune.json", p)
}

func TestPlanNames(t *testing.T) {
	for _, plan := range []string{"fused/bm=16", "fused/bm=64", "two-pass"} {
		o, err := MonarchOptionsOf(plan, MonarchTF32)
		require.NoError(t, err)
		assert.Equal(t, MonarchTF32, o.Math)
		p, err := monarchPlan(namedH200, &monarchTF32, monarchDims{batch: 4096, k: 8, q: 32, p: 32, l: 8, s: 32, r: 32}, o)
		require.NoError(t, err)
		assert.Equal(t, plan, MonarchPlanName(p))
	}
	for _, plan := range []string{"fused/bm=x", "fused", "three-pass", ""} {
		_, err := MonarchOptionsOf(plan, MonarchPrecise)
		assert.ErrorIs(t, err, errs.ErrFormat, plan)
	}
	dims := backend.GLADims{Offsets: []int{0, 300}, T: 300, H: 2, K: 128, V: 128}
	for _, plan := range []string{"recurrent", "chunked/kt=64/warps=4", "chunked/kt=128/warps=8"} {
		o, err := GLAOptionsOf(plan)
		require.NoError(t, err)
		p, err := glaPlan("gla", namedH200, dims, tensor.BFloat16, backend.GLAChunked, o)
		require.NoError(t, err)
		assert.Equal(t, plan, GLAPlanName(p))
	}
	for _, plan := range []string{"chunked/kt=64", "chunked/kt=64/warps=4/x", "auto"} {
		_, err := GLAOptionsOf(plan)
		assert.ErrorIs(t, err, errs.ErrFormat, plan)
	}
}

// TestTunedOptions checks that a cached winner replaces the heuristics only
// where the caller left the choice open, and only for its own device and
// shape, and that a winner that does not fit is ignored.
func TestTunedOptions(t *testing.T) {
	d := monarchDims{batch: 4096, k: 16, q: 64, p: 64, l: 16, s: 64, r: 64}
	c := NewTuneCache()
	c.Record(DeviceKey(namedH200), monarchTuneKey(&monarchBF16, d), TuneEntry{Plan: "two-pass"})
	o, ok := c.tunedMonarch(namedH200, &monarchBF16, d, MonarchOptions{})
	assert.True(t, ok)
	assert.Equal(t, MonarchOptions{Path: MonarchTwoPass}, o)
	for _, given := range []MonarchOptions{{Path: MonarchFused}, {RowTile: 32}, {Blocks: 4}} {
		o, ok = c.tunedMonarch(namedH200, &monarchBF16, d, given)
		assert.False(t, ok)
		assert.Equal(t, given, o)
	}
	other := namedH200
	other.Name = "NVIDIA A100"
	_, ok = c.tunedMonarch(other, &monarchBF16, d, MonarchOptions{})
	assert.False(t, ok, "another device")
	_, ok = c.tunedMonarch(namedH200, &monarchF16, d, MonarchOptions{})
	assert.False(t, ok, "another dtype")
	d2 := d
	d2.batch++
	_, ok = c.tunedMonarch(namedH200, &monarchBF16, d2, MonarchOptions{})
	assert.False(t, ok, "another shape")
	// A fused winner on a device whose shared memory cannot hold it.
	c.Record(DeviceKey(namedH200), monarchTuneKey(&monarchBF16, d2), TuneEntry{Plan: "fused/bm=64"})
	small := namedH200
	small.SharedPerBlockOptin = 8 << 10
	c.Record(DeviceKey(small), monarchTuneKey(&monarchBF16, d2), TuneEntry{Plan: "fused/bm=64"})
	_, ok = c.tunedMonarch(small, &monarchBF16, d2, MonarchOptions{})
	assert.False(t, ok, "winner does not fit")
	var nilCache *TuneCache
	_, ok = nilCache.tunedMonarch(namedH200, &monarchBF16, d, MonarchOptions{})
	assert.False(t, ok)

	dims := backend.GLADims{Offsets: []int{0, 300, 600}, T: 300, H: 2, K: 64, V: 64}
	c.Record(DeviceKey(namedH200), GLATuneKey(tensor.Float16, backend.GLAChunked, dims), TuneEntry{Plan: "chunked/kt=32/warps=4"})
	g, ok := c.tunedGLA(namedH200, dims, tensor.Float16, backend.GLAChunked, GLAOptions{})
	assert.True(t, ok)
	assert.Equal(t, GLAOptions{Kernel: GLAChunkedKernel, KeyTile: 32, Warps: 4}, g)
	_, ok = c.tunedGLA(namedH200, dims, tensor.Float16, backend.GLARecurrent, GLAOptions{})
	assert.False(t, ok, "another form")
	_, ok = c.tunedGLA(namedH200, dims, tensor.Float16, backend.GLAChunked, GLAOptions{Warps: 8})
	assert.False(t, ok, "options given")
}

func TestCandidates(t *testing.T) {
	d := monarchDims{batch: 4096, k: 8, q: 32, p: 32, l: 8, s: 32, r: 32}
	var names []string
	for _, p := range monarchCandidates(namedH200, &monarchBF16, d, MonarchPrecise) {
		names = append(names, MonarchPlanName(p))
	}
	assert.Equal(t, []string{"fused/bm=16", "fused/bm=32", "fused/bm=48", "fused/bm=64", "two-pass"}, names)
	// nblocks=4 style: blocks too large for the fused kernel.
	big := monarchDims{batch: 64, k: 4, q: 1024, p: 1024, l: 4, s: 1024, r: 1024}
	cands := monarchCandidates(namedH200, &monarchBF16, big, MonarchPrecise)
	require.Len(t, cands, 1)
	assert.Equal(t, MonarchTwoPass, cands[0].Path)

	names = nil
	dims := backend.GLADims{Offsets: []int{0, 300}, T: 300, H: 2, K: 100, V: 128}
	for _, p := range glaCandidates(namedH200, dims, tensor.Float32, backend.GLAChunked) {
		names = append(names, GLAPlanName(p))
	}
	assert.Equal(t, []string{"recurrent", "chunked/kt=32/warps=4", "chunked/kt=32/warps=8",
		"chunked/kt=64/warps=4", "chunked/kt=64/warps=8"}, names)
	rec := glaCandidates(namedH200, dims, tensor.Float32, backend.GLARecurrent)
	require.Len(t, rec, 1)
	assert.Equal(t, GLARecurrentKernel, rec[0].Kernel)
}
