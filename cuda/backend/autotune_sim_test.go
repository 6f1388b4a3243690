//go:build cudasim

package backend_test

import (
	"context"
	"math"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCeilingKernels checks that the ceiling kernels compute what they
// claim, at operand values other than the measurement's: the copy copies,
// and each loop's result is the exact sum its header states.
func TestCeilingKernels(t *testing.T) {
	b := openSim(t)
	d := b.Device()
	r := newRand(t)
	src := make([]float32, 4*37) // 37 vectors: a partial last block
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	ps, err := device.Upload(d, src)
	require.NoError(t, err)
	defer d.Free(ps)
	nan := make([]float32, len(src))
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	pd, err := device.Upload(d, nan)
	require.NoError(t, err)
	defer d.Free(pd)
	require.NoError(t, kernels.CeilCopyF32(d, 0, device.D1(2), device.D1(8), 0, ps, pd, 37))
	got := make([]float32, len(src))
	require.NoError(t, device.Download(d, got, pd))
	assert.Equal(t, src, got)

	const iters, blocks, threads = 3, 2, 64
	a, bv := float32(1.5), float32(0.25) // products and sums exact in every type
	in, err := device.Upload(d, []float32{a, bv})
	require.NoError(t, err)
	defer d.Free(in)
	out, err := d.Alloc(4 * blocks * threads)
	require.NoError(t, err)
	defer d.Free(out)
	type loop func(device.Device, device.Stream, device.Dim3, device.Dim3, int, device.Ptr, device.Ptr, int32) error
	for _, c := range []struct {
		name string
		fn   loop
		want float64
	}{
		{"fma_f32", kernels.CeilFmaF32, 8 * 0.25 * (1.5*1.5*1.5 - 1) / (1.5 - 1)}, // 8 chains of x = 1.5x + 0.25 from 0
		{"mma_f16", kernels.CeilMmaF16, 4 * 8 * iters * 16 * 1.5 * 0.25},
		{"mma_bf16", kernels.CeilMmaBf16, 4 * 8 * iters * 16 * 1.5 * 0.25},
		{"mma_tf32", kernels.CeilMmaTf32, 4 * 8 * iters * 8 * 1.5 * 0.25},
	} {
		require.NoError(t, d.Memset(out, 0xff, 4*blocks*threads))
		require.NoError(t, c.fn(d, 0, device.D1(blocks), device.D1(threads), 0, in, out, iters), c.name)
		res := make([]float32, blocks*threads)
		require.NoError(t, device.Download(d, res, out))
		for i, v := range res {
			require.Equal(t, c.want, float64(v), "%s thread %d", c.name, i)
		}
	}
	// s8 truncates the operands to integers: 1 and 0 give 0; use 3 and -2.
	in8, err := device.Upload(d, []float32{3, -2})
	require.NoError(t, err)
	defer d.Free(in8)
	require.NoError(t, kernels.CeilMmaS8(d, 0, device.D1(blocks), device.D1(threads), 0, in8, out, iters))
	res := make([]int32, blocks*threads)
	require.NoError(t, device.Download(d, res, out))
	for i, v := range res {
		require.Equal(t, int32(4*8*iters*32*3*-2), v, "mma_s8 thread %d", i)
	}
}

// TestMeasureCeilings runs the measurement at tiny sizes: every ceiling is
// measured (positive) and every kernel's result checked inside.
func TestMeasureCeilings(t *testing.T) {
	b := openSim(t)
	c, err := b.MeasureCeilings(context.Background(), cudabackend.CeilingSizes{CopyBytes: 1 << 12, Blocks: 2, Threads: 64, Iters: 2, Runs: 1})
	require.NoError(t, err)
	for name, v := range map[string]float64{"gbps": c.GBPS, "fp32": c.FP32GFLOPS, "tf32": c.TF32GFLOPS,
		"f16": c.F16GFLOPS, "bf16": c.BF16GFLOPS, "int8": c.INT8GOPS} {
		assert.Greater(t, v, 0.0, name)
	}
	_, err = b.MeasureCeilings(context.Background(), cudabackend.CeilingSizes{CopyBytes: 1 << 12, Blocks: 1, Threads: 48, Iters: 1, Runs: 1})
	assert.Error(t, err, "partial warps")
}

// TestAutotuneMonarch tunes a small Monarch on the simulator: every
// candidate is timed, the winner is one of them, and a cache holding it
// makes the backend's options run exactly that plan.
func TestAutotuneMonarch(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	x, _ := tensorOf(t, uniform(r, 40*64), 40, 64)
	w1, _ := tensorOf(t, uniform(r, 4*16*16), 4, 16, 16)
	w2, _ := tensorOf(t, uniform(r, 4*16*16), 4, 16, 16)
	y, err := tensor.New(tensor.Float32, 40, 64)
	require.NoError(t, err)
	a := backend.MonarchArgs{X: x, W1: w1, W2: w2, Y: y}
	key, e, err := b.AutotuneMonarch(context.Background(), a, cudabackend.MonarchPrecise, cudabackend.TuneOptions{MinTime: 1, Rounds: 2})
	require.NoError(t, err)
	assert.Equal(t, "monarch/f32/batch=40/k=4/q=16/p=16/l=4/s=16/r=16", key)
	assert.ElementsMatch(t, []string{"fused/bm=16", "fused/bm=32", "fused/bm=48", "fused/bm=64", "two-pass"}, keys(e.Timed))
	assert.Contains(t, e.Timed, e.Plan)
	assert.Equal(t, e.Timed[e.Plan], e.Seconds)
	for _, s := range e.Timed {
		assert.GreaterOrEqual(t, s, e.Seconds)
	}

	c := cudabackend.NewTuneCache()
	o, ok, err := b.TunedMonarchOptions(c, a, cudabackend.MonarchOptions{})
	require.NoError(t, err)
	assert.False(t, ok, "empty cache")
	for _, plan := range []string{"two-pass", "fused/bm=48"} {
		c.Record(cudabackend.DeviceKey(b.Device().Props()), key, cudabackend.TuneEntry{Plan: plan})
		o, ok, err = b.TunedMonarchOptions(c, a, cudabackend.MonarchOptions{})
		require.NoError(t, err)
		require.True(t, ok)
		p, err := b.MonarchPlanFor(a, o)
		require.NoError(t, err)
		assert.Equal(t, plan, cudabackend.MonarchPlanName(p))
	}
}

// TestAutotuneGLA tunes a small chunked GLA with cu_seqlens and V > 64.
func TestAutotuneGLA(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	const T, H, K, V = 70, 1, 16, 72
	q, _ := tensorOf(t, uniform(r, T*H*K), 1, T, H, K)
	k, _ := tensorOf(t, uniform(r, T*H*K), 1, T, H, K)
	v, _ := tensorOf(t, uniform(r, T*H*V), 1, T, H, V)
	gv := uniform(r, T*H*K)
	for i := range gv {
		gv[i] = -math.Abs(gv[i]) / 16
	}
	g, _ := tensorOf(t, gv, 1, T, H, K)
	cu, err := tensor.FromInt32([]int32{0, 5, T}, 3)
	require.NoError(t, err)
	o, err := tensor.New(tensor.Float32, 1, T, H, V)
	require.NoError(t, err)
	a := backend.GLAArgs{Q: q, K: k, V: v, G: g, O: o, CuSeqlens: cu, Form: backend.GLAChunked}
	key, e, err := b.AutotuneGLA(context.Background(), a, cudabackend.TuneOptions{MinTime: 1, Rounds: 1})
	require.NoError(t, err)
	assert.Equal(t, "gla/f32/chunked/n=2/tokens=70/maxlen=65/h=1/k=16/v=72", key)
	assert.ElementsMatch(t, []string{"recurrent", "chunked/kt=32/warps=4", "chunked/kt=32/warps=8",
		"chunked/kt=64/warps=4", "chunked/kt=64/warps=8"}, keys(e.Timed))
	assert.Contains(t, e.Timed, e.Plan)

	c := cudabackend.NewTuneCache()
	c.Record(cudabackend.DeviceKey(b.Device().Props()), key, cudabackend.TuneEntry{Plan: "chunked/kt=64/warps=8"})
	opts, ok, err := b.TunedGLAOptions(c, a, cudabackend.GLAOptions{})
	require.NoError(t, err)
	require.True(t, ok)
	p, err := b.GLAPlanFor(a, opts)
	require.NoError(t, err)
	assert.Equal(t, "chunked/kt=64/warps=8", cudabackend.GLAPlanName(p))
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
