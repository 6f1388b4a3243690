package conformance

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// GLAGates returns n random log-decay gates logsigmoid(x)/4, x in
// [-1, -0.85] ∪ [2.15, 5], as flash-linear-attention's tests draw gates
// (logsigmoid of a random value, divided by a normalizer): in
// [-0.33, -0.0017], so some channels forget within a chunk and others carry
// the state across several.
func GLAGates(r *rand.Rand, n int) []float64 {
	g := check.Uniform(r, n)
	for i, u := range g {
		g[i] = -math.Log1p(math.Exp(-(2 + 3*u))) / 4
	}
	return g
}

// GLATol is the spec's tolerance for GLA outputs computed from dtype dt
// against the float64 reference: relative Frobenius for float64, relative
// RMS (the same measure) otherwise.
func GLATol(dt tensor.DType) float64 {
	switch dt {
	case tensor.Float64:
		return 1e-12
	case tensor.Float32:
		return 1e-4
	}
	return 1e-2
}

// GLAStateTol is the tolerance for a state (ht, or the decode state): it is
// stored in float32 whatever the inputs, so float64 meets float32 precision.
func GLAStateTol(dt tensor.DType) float64 { return max(GLATol(dt), 1e-6) }

// GLACase describes a random GLA problem.
type GLACase struct {
	B, T, H, K, V int
	CuSeqlens     []int // variable-length batch (B must be 1), or nil
	Int64         bool  // cu_seqlens as int64 rather than int32
	H0            bool  // start from a random state
	Strong        bool  // about one gate in eight -Inf or -1e4
}

// Offsets are the sequences' token offsets (see ref.GLA).
func (c GLACase) Offsets() []int {
	if c.CuSeqlens != nil {
		return c.CuSeqlens
	}
	return ref.GLAOffsets(c.B, c.T)
}

// GLAProblem is a random instance of a GLACase in one dtype.
type GLAProblem struct {
	Case GLACase
	// Args holds the inputs, outputs O and HT allocated and poisoned (NaN),
	// Scale 0 and the chunked form.
	Args backend.GLAArgs
	// The values the inputs hold (rounded to their dtype), for the reference.
	Q, K, V, G, H0 []float64
}

// New draws fresh random inputs of dtype dt.
func (c GLACase) New(t testing.TB, r *rand.Rand, dt tensor.DType) *GLAProblem {
	t.Helper()
	p := &GLAProblem{Case: c}
	a := &p.Args
	BT := c.B * c.T
	a.Q, p.Q = GLATensor(t, dt, check.Uniform(r, BT*c.H*c.K), c.B, c.T, c.H, c.K)
	a.K, p.K = GLATensor(t, dt, check.Uniform(r, BT*c.H*c.K), c.B, c.T, c.H, c.K)
	a.V, p.V = GLATensor(t, dt, check.Uniform(r, BT*c.H*c.V), c.B, c.T, c.H, c.V)
	g := GLAGates(r, BT*c.H*c.K)
	if c.Strong {
		for i := range g {
			switch r.IntN(16) {
			case 0:
				g[i] = math.Inf(-1)
			case 1:
				g[i] = -1e4
			}
		}
	}
	a.G, p.G = GLATensor(t, dt, g, c.B, c.T, c.H, c.K)
	n := len(c.Offsets()) - 1
	if c.H0 {
		a.H0, p.H0 = GLATensor(t, tensor.Float32, check.Uniform(r, n*c.H*c.K*c.V), n, c.H, c.K, c.V)
	}
	if c.CuSeqlens != nil {
		a.CuSeqlens = glaCuSeqlens(t, c.CuSeqlens, c.Int64)
	}
	var err error
	a.O, err = tensor.New(dt, c.B, c.T, c.H, c.V)
	require.NoError(t, err)
	a.HT, err = tensor.New(tensor.Float32, n, c.H, c.K, c.V)
	require.NoError(t, err)
	a.O.FillNaN()
	a.HT.FillNaN()
	return p
}

// Want is the reference's o and ht for this problem at the given scale.
func (p *GLAProblem) Want(scale float64) (o, ht []float64) {
	c := p.Case
	return ref.GLA(p.Q, p.K, p.V, p.G, p.H0, c.Offsets(), c.H, c.K, c.V, scale)
}

// Check compares Args.O and Args.HT (when set) with the reference at scale,
// at the spec's tolerances for the inputs' dtype.
func (p *GLAProblem) Check(t testing.TB, scale float64) {
	t.Helper()
	wantO, wantHT := p.Want(scale)
	dt := p.Args.Q.DType()
	o, err := p.Args.O.AsFloat64()
	require.NoError(t, err)
	assert.LessOrEqual(t, check.RelFrobenius(o, wantO), GLATol(dt), "o")
	if p.Args.HT != nil {
		ht, err := p.Args.HT.AsFloat64()
		require.NoError(t, err)
		assert.LessOrEqual(t, check.RelFrobenius(ht, wantHT), GLAStateTol(dt), "ht")
	}
}

// GLATensor builds a tensor of dtype dt holding vals rounded to dt, and
// returns the rounded values.
func GLATensor(t testing.TB, dt tensor.DType, vals []float64, shape ...int) (*tensor.Tensor, []float64) {
	t.Helper()
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	require.NoError(t, x.SetFromFloat64(vals))
	got, err := x.AsFloat64()
	require.NoError(t, err)
	return x, got
}

