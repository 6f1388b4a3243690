package cpu_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

var glaForms = []backend.GLAForm{backend.GLAChunked, backend.GLARecurrent}

// glaRun runs p in the given form at scale on b and returns o and ht as float64.
func glaRun(t *testing.T, b *cpu.Backend, p *conformance.GLAProblem, form backend.GLAForm, scale float64) (o, ht []float64) {
	t.Helper()
	a := p.Args
	a.Form, a.Scale = form, scale
	a.O, a.HT = a.O.Clone(), a.HT.Clone() // each form gets its own poisoned outputs
	require.NoError(t, b.GLAForward(context.Background(), a))
	o, err := a.O.AsFloat64()
	require.NoError(t, err)
	ht, err = a.HT.AsFloat64()
	require.NoError(t, err)
	return o, ht
}

// Both forms against the reference and each other, over odd and power-of-two
// K and V, T below one sub-chunk, at a chunk boundary and past it, last
// chunks ending inside and just past a sub-chunk.
func TestGLAFormsAgree(t *testing.T) {
	b := cpu.New(2)
	for _, c := range []conformance.GLACase{
		{B: 1, T: 1, H: 1, K: 16, V: 16},
		{B: 2, T: 7, H: 2, K: 17, V: 100, H0: true},
		{B: 1, T: 64, H: 1, K: 128, V: 17, H0: true},
		{B: 1, T: 65, H: 2, K: 64, V: 17, H0: true},
		{B: 1, T: 81, H: 2, K: 17, V: 9, H0: true}, // a last chunk of one sub-chunk and one row
		{B: 2, T: 100, H: 1, K: 100, V: 64},
		{B: 1, T: 130, H: 1, K: 128, V: 128, H0: true},
	} {
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("T%d_K%d_V%d/%v", c.T, c.K, c.V, dt), func(t *testing.T) {
				r := check.NewRand(t)
				p := c.New(t, r, dt)
				scale := 0.2 + r.Float64()
				wantO, wantHT := p.Want(scale)
				chO, chHT := glaRun(t, b, p, backend.GLAChunked, scale)
				reO, reHT := glaRun(t, b, p, backend.GLARecurrent, scale)
				tol := conformance.GLATol(dt)
				// ht is stored in float32, so it has float32 precision whatever the inputs.
				htTol := conformance.GLAStateTol(dt)
				assert.LessOrEqual(t, check.RelFrobenius(chO, wantO), tol, "chunked o")
				assert.LessOrEqual(t, check.RelFrobenius(reO, wantO), tol, "recurrent o")
				assert.LessOrEqual(t, check.RelFrobenius(chO, reO), tol, "chunked vs recurrent o")
				assert.LessOrEqual(t, check.RelFrobenius(chHT, wantHT), htTol, "chunked ht")
				assert.LessOrEqual(t, check.RelFrobenius(reHT, wantHT), htTol, "recurrent ht")
			})
		}
	}
}

// Gates of -Inf and -1e4 (a state wiped out), whole chunks of them, and every
// gate -Inf: no NaN or Inf, and still the reference's values.
func TestGLAStrongDecay(t *testing.T) {
	b := cpu.New(2)
	c := conformance.GLACase{B: 1, T: 150, H: 2, K: 19, V: 8, H0: true, Strong: true}
	fills := map[string]func(g []float64){
		"scattered": func([]float64) {},
		"chunk": func(g []float64) { // tokens 64..127 (the second chunk) all -Inf
			for i := 64 * c.H * c.K; i < 128*c.H*c.K; i++ {
				g[i] = math.Inf(-1)
			}
		},
		"all": func(g []float64) {
			for i := range g {
				g[i] = math.Inf(-1)
			}
		},
		"-1e4": func(g []float64) {
			for i := range g {
				g[i] = -1e4
			}
		},
	}
	for name, fill := range fills {
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
				p := c.New(t, check.NewRand(t), dt)
				fill(p.G)
				require.NoError(t, p.Args.G.SetFromFloat64(p.G))
				wantO, wantHT := p.Want(0.5)
				for _, form := range glaForms {
					o, ht := glaRun(t, b, p, form, 0.5)
					for _, x := range append(o, ht...) {
						require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "%v: NaN or Inf", form)
					}
					assert.LessOrEqual(t, check.RelFrobenius(o, wantO), conformance.GLATol(dt), "%v o", form)
					assert.LessOrEqual(t, check.RelFrobenius(ht, wantHT), conformance.GLAStateTol(dt), "%v ht", form)
				}
			})
		}
	}
}

// Positive gates are outside the usual range but still the same function.
func TestGLAPositiveGates(t *testing.T) {
	b := cpu.New(2)
	c := conformance.GLACase{B: 1, T: 70, H: 1, K: 8, V: 8, H0: true}
	p := c.New(t, check.NewRand(t), tensor.Float64)
	for i := range p.G {
		p.G[i] = -p.G[i] / 4
	}
	require.NoError(t, p.Args.G.SetFromFloat64(p.G))
	wantO, _ := p.Want(0.25)
	for _, form := range glaForms {
		o, _ := glaRun(t, b, p, form, 0.25)
		assert.LessOrEqual(t, check.RelFrobenius(o, wantO), 1e-12, "%v", form)
	}
}

// The split over (sequence, head) pairs does not change a single bit.
func TestGLAThreadsAgree(t *testing.T) {
	c := conformance.GLACase{B: 3, T: 70, H: 3, K: 12, V: 10, H0: true}
	p := c.New(t, check.NewRand(t), tensor.Float32)
	for _, form := range glaForms {
		o1, ht1 := glaRun(t, cpu.New(1), p, form, 0.3)
		o4, ht4 := glaRun(t, cpu.New(4), p, form, 0.3)
		assert.Equal(t, o1, o4, "%v o", form)
		assert.Equal(t, ht1, ht4, "%v ht", form)
	}
}

func TestGLACanceled(t *testing.T) {
	p := conformance.GLACase{B: 1, T: 10, H: 2, K: 4, V: 4}.New(t, check.NewRand(t), tensor.Float32)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, cpu.New(2).GLAForward(ctx, p.Args), context.Canceled)
}

// glaDeviceBuffer stands for memory the CPU cannot read.
type glaDeviceBuffer struct{ n int64 }

func (d glaDeviceBuffer) Device() string { return "cuda:0" }
func (d glaDeviceBuffer) Bytes() int64   { return d.n }

func TestGLADeviceTensors(t *testing.T) {
	b := cpu.New(1)
	p := conformance.GLACase{B: 1, T: 4, H: 1, K: 4, V: 4}.New(t, check.NewRand(t), tensor.Float32)
	q, err := tensor.OnDevice(tensor.Float32, glaDeviceBuffer{1 << 10}, 1, 4, 1, 4)
	require.NoError(t, err)
	a := p.Args
	a.Q = q
	require.ErrorIs(t, b.GLAForward(context.Background(), a), errs.ErrUnsupported)

	s, err := tensor.OnDevice(tensor.Float32, glaDeviceBuffer{1 << 10}, 1, 1, 4, 4)
	require.NoError(t, err)
	v, _ := conformance.GLATensor(t, tensor.Float32, check.Uniform(check.NewRand(t), 4), 1, 1, 4)
	o, err := tensor.New(tensor.Float32, 1, 1, 4)
	require.NoError(t, err)
	d := backend.GLADecodeArgs{Q: v, K: v, V: v, G: v, State: s, O: o}
	require.ErrorIs(t, b.GLADecode(context.Background(), d), errs.ErrUnsupported)
}
