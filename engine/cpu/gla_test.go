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
	return glaRunWith(t, b.GLAForward, p, form, scale)
}

// glaRunWith is glaRun through the given forward: ht is nil where p has no
// HT.
func glaRunWith(t *testing.T, forward func(context.Context, backend.GLAArgs) error, p *conformance.GLAProblem,
	form backend.GLAForm, scale float64) (o, ht []float64) {
	t.Helper()
	a := p.Args
	a.Form, a.Scale = form, scale
	a.O = a.O.Clone() // each run gets its own poisoned outputs
	if a.HT != nil {
		a.HT = a.HT.Clone()
	}
	require.NoError(t, forward(context.Background(), a))
	o, err := a.O.AsFloat64()
	require.NoError(t, err)
	if a.HT != nil {
		ht, err = a.HT.AsFloat64()
		require.NoError(t, err)
	}
	return o, ht
}

// glaPath is the chunked forward of b on the split over chunks (split) or
// over pairs.
func glaPath(b *cpu.Backend, split bool) func(context.Context, backend.GLAArgs) error {
	return func(ctx context.Context, a backend.GLAArgs) error { return cpu.GLAForwardPath(ctx, b, a, split) }
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

// Neither the split over (sequence, head) pairs nor the one over chunks
// changes a single bit with the number of threads (the chunked form's
// automatic choice between them may).
func TestGLAThreadsAgree(t *testing.T) {
	c := conformance.GLACase{B: 3, T: 150, H: 3, K: 12, V: 10, H0: true}
	p := c.New(t, check.NewRand(t), tensor.Float32)
	o1, ht1 := glaRun(t, cpu.New(1), p, backend.GLARecurrent, 0.3)
	o4, ht4 := glaRun(t, cpu.New(4), p, backend.GLARecurrent, 0.3)
	assert.Equal(t, o1, o4, "recurrent o")
	assert.Equal(t, ht1, ht4, "recurrent ht")
	for _, split := range []bool{false, true} {
		o1, ht1 := glaRunWith(t, glaPath(cpu.New(1), split), p, backend.GLAChunked, 0.3)
		o4, ht4 := glaRunWith(t, glaPath(cpu.New(4), split), p, backend.GLAChunked, 0.3)
		assert.Equal(t, o1, o4, "chunked, split %v: o", split)
		assert.Equal(t, ht1, ht4, "chunked, split %v: ht", split)
	}
}

// The split over chunks (three passes: contributions, the chain of states,
// the outputs) against the split over pairs and the reference: T not a
// multiple of 64, with and without h0 and ht, variable lengths with an empty,
// a one-token and a whole-chunk sequence, strong gates (the sub-chunk form),
// widened half inputs.
func TestGLASplit(t *testing.T) {
	b := cpu.New(3)
	for name, c := range map[string]conformance.GLACase{
		"T300":   {B: 1, T: 300, H: 1, K: 16, V: 24, H0: true},
		"B2H2":   {B: 2, T: 130, H: 2, K: 33, V: 17},
		"varlen": {B: 1, T: 260, H: 2, K: 8, V: 12, CuSeqlens: []int{0, 1, 1, 65, 129, 260}, H0: true},
		"strong": {B: 1, T: 200, H: 1, K: 12, V: 8, H0: true, Strong: true},
		"noHT":   {B: 1, T: 100, H: 1, K: 8, V: 8, H0: true},
	} {
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32, tensor.BFloat16} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				r := check.NewRand(t)
				p := c.New(t, r, dt)
				if name == "noHT" {
					p.Args.HT = nil
				}
				scale := 0.2 + r.Float64()
				wantO, wantHT := p.Want(scale)
				spO, spHT := glaRunWith(t, glaPath(b, true), p, backend.GLAChunked, scale)
				paO, paHT := glaRunWith(t, glaPath(b, false), p, backend.GLAChunked, scale)
				tol, htTol := conformance.GLATol(dt), conformance.GLAStateTol(dt)
				for _, x := range append(spO, spHT...) {
					require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "split: NaN or Inf")
				}
				assert.LessOrEqual(t, check.RelFrobenius(spO, wantO), tol, "split o")
				assert.LessOrEqual(t, check.RelFrobenius(spO, paO), tol, "split vs pairs o")
				if p.Args.HT == nil {
					assert.Nil(t, spHT)
					return
				}
				assert.LessOrEqual(t, check.RelFrobenius(spHT, wantHT), htTol, "split ht")
				assert.LessOrEqual(t, check.RelFrobenius(spHT, paHT), htTol, "split vs pairs ht")
			})
		}
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
