package engine_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/tensor"
)

func glaEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.WithBackend("cpu"), engine.WithThreads(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func glaValues(t *testing.T, x *engine.Tensor) []float64 {
	t.Helper()
	v, err := x.AsFloat64()
	require.NoError(t, err)
	return v
}

// GLA allocates o (in q's dtype) and ht only on request, and a zero scale
// means K^-0.5.
func TestGLAAllocatesAndScales(t *testing.T) {
	e := glaEngine(t)
	c := conformance.GLACase{B: 2, T: 9, H: 2, K: 6, V: 5, H0: true}
	for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32, tensor.BFloat16} {
		t.Run(dt.String(), func(t *testing.T) {
			p := c.New(t, check.NewRand(t), dt)
			a := p.Args
			o, ht, err := e.GLA(context.Background(), a.Q, a.K, a.V, a.G, engine.GLAOptions{H0: a.H0})
			require.NoError(t, err)
			assert.Nil(t, ht)
			assert.Equal(t, dt, o.DType())
			assert.Equal(t, []int{2, 9, 2, 5}, o.Shape())
			wantO, wantHT := p.Want(1 / math.Sqrt(6))
			assert.LessOrEqual(t, check.RelFrobenius(glaValues(t, o), wantO), conformance.GLATol(dt))

			o, ht, err = e.GLA(context.Background(), a.Q, a.K, a.V, a.G,
				engine.GLAOptions{H0: a.H0, Scale: -0.7, Form: engine.GLARecurrent, FinalState: true})
			require.NoError(t, err)
			require.NotNil(t, ht)
			assert.Equal(t, tensor.Float32, ht.DType())
			assert.Equal(t, []int{2, 2, 6, 5}, ht.Shape())
			wantO, _ = p.Want(-0.7)
			assert.LessOrEqual(t, check.RelFrobenius(glaValues(t, o), wantO), conformance.GLATol(dt))
			assert.LessOrEqual(t, check.RelFrobenius(glaValues(t, ht), wantHT), conformance.GLAStateTol(dt))
		})
	}
}

// glaRun runs one GLA with the final state and returns o (as float64) and ht.
func glaRun(t *testing.T, e *engine.Engine, q, k, v, g, h0 *engine.Tensor, form engine.GLAForm) ([]float64, *engine.Tensor) {
	t.Helper()
	o, ht, err := e.GLA(context.Background(), q, k, v, g, engine.GLAOptions{H0: h0, Form: form, FinalState: true})
	require.NoError(t, err)
	return glaValues(t, o), ht
}

// glaTokens returns tokens [t0, t1) of a [1, T, H, D] float tensor as a new tensor.
func glaTokens(t *testing.T, x *engine.Tensor, t0, t1 int) *engine.Tensor {
	t.Helper()
	H, D := x.Dim(2), x.Dim(3)
	v := glaValues(t, x)
	y, err := tensor.New(x.DType(), 1, t1-t0, H, D)
	require.NoError(t, err)
	require.NoError(t, y.SetFromFloat64(v[t0*H*D:t1*H*D]))
	return y
}

// Splitting a sequence and passing the final state on as h0 equals one pass
// (the state is float32 between the parts, so float64 meets float32 precision).
func TestGLASplitState(t *testing.T) {
	e := glaEngine(t)
	c := conformance.GLACase{B: 1, T: 150, H: 2, K: 17, V: 12, H0: true}
	for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
		for _, form := range []engine.GLAForm{engine.GLAChunked, engine.GLARecurrent} {
			t.Run(fmt.Sprintf("%v/%v", dt, form), func(t *testing.T) {
				r := check.NewRand(t)
				p := c.New(t, r, dt)
				a := p.Args
				wantO, wantHT := glaRun(t, e, a.Q, a.K, a.V, a.G, a.H0, form)
				cut := 1 + r.IntN(c.T-1)
				t.Logf("cut at %d", cut)
				part := func(x *engine.Tensor, i int) *engine.Tensor {
					if i == 0 {
						return glaTokens(t, x, 0, cut)
					}
					return glaTokens(t, x, cut, c.T)
				}
				o1, h1 := glaRun(t, e, part(a.Q, 0), part(a.K, 0), part(a.V, 0), part(a.G, 0), a.H0, form)
				o2, h2 := glaRun(t, e, part(a.Q, 1), part(a.K, 1), part(a.V, 1), part(a.G, 1), h1, form)
				tol := conformance.GLAStateTol(dt)
				assert.LessOrEqual(t, check.RelFrobenius(append(o1, o2...), wantO), tol, "o")
				assert.LessOrEqual(t, check.RelFrobenius(glaValues(t, h2), glaValues(t, wantHT)), tol, "ht")
			})
		}
	}
}

