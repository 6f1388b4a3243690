package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

func w4a4Engine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.WithBackend("cpu"), engine.WithThreads(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func w4a4Random(t *testing.T, r *rand.Rand, rows, cols int) *engine.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32(check.Float32s(check.Uniform(r, rows*cols)), rows, cols)
	require.NoError(t, err)
	return x
}

// Permuting whole K groups of x and w the same way permutes the scales, the
// int8 choice and the group sums, and so leaves y unchanged (up to the order
// of the float sum over groups).
func TestW4A4GroupPermutation(t *testing.T) {
	e := w4a4Engine(t)
	r := check.NewRand(t)
	const m, n, group, groups = 11, 23, 16, 7
	const k = group * groups
	x, w := w4a4Random(t, r, m, k), w4a4Random(t, r, n, k)
	perm := r.Perm(groups)
	permute := func(src *engine.Tensor) *engine.Tensor {
		rows, v := src.Dim(0), src.Float32()
		out := make([]float32, len(v))
		for i := range rows {
			for g, pg := range perm {
				copy(out[i*k+g*group:i*k+(g+1)*group], v[i*k+pg*group:i*k+(pg+1)*group])
			}
		}
		p, err := tensor.FromFloat32(out, rows, k)
		require.NoError(t, err)
		return p
	}
	xp, wp := permute(x), permute(w)
	for _, frac := range []float64{0, 0.25, 0.5, 1} {
		a, err := engine.QuantizeActivations(x, group, frac)
		require.NoError(t, err)
		aw, err := engine.QuantizeWeights(w, group)
		require.NoError(t, err)
		ap, err := engine.QuantizeActivations(xp, group, frac)
		require.NoError(t, err)
		awp, err := engine.QuantizeWeights(wp, group)
		require.NoError(t, err)
		for g, pg := range perm {
			require.Equal(t, a.Is8[pg], ap.Is8[g], "frac %v group %d", frac, g)
			for i := range m {
				require.Equal(t, a.Scales[i*groups+pg], ap.Scales[i*groups+g])
			}
			for j := range n {
				require.Equal(t, aw.Scales[j*groups+pg], awp.Scales[j*groups+g])
			}
		}
		want := ref.W4A4(a, aw)
		require.Less(t, check.RelFrobenius(ref.W4A4(ap, awp), want), 1e-12)
		y, err := e.W4A4GEMM(t.Context(), ap, awp)
		require.NoError(t, err)
		require.Less(t, check.RelFrobenius(check.Float64s(y.Float32()), want), 1e-6, "frac %v", frac)
	}
}

// W4A4 returns the quantized GEMM of its quantized operands and its error
// against x w^T; 8-bit activations (frac 1) make that error smaller than
// 4-bit ones (frac 0), and group 0 means the default 128.
func TestW4A4ErrorAndDefaults(t *testing.T) {
	e := w4a4Engine(t)
	r := check.NewRand(t)
	const m, n, k = 17, 40, 300 // groups of 128, 128, 44
	x, w := w4a4Random(t, r, m, k), w4a4Random(t, r, n, k)
	res0, err := e.W4A4(t.Context(), x, w, 0, 0)
	require.NoError(t, err)
	res128, err := e.W4A4(t.Context(), x, w, 128, 0)
	require.NoError(t, err)
	assert.Equal(t, res128.Y.Float32(), res0.Y.Float32())
	assert.Equal(t, res128.RelErr, res0.RelErr)

	aq, err := engine.QuantizeActivations(x, 0, 0)
	require.NoError(t, err)
	wq, err := engine.QuantizeWeights(w, 0)
	require.NoError(t, err)
	assert.Equal(t, quant.DefaultGroup, aq.Group)
	assert.Equal(t, quant.DefaultGroup, wq.Group)
	require.Less(t, check.RelFrobenius(check.Float64s(res0.Y.Float32()), ref.W4A4(aq, wq)), 1e-6)

	res1, err := e.W4A4(t.Context(), x, w, 0, 1)
	require.NoError(t, err)
	assert.Less(t, res1.RelErr, res0.RelErr, "8-bit activations quantize better than 4-bit ones")
	assert.Greater(t, res1.RelErr, 0.0)
	// 4-bit levels one seventh of the maximum apart: a few percent to tens of percent.
	assert.Less(t, res0.RelErr, 0.5)
}

type w4a4FakeBuffer struct{}

func (w4a4FakeBuffer) Device() string { return "fake:0" }
func (w4a4FakeBuffer) Bytes() int64   { return 1 << 20 }