// glaCuSeqlens makes the cu_seqlens tensor, int32 or int64.
func glaCuSeqlens(t testing.TB, cu []int, int64s bool) *tensor.Tensor {
	t.Helper()
	var x *tensor.Tensor
	var err error
	if int64s {
		s := make([]int64, len(cu))
		for i, c := range cu {
			s[i] = int64(c)
		}
		x, err = tensor.FromInt64(s, len(s))
	} else {
		s := make([]int32, len(cu))
		for i, c := range cu {
			s[i] = int32(c)
		}
		x, err = tensor.FromInt32(s, len(s))
	}
	require.NoError(t, err)
	return x
}

// glaCases are the suite's problems: a partial last chunk, T < 16, several
// chunks, varlen with an empty and a one-token sequence, strong decay.
func glaCases() map[string]GLACase {
	if testing.Short() {
		return map[string]GLACase{
			"chunk+6": {B: 1, T: 70, H: 1, K: 5, V: 4, H0: true},
			"short":   {B: 2, T: 3, H: 2, K: 4, V: 3},
			"varlen":  {B: 1, T: 24, H: 1, K: 3, V: 5, CuSeqlens: []int{0, 7, 7, 24}, H0: true},
			"strong":  {B: 1, T: 20, H: 1, K: 4, V: 4, H0: true, Strong: true},
		}
	}
	return map[string]GLACase{
		"chunk+6":  {B: 2, T: 70, H: 2, K: 17, V: 24, H0: true},
		"short":    {B: 1, T: 7, H: 3, K: 16, V: 5},
		"3chunks":  {B: 1, T: 130, H: 1, K: 32, V: 33, H0: true},
		"varlen":   {B: 1, T: 100, H: 2, K: 8, V: 16, CuSeqlens: []int{0, 1, 1, 66, 100}, H0: true},
		"varlen64": {B: 1, T: 90, H: 1, K: 6, V: 7, CuSeqlens: []int{0, 64, 90}, Int64: true},
		"strong":   {B: 2, T: 80, H: 1, K: 9, V: 7, H0: true, Strong: true},
	}
}

var glaDTypes = []tensor.DType{tensor.Float64, tensor.Float32, tensor.BFloat16, tensor.Float16}

func testGLA(t *testing.T, e *engine.Engine) {
	t.Run("Forward", func(t *testing.T) { testGLAForward(t, e) })
	t.Run("Decode", func(t *testing.T) { testGLADecode(t, e) })
}

// testGLAForward checks o and ht of every case, dtype and form against the
// reference, through GLAInto with poisoned outputs and the default scale.
func testGLAForward(t *testing.T, e *engine.Engine) {
	for name, c := range glaCases() {
		for _, dt := range glaDTypes {
			for _, form := range []engine.GLAForm{engine.GLAChunked, engine.GLARecurrent} {
				t.Run(fmt.Sprintf("%s/%v/%v", name, dt, form), func(t *testing.T) {
					p := c.New(t, check.NewRand(t), dt)
					p.Args.Form = form
					require.NoError(t, e.GLAInto(context.Background(), p.Args))
					p.Check(t, 1/math.Sqrt(float64(c.K)))
				})
			}
		}
	}
}

// testGLADecode runs two decode steps in a row and checks o and the state
// after each against the reference run for one token from that state.
func testGLADecode(t *testing.T, e *engine.Engine) {
	B, H, K, V := 3, 2, 17, 12
	if testing.Short() {
		B, H, K, V = 2, 1, 5, 3
	}
	for _, dt := range glaDTypes {
		t.Run(dt.String(), func(t *testing.T) {
			r := check.NewRand(t)
			state, err := tensor.FromFloat32(check.Float32s(check.Uniform(r, B*H*K*V)), B, H, K, V)
			require.NoError(t, err)
			const scale = 0.3
			for step := range 2 {
				a := backend.GLADecodeArgs{State: state, Scale: scale}
				var q, k, v, g []float64
				a.Q, q = GLATensor(t, dt, check.Uniform(r, B*H*K), B, H, K)
				a.K, k = GLATensor(t, dt, check.Uniform(r, B*H*K), B, H, K)
				a.V, v = GLATensor(t, dt, check.Uniform(r, B*H*V), B, H, V)
				a.G, g = GLATensor(t, dt, GLAGates(r, B*H*K), B, H, K)
				a.O, err = tensor.New(dt, B, H, V)
				require.NoError(t, err)
				a.O.FillNaN()
				s0, err := state.AsFloat64() // a copy: the step overwrites state
				require.NoError(t, err)
				wantO, wantS := ref.GLA(q, k, v, g, s0, ref.GLAOffsets(B, 1), H, K, V, scale)

				require.NoError(t, e.GLADecodeInto(context.Background(), a))
				gotO, err := a.O.AsFloat64()
				require.NoError(t, err)
				gotS, err := state.AsFloat64()
				require.NoError(t, err)
				assert.LessOrEqual(t, check.RelFrobenius(gotO, wantO), GLATol(dt), "o, step %d", step)
				assert.LessOrEqual(t, check.RelFrobenius(gotS, wantS), GLAStateTol(dt), "state, step %d", step)
			}
		})
	}
}