// T single-token decode steps from h0 equal one chunked pass.
func TestGLADecodeSteps(t *testing.T) {
	e := glaEngine(t)
	c := conformance.GLACase{B: 2, T: 70, H: 2, K: 9, V: 11, H0: true}
	for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			p := c.New(t, check.NewRand(t), dt)
			a := p.Args
			wantO, wantHT := glaRun(t, e, a.Q, a.K, a.V, a.G, a.H0, engine.GLAChunked)
			state := a.H0.Clone()
			got := make([]float64, len(wantO))
			step := func(x []float64, tok, D int) *engine.Tensor { // token tok of every batch row: [B, H, D]
				y, err := tensor.New(dt, c.B, c.H, D)
				require.NoError(t, err)
				s := make([]float64, 0, c.B*c.H*D)
				for b := range c.B {
					s = append(s, x[(b*c.T+tok)*c.H*D:(b*c.T+tok+1)*c.H*D]...)
				}
				require.NoError(t, y.SetFromFloat64(s))
				return y
			}
			for tok := range c.T {
				o, err := e.GLADecode(context.Background(), step(p.Q, tok, c.K), step(p.K, tok, c.K),
					step(p.V, tok, c.V), step(p.G, tok, c.K), state, 0)
				require.NoError(t, err)
				require.Equal(t, []int{c.B, c.H, c.V}, o.Shape())
				ov := glaValues(t, o)
				for b := range c.B {
					copy(got[(b*c.T+tok)*c.H*c.V:], ov[b*c.H*c.V:(b+1)*c.H*c.V])
				}
			}
			tol := conformance.GLAStateTol(dt)
			assert.LessOrEqual(t, check.RelFrobenius(got, wantO), tol, "o")
			assert.LessOrEqual(t, check.RelFrobenius(glaValues(t, state), glaValues(t, wantHT)), tol, "state")
		})
	}
}

// A variable-length batch equals one call per sequence from its own h0.
func TestGLAVarlenEqualsSeparate(t *testing.T) {
	e := glaEngine(t)
	cu := []int{0, 13, 13, 80, 145, 146}
	c := conformance.GLACase{B: 1, T: 145 + 1, H: 2, K: 10, V: 7, CuSeqlens: cu, H0: true, Int64: true}
	for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
		for _, form := range []engine.GLAForm{engine.GLAChunked, engine.GLARecurrent} {
			t.Run(fmt.Sprintf("%v/%v", dt, form), func(t *testing.T) {
				p := c.New(t, check.NewRand(t), dt)
				a := p.Args
				o, ht, err := e.GLA(context.Background(), a.Q, a.K, a.V, a.G,
					engine.GLAOptions{H0: a.H0, CuSeqlens: a.CuSeqlens, Form: form, FinalState: true})
				require.NoError(t, err)
				gotO, gotHT := glaValues(t, o), glaValues(t, ht)
				h0 := glaValues(t, a.H0)
				kv := c.H * c.K * c.V
				for n := range len(cu) - 1 {
					h, err := tensor.FromFloat32(check.Float32s(h0[n*kv:(n+1)*kv]), 1, c.H, c.K, c.V)
					require.NoError(t, err)
					t0, t1 := cu[n], cu[n+1]
					wo, wht := glaRun(t, e, glaTokens(t, a.Q, t0, t1), glaTokens(t, a.K, t0, t1), glaTokens(t, a.V, t0, t1),
						glaTokens(t, a.G, t0, t1), h, form)
					tol := conformance.GLATol(dt)
					assert.LessOrEqual(t, check.RelFrobenius(gotO[t0*c.H*c.V:t1*c.H*c.V], wo), tol, "o of sequence %d", n)
					assert.LessOrEqual(t, check.RelFrobenius(gotHT[n*kv:(n+1)*kv], glaValues(t, wht)), tol, "ht of sequence %d", n)
				}
			})
		}
	}
}

// glaErrCase is one invalid call and the error kind it must give.
type glaErrCase struct {
	name string
	edit func(a *backend.GLAArgs) // spoils valid arguments
	kind error
}