func TestW4A4BadInputs(t *testing.T) {
	e := w4a4Engine(t)
	r := check.NewRand(t)
	ctx := t.Context()
	x, w := w4a4Random(t, r, 3, 10), w4a4Random(t, r, 4, 10)
	x64, err := tensor.FromFloat64(check.Uniform(r, 30), 3, 10)
	require.NoError(t, err)
	x3, err := x.Reshape(3, 5, 2)
	require.NoError(t, err)
	w9 := w4a4Random(t, r, 4, 9)
	onDevice, err := tensor.OnDevice(tensor.Float32, w4a4FakeBuffer{}, 3, 10)
	require.NoError(t, err)
	xNaN := x.Clone()
	xNaN.Float32()[7] = float32(math.NaN())

	for _, c := range []struct {
		name  string
		x, w  *engine.Tensor
		group int
		frac  float64
		kind  error
	}{
		{"nil x", nil, w, 4, 0, engine.ErrArgument},
		{"nil w", x, nil, 4, 0, engine.ErrArgument},
		{"float64 x", x64, w, 4, 0, engine.ErrDType},
		{"rank 3", x3, w, 4, 0, engine.ErrShape},
		{"K mismatch", x, w9, 4, 0, engine.ErrShape},
		{"negative group", x, w, -4, 0, engine.ErrArgument},
		{"frac above 1", x, w, 4, 1.5, engine.ErrArgument},
		{"negative frac", x, w, 4, -0.25, engine.ErrArgument},
		{"NaN frac", x, w, 4, math.NaN(), engine.ErrArgument},
		{"NaN in x", xNaN, w, 4, 0, engine.ErrArgument},
		{"x on a device", onDevice, w, 4, 0, engine.ErrUnsupported},
	} {
		_, err := e.W4A4(ctx, c.x, c.w, c.group, c.frac)
		assert.ErrorIs(t, err, c.kind, "W4A4: %s", c.name)
	}
	_, err = engine.QuantizeWeights(x64, 4)
	assert.ErrorIs(t, err, engine.ErrDType)
	_, err = engine.QuantizeActivations(x3, 4, 0)
	assert.ErrorIs(t, err, engine.ErrShape)
	_, err = engine.QuantizeActivations(x, 4, 2)
	assert.ErrorIs(t, err, engine.ErrArgument)
	_, err = engine.QuantizeWeights(w, -1)
	assert.ErrorIs(t, err, engine.ErrArgument)

	a, err := engine.QuantizeActivations(x, 4, 0.5)
	require.NoError(t, err)
	aw, err := engine.QuantizeWeights(w, 4)
	require.NoError(t, err)
	aw9, err := engine.QuantizeWeights(w9, 4)
	require.NoError(t, err)
	aw5, err := engine.QuantizeWeights(w, 5)
	require.NoError(t, err)
	corrupt := *aw
	corrupt.Codes = append([]byte(nil), aw.Codes...)
	corrupt.Codes[2] = 0x88
	short := *aw
	short.Scales = aw.Scales[1:]

	for _, c := range []struct {
		name string
		a    *quant.Activations
		w    *quant.Weights
		kind error
	}{
		{"nil activations", nil, aw, engine.ErrArgument},
		{"nil weights", a, nil, engine.ErrArgument},
		{"K mismatch", a, aw9, engine.ErrShape},
		{"group mismatch", a, aw5, engine.ErrShape},
		{"nibble 0x8", a, &corrupt, engine.ErrFormat},
		{"missing scale", a, &short, engine.ErrShape},
	} {
		_, err := e.W4A4GEMM(ctx, c.a, c.w)
		assert.ErrorIs(t, err, c.kind, "W4A4GEMM: %s", c.name)
		y, err := tensor.New(tensor.Float32, 3, 4)
		require.NoError(t, err)
		err = e.W4A4GEMMInto(ctx, backend.W4A4Args{A: c.a, W: c.w, Y: y})
		assert.ErrorIs(t, err, c.kind, "W4A4GEMMInto: %s", c.name)
	}

	y64, err := tensor.New(tensor.Float64, 3, 4)
	require.NoError(t, err)
	y43, err := tensor.New(tensor.Float32, 4, 3)
	require.NoError(t, err)
	y12, err := tensor.New(tensor.Float32, 12)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		y    *engine.Tensor
		kind error
	}{
		{"nil y", nil, engine.ErrArgument},
		{"float64 y", y64, engine.ErrDType},
		{"transposed y", y43, engine.ErrShape},
		{"flat y", y12, engine.ErrShape},
	} {
		err := e.W4A4GEMMInto(ctx, backend.W4A4Args{A: a, W: aw, Y: c.y})
		assert.ErrorIs(t, err, c.kind, "W4A4GEMMInto: %s", c.name)
	}
}

// A group so long that 127*7*group overflows int32 is refused before any work.
func TestW4A4GroupSumLimit(t *testing.T) {
	e := w4a4Engine(t)
	const k = math.MaxInt32/(127*7) + 1
	a, err := quant.NewActivations(make([]int8, k), []float32{1}, []bool{false}, 1, k, k)
	require.NoError(t, err)
	w, err := quant.NewWeights(make([]int8, k), []float32{1}, 1, k, k)
	require.NoError(t, err)
	_, err = e.W4A4GEMM(t.Context(), a, w)
	assert.ErrorIs(t, err, engine.ErrLimit)
}

// Empty M, N or K are valid: y has the right shape, is all zeros (no groups
// when K = 0), and the error of a zero product against a zero one is 0.
func TestW4A4EmptyShapes(t *testing.T) {
	e := w4a4Engine(t)
	r := check.NewRand(t)
	for _, sz := range [][3]int{{0, 5, 7}, {3, 0, 7}, {3, 4, 0}} {
		m, n, k := sz[0], sz[1], sz[2]
		res, err := e.W4A4(t.Context(), w4a4Random(t, r, m, k), w4a4Random(t, r, n, k), 4, 0.5)
		require.NoError(t, err, "%v", sz)
		require.Equal(t, []int{m, n}, res.Y.Shape())
		assert.Equal(t, make([]float32, m*n), res.Y.Float32())
		assert.Zero(t, res.RelErr)
	}
}
