// Package schedtest holds what the tests of package sched and its plan
// package share: workloads on fresh random inputs and the checks of their
// results against the float64 references of package ref, with the spec's
// tolerances.
package schedtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// Tolerances of shared/spec/workloads.md.
const (
	tol64     = 1e-12
	tolF32    = 1e-5 // Monarch, SpGEMM float32
	tolGLA32  = 1e-4
	tolW4A4   = 1e-6
	tolSpGEMM = 1e-12
)

// Checked is a workload with the check of its result.
type Checked struct {
	W     sched.Workload
	Check func(t testing.TB)
}

// FloatTensor is a tensor of dtype dt holding v.
func FloatTensor(t testing.TB, dt tensor.DType, v []float64, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	require.NoError(t, x.SetFromFloat64(v))
	return x
}

// Values widens a float tensor to float64.
func Values(t testing.TB, x *tensor.Tensor) []float64 {
	t.Helper()
	v, err := x.AsFloat64()
	require.NoError(t, err)
	return v
}

func tolFor(dt tensor.DType, f32 float64) float64 {
	if dt == tensor.Float64 {
		return tol64
	}
	return f32
}

// GLAGates are log-decays as models make them, logsigmoid(u)/16: negative,
// never zero.
func GLAGates(r *rand.Rand, n int) []float64 {
	g := check.Uniform(r, n)
	for i, u := range g {
		g[i] = -math.Log1p(math.Exp(-u)) / 16
	}
	return g
}

// monarchDims draws small Monarch sizes, odd ones included, with at least
// 16 outputs: a float32 product of one or two outputs that cancels to near
// zero can pass the spec's relative tolerance alone (the conformance
// suite's shapes are of this size too).
func monarchDims(r *rand.Rand) ref.MonarchDims {
	for {
		k, q, p := 1+r.IntN(5), 1+r.IntN(5), 1+r.IntN(5)
		kq := k * q
		var divs []int // l must divide k*q (l*r = k*q)
		for d := 1; d <= kq; d++ {
			if kq%d == 0 {
				divs = append(divs, d)
			}
		}
		l := divs[r.IntN(len(divs))]
		d := ref.MonarchDims{Batch: 2 + r.IntN(5), K: k, Q: q, P: p, L: l, S: 1 + r.IntN(5), R: kq / l}
		if d.Batch*d.M() >= 16 {
			return d
		}
	}
}

// NewMonarch is a Monarch job on fresh random inputs.
func NewMonarch(t testing.TB, r *rand.Rand, dt tensor.DType) Checked {
	d := monarchDims(r)
	j := &sched.MonarchJob{
		X:  FloatTensor(t, dt, check.Uniform(r, d.Batch*d.N()), d.Batch, d.N()),
		W1: FloatTensor(t, dt, check.Uniform(r, d.K*d.Q*d.P), d.K, d.Q, d.P),
		W2: FloatTensor(t, dt, check.Uniform(r, d.L*d.S*d.R), d.L, d.S, d.R),
	}
	return Checked{W: j, Check: func(t testing.TB) { CheckMonarch(t, j) }}
}

// CheckMonarch checks j.Y against ref.MonarchForward on j's inputs.
func CheckMonarch(t testing.TB, j *sched.MonarchJob) {
	t.Helper()
	require.NotNil(t, j.Y)
	d := ref.MonarchDims{Batch: j.X.Dim(0), K: j.W1.Dim(0), Q: j.W1.Dim(1), P: j.W1.Dim(2),
		L: j.W2.Dim(0), S: j.W2.Dim(1), R: j.W2.Dim(2)}
	want := make([]float64, d.Batch*d.M())
	ref.MonarchForward(d, Values(t, j.X), Values(t, j.W1), Values(t, j.W2), want)
	require.Equal(t, []int{d.Batch, d.M()}, j.Y.Shape())
	require.Less(t, check.RelFrobenius(Values(t, j.Y), want), tolFor(j.X.DType(), tolF32))
}

// NewGLA is a GLA job on fresh random inputs, with outputs enough (at
// least 16) that no near-cancelling single value decides the relative
// error.
func NewGLA(t testing.TB, r *rand.Rand, dt tensor.DType) Checked {
	B, T, H, K, V := 1+r.IntN(2), 4+r.IntN(9), 1+r.IntN(2), 2+r.IntN(4), 2+r.IntN(4)
	j := &sched.GLAJob{
		Q:   FloatTensor(t, dt, check.Uniform(r, B*T*H*K), B, T, H, K),
		K:   FloatTensor(t, dt, check.Uniform(r, B*T*H*K), B, T, H, K),
		V:   FloatTensor(t, dt, check.Uniform(r, B*T*H*V), B, T, H, V),
		G:   FloatTensor(t, dt, GLAGates(r, B*T*H*K), B, T, H, K),
		Opt: engine.GLAOptions{Form: engine.GLAForm(r.IntN(2)), FinalState: true},
	}
	return Checked{W: j, Check: func(t testing.TB) { CheckGLA(t, j) }}
}