func TestGLAErrors(t *testing.T) {
	e := glaEngine(t)
	r := check.NewRand(t)
	newT := func(dt tensor.DType, shape ...int) *engine.Tensor {
		x, err := tensor.New(dt, shape...)
		require.NoError(t, err)
		return x
	}
	cu32 := func(v ...int32) *engine.Tensor {
		x, err := tensor.FromInt32(v, len(v))
		require.NoError(t, err)
		return x
	}
	c := conformance.GLACase{B: 1, T: 10, H: 2, K: 4, V: 3, CuSeqlens: []int{0, 4, 10}, H0: true}
	for _, tc := range []glaErrCase{
		{"nil q", func(a *backend.GLAArgs) { a.Q = nil }, engine.ErrArgument},
		{"nil g", func(a *backend.GLAArgs) { a.G = nil }, engine.ErrArgument},
		{"q rank", func(a *backend.GLAArgs) { a.Q = newT(tensor.Float32, 10, 2, 4) }, engine.ErrShape},
		{"k shape", func(a *backend.GLAArgs) { a.K = newT(tensor.Float32, 1, 10, 2, 5) }, engine.ErrShape},
		{"g shape", func(a *backend.GLAArgs) { a.G = newT(tensor.Float32, 1, 10, 1, 4) }, engine.ErrShape},
		{"v shape", func(a *backend.GLAArgs) { a.V = newT(tensor.Float32, 1, 9, 2, 3) }, engine.ErrShape},
		{"K zero", func(a *backend.GLAArgs) {
			a.Q, a.K, a.G = newT(tensor.Float32, 1, 10, 2, 0), newT(tensor.Float32, 1, 10, 2, 0), newT(tensor.Float32, 1, 10, 2, 0)
		}, engine.ErrShape},
		{"int q", func(a *backend.GLAArgs) { a.Q = newT(tensor.Int32, 1, 10, 2, 4) }, engine.ErrDType},
		{"mixed v", func(a *backend.GLAArgs) { a.V = newT(tensor.Float64, 1, 10, 2, 3) }, engine.ErrDType},
		{"mixed g", func(a *backend.GLAArgs) { a.G = newT(tensor.BFloat16, 1, 10, 2, 4) }, engine.ErrDType},
		{"h0 dtype", func(a *backend.GLAArgs) { a.H0 = newT(tensor.Float64, 2, 2, 4, 3) }, engine.ErrDType},
		{"h0 shape", func(a *backend.GLAArgs) { a.H0 = newT(tensor.Float32, 1, 2, 4, 3) }, engine.ErrShape},
		{"ht shape", func(a *backend.GLAArgs) { a.HT = newT(tensor.Float32, 2, 2, 3, 4) }, engine.ErrShape},
		{"ht dtype", func(a *backend.GLAArgs) { a.HT = newT(tensor.BFloat16, 2, 2, 4, 3) }, engine.ErrDType},
		{"nil o", func(a *backend.GLAArgs) { a.O = nil }, engine.ErrArgument},
		{"o dtype", func(a *backend.GLAArgs) { a.O = newT(tensor.Float64, 1, 10, 2, 3) }, engine.ErrDType},
		{"o shape", func(a *backend.GLAArgs) { a.O = newT(tensor.Float32, 1, 10, 2, 4) }, engine.ErrShape},
		{"cu dtype", func(a *backend.GLAArgs) { a.CuSeqlens = newT(tensor.Float32, 3) }, engine.ErrDType},
		{"cu rank", func(a *backend.GLAArgs) { a.CuSeqlens = newT(tensor.Int32, 1, 3) }, engine.ErrShape},
		{"cu one entry", func(a *backend.GLAArgs) { a.CuSeqlens = cu32(0) }, engine.ErrShape},
		{"cu start", func(a *backend.GLAArgs) { a.CuSeqlens = cu32(1, 4, 10) }, engine.ErrArgument},
		{"cu end", func(a *backend.GLAArgs) { a.CuSeqlens = cu32(0, 4, 9) }, engine.ErrArgument},
		{"cu past T", func(a *backend.GLAArgs) { a.CuSeqlens = cu32(0, 11, 10) }, engine.ErrArgument},
		{"cu decreasing", func(a *backend.GLAArgs) { a.CuSeqlens = cu32(0, 5, 4, 10) }, engine.ErrArgument},
		{"cu with B=2", func(a *backend.GLAArgs) {
			a.Q, a.K, a.G = newT(tensor.Float32, 2, 5, 2, 4), newT(tensor.Float32, 2, 5, 2, 4), newT(tensor.Float32, 2, 5, 2, 4)
			a.V, a.O = newT(tensor.Float32, 2, 5, 2, 3), newT(tensor.Float32, 2, 5, 2, 3)
			a.CuSeqlens = cu32(0, 5)
		}, engine.ErrShape},
		{"scale NaN", func(a *backend.GLAArgs) { a.Scale = math.NaN() }, engine.ErrArgument},
		{"scale Inf", func(a *backend.GLAArgs) { a.Scale = math.Inf(1) }, engine.ErrArgument},
		{"form", func(a *backend.GLAArgs) { a.Form = 7 }, engine.ErrArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.New(t, r, tensor.Float32).Args
			o, ht := a.O, a.HT
			tc.edit(&a)
			err := e.GLAInto(context.Background(), a)
			require.ErrorIs(t, err, tc.kind)
			assert.NotContains(t, err.Error(), "\n")
			if a.O == o && a.HT == ht { // GLA allocates the outputs itself
				_, _, err = e.GLA(context.Background(), a.Q, a.K, a.V, a.G,
					engine.GLAOptions{H0: a.H0, CuSeqlens: a.CuSeqlens, Scale: a.Scale, Form: a.Form})
				require.ErrorIs(t, err, tc.kind, "GLA")
			}
		})
	}
}

