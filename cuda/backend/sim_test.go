//go:build cudasim

package backend_test

import (
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/cuda/sim"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openSim(t *testing.T) *cudabackend.Backend {
	d, err := sim.Open()
	require.NoError(t, err)
	b := cudabackend.New(d)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// Random inputs (never zero) and the error measure of the engine's tests.
var (
	newRand      = check.NewRand
	uniform      = check.Uniform
	relFrobenius = check.RelFrobenius
)

func tensorOf(t *testing.T, vals []float64, shape ...int) (*tensor.Tensor, []float64) {
	return conformance.GLATensor(t, tensor.Float32, vals, shape...)
}

// TestGLARecurrentF32 checks gla_recurrent_f32 on the simulator against the
// reference through the conformance suite's problems: fixed-length batches,
// T < 16, varlen with an empty and a one-token sequence (int32 and int64
// cu_seqlens), an initial state, strong decay (gates of -Inf).
func TestGLARecurrentF32(t *testing.T) {
	b := openSim(t)
	for name, c := range map[string]conformance.GLACase{
		"batch":    {B: 2, T: 9, H: 2, K: 5, V: 4, H0: true},
		"short":    {B: 2, T: 3, H: 2, K: 4, V: 3},
		"wide":     {B: 1, T: 4, H: 1, K: 3, V: 140}, // V > 128: threads own several columns
		"varlen32": {B: 1, T: 12, H: 2, K: 3, V: 5, CuSeqlens: []int{0, 1, 1, 8, 12}, H0: true},
		"varlen64": {B: 1, T: 10, H: 1, K: 6, V: 7, CuSeqlens: []int{0, 6, 10}, Int64: true},
		"strong":   {B: 1, T: 12, H: 1, K: 4, V: 4, H0: true, Strong: true},
	} {
		t.Run(name, func(t *testing.T) {
			p := c.New(t, newRand(t), tensor.Float32)
			p.Args.Form = backend.GLARecurrent
			p.Args.Scale = 0.37
			require.NoError(t, b.GLAForward(t.Context(), p.Args))
			p.Check(t, 0.37)
		})
	}
}

// TestGLADecodeF32 runs two decode steps, checking o and the state after
// each against the reference for one token from the previous state.
func TestGLADecodeF32(t *testing.T) {
	b := openSim(t)
	r := newRand(t)
	B, H, K, V := 3, 2, 5, 6
	state, s0 := tensorOf(t, uniform(r, B*H*K*V), B, H, K, V)
	for step := range 2 {
		a := backend.GLADecodeArgs{State: state, Scale: 0.3}
		var q, k, v, g []float64
		a.Q, q = tensorOf(t, uniform(r, B*H*K), B, H, K)
		a.K, k = tensorOf(t, uniform(r, B*H*K), B, H, K)
		a.V, v = tensorOf(t, uniform(r, B*H*V), B, H, V)
		a.G, g = tensorOf(t, conformance.GLAGates(r, B*H*K), B, H, K)
		a.O = f32(t, B, H, V)
		a.O.FillNaN()
		wantO, wantS := ref.GLA(q, k, v, g, s0, ref.GLAOffsets(B, 1), H, K, V, 0.3)
		require.NoError(t, b.GLADecode(t.Context(), a))
		gotO, err := a.O.AsFloat64()
		require.NoError(t, err)
		gotS, err := state.AsFloat64()
		require.NoError(t, err)
		assert.LessOrEqual(t, relFrobenius(gotO, wantO), conformance.GLATol(tensor.Float32), "o, step %d", step)
		assert.LessOrEqual(t, relFrobenius(gotS, wantS), conformance.GLAStateTol(tensor.Float32), "state, step %d", step)
		s0 = gotS
	}
}

// TestEngineOpensSimulator: in a cudasim build, engine.Open with backend
// cuda gets the simulator through the registry.
func TestEngineOpensSimulator(t *testing.T) {
	e, err := engine.Open(engine.WithBackend("cuda"))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	assert.Equal(t, "cuda:sim", e.Backend())
	_, err = engine.Open(engine.WithBackend("cuda"), engine.WithDevice(1))
	assert.ErrorIs(t, err, errs.ErrDevice)
}