// CheckGLA checks j.O (and j.HT) against ref.GLA on j's inputs (plain
// batches, no initial state).
func CheckGLA(t testing.TB, j *sched.GLAJob) {
	t.Helper()
	require.NotNil(t, j.O)
	B, T, H, K, V := j.Q.Dim(0), j.Q.Dim(1), j.Q.Dim(2), j.Q.Dim(3), j.V.Dim(3)
	scale := j.Opt.Scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(K))
	}
	o, ht := ref.GLA(Values(t, j.Q), Values(t, j.K), Values(t, j.V), Values(t, j.G), nil,
		ref.GLAOffsets(B, T), H, K, V, scale)
	require.Less(t, check.RelRMS(Values(t, j.O), o), tolFor(j.Q.DType(), tolGLA32))
	if j.Opt.FinalState {
		require.NotNil(t, j.HT)
		require.Less(t, check.RelRMS(Values(t, j.HT), ht), tolGLA32) // ht is float32
	}
}

// NewW4A4 is a W4A4 job on fresh random inputs (often a short last
// group). The sizes keep a few groups and several outputs, as the
// conformance suite does: the float32 sum over many groups of a single
// output that cancels to near zero can pass the spec's 1e-6 alone.
func NewW4A4(t testing.TB, r *rand.Rand) Checked {
	M, N, K, group := 2+r.IntN(6), 2+r.IntN(6), 8+r.IntN(40), []int{8, 16, 32}[r.IntN(3)]
	w, err := engine.QuantizeWeights(FloatTensor(t, tensor.Float32, check.Uniform(r, N*K), N, K), group)
	require.NoError(t, err)
	j := &sched.W4A4Job{X: FloatTensor(t, tensor.Float32, check.Uniform(r, M*K), M, K), W: w, Int8Frac: r.Float64()}
	return Checked{W: j, Check: func(t testing.TB) { CheckW4A4(t, j) }}
}

// CheckW4A4 checks j.Y against ref.W4A4, quantizing j.X again here,
// independently of the job.
func CheckW4A4(t testing.TB, j *sched.W4A4Job) {
	t.Helper()
	require.NotNil(t, j.Y)
	xq, err := engine.QuantizeActivations(j.X, j.W.Group, j.Int8Frac)
	require.NoError(t, err)
	require.Less(t, check.RelFrobenius(Values(t, j.Y), ref.W4A4(xq, j.W)), tolW4A4)
}

// NewSpGEMM is an SpGEMM job on fresh random (unsorted, duplicated) inputs.
func NewSpGEMM(t testing.TB, r *rand.Rand) Checked {
	m, k, n := 1+r.IntN(8), 1+r.IntN(8), 1+r.IntN(8)
	j := &sched.SpGEMMJob[float64]{
		A: conformance.RandomCSR(t, r, m, k, 0.4, true),
		B: conformance.RandomCSR(t, r, k, n, 0.4, true),
	}
	return Checked{W: j, Check: func(t testing.TB) { CheckSpGEMM(t, j) }}
}

// CheckSpGEMM checks j.C against ref.SpGEMM, entry by entry relative to
// |A|*|B|.
func CheckSpGEMM[T sparse.Float](t testing.TB, j *sched.SpGEMMJob[T]) {
	t.Helper()
	require.NotNil(t, j.C)
	a := sparse.Convert[float64](j.A)
	b := a
	if j.B != nil {
		b = sparse.Convert[float64](j.B)
	}
	want, err := ref.SpGEMM(a, b)
	require.NoError(t, err)
	scale, err := ref.SpGEMM(a.Abs(), b.Abs())
	require.NoError(t, err)
	tol := tolSpGEMM
	if _, ok := any(j).(*sched.SpGEMMJob[float32]); ok {
		tol = tolF32
	}
	require.Empty(t, sparse.Diff(sparse.Convert[float64](j.C), want, scale, tol))
}

// NewAny is one of the four workloads, float32 or float64.
func NewAny(t testing.TB, r *rand.Rand) Checked {
	dt := []tensor.DType{tensor.Float32, tensor.Float64}[r.IntN(2)]
	switch r.IntN(4) {
	case 0:
		return NewMonarch(t, r, dt)
	case 1:
		return NewGLA(t, r, dt)
	case 2:
		return NewW4A4(t, r)
	}
	return NewSpGEMM(t, r)
}

// Check checks any of the four job types by its type.
func Check(t testing.TB, w sched.Workload) {
	t.Helper()
	switch j := w.(type) {
	case *sched.MonarchJob:
		CheckMonarch(t, j)
	case *sched.GLAJob:
		CheckGLA(t, j)
	case *sched.W4A4Job:
		CheckW4A4(t, j)
	case *sched.SpGEMMJob[float64]:
		CheckSpGEMM(t, j)
	case *sched.SpGEMMJob[float32]:
		CheckSpGEMM(t, j)
	default:
		t.Fatalf("schedtest: no check for %T", w)
	}
}