// glaDecodeErrCase is one invalid decode call and the error kind it must give.
type glaDecodeErrCase struct {
	name string
	edit func(a *backend.GLADecodeArgs)
	kind error
}

func TestGLADecodeErrors(t *testing.T) {
	e := glaEngine(t)
	r := check.NewRand(t)
	newT := func(dt tensor.DType, shape ...int) *engine.Tensor {
		x, err := tensor.New(dt, shape...)
		require.NoError(t, err)
		return x
	}
	valid := func() backend.GLADecodeArgs {
		rnd := func(dt tensor.DType, shape ...int) *engine.Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			x, _ := conformance.GLATensor(t, dt, check.Uniform(r, n), shape...)
			return x
		}
		return backend.GLADecodeArgs{
			Q: rnd(tensor.Float32, 2, 3, 4), K: rnd(tensor.Float32, 2, 3, 4), V: rnd(tensor.Float32, 2, 3, 5),
			G: rnd(tensor.Float32, 2, 3, 4), State: rnd(tensor.Float32, 2, 3, 4, 5), O: newT(tensor.Float32, 2, 3, 5),
		}
	}
	require.NoError(t, e.GLADecodeInto(context.Background(), valid()))
	for _, tc := range []glaDecodeErrCase{
		{"nil state", func(a *backend.GLADecodeArgs) { a.State = nil }, engine.ErrArgument},
		{"nil v", func(a *backend.GLADecodeArgs) { a.V = nil }, engine.ErrArgument},
		{"q rank", func(a *backend.GLADecodeArgs) { a.Q = newT(tensor.Float32, 1, 2, 3, 4) }, engine.ErrShape},
		{"k shape", func(a *backend.GLADecodeArgs) { a.K = newT(tensor.Float32, 2, 3, 5) }, engine.ErrShape},
		{"v shape", func(a *backend.GLADecodeArgs) { a.V = newT(tensor.Float32, 2, 2, 5) }, engine.ErrShape},
		{"state shape", func(a *backend.GLADecodeArgs) { a.State = newT(tensor.Float32, 2, 3, 5, 4) }, engine.ErrShape},
		{"state dtype", func(a *backend.GLADecodeArgs) { a.State = newT(tensor.Float64, 2, 3, 4, 5) }, engine.ErrDType},
		{"mixed g", func(a *backend.GLADecodeArgs) { a.G = newT(tensor.Float16, 2, 3, 4) }, engine.ErrDType},
		{"o shape", func(a *backend.GLADecodeArgs) { a.O = newT(tensor.Float32, 2, 3, 4) }, engine.ErrShape},
		{"o dtype", func(a *backend.GLADecodeArgs) { a.O = newT(tensor.BFloat16, 2, 3, 5) }, engine.ErrDType},
		{"scale", func(a *backend.GLADecodeArgs) { a.Scale = math.Inf(-1) }, engine.ErrArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := valid()
			o := a.O
			tc.edit(&a)
			err := e.GLADecodeInto(context.Background(), a)
			require.ErrorIs(t, err, tc.kind)
			assert.NotContains(t, err.Error(), "\n")
			if a.O == o { // GLADecode allocates the output itself
				_, err = e.GLADecode(context.Background(), a.Q, a.K, a.V, a.G, a.State, a.Scale)
				require.ErrorIs(t, err, tc.kind, "GLADecode")
			}
		})
	}
}

// Empty batches, heads and sequences compute nothing and still give a final
// state: the initial one.
func TestGLAEmpty(t *testing.T) {
	e := glaEngine(t)
	r := check.NewRand(t)
	q, err := tensor.New(tensor.Float32, 1, 0, 2, 3)
	require.NoError(t, err)
	v, err := tensor.New(tensor.Float32, 1, 0, 2, 4)
	require.NoError(t, err)
	h0, _ := conformance.GLATensor(t, tensor.Float32, check.Uniform(r, 2*3*4), 1, 2, 3, 4)
	o, ht, err := e.GLA(context.Background(), q, q, v, q, engine.GLAOptions{H0: h0, FinalState: true})
	require.NoError(t, err)
	assert.Equal(t, 0, o.Len())
	assert.Equal(t, h0.Float32(), ht.Float32())
}
