package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/bench/meter"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

func cpuEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.WithBackend("cpu"))
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

// runCase measures c with fast options and no meter, and requires its check
// to pass on the given subset.
func runCase(t *testing.T, c Case, wantSubset bool) Result {
	t.Helper()
	o := fastOptions()
	o.Seed = rand.Uint64()
	t.Logf("seed %d", o.Seed)
	h, err := New(o, meter.NewNull(nil, nil), Ceilings{}, nil)
	require.NoError(t, err)
	res, err := h.Run(t.Context(), c)
	require.NoError(t, err)
	assert.Equal(t, "ok", res.Check.Status, "%+v", res.Check)
	if wantSubset {
		assert.NotEmpty(t, res.Check.Subset)
	} else {
		assert.Empty(t, res.Check.Subset)
	}
	assert.Positive(t, res.Samples)
	assert.Positive(t, res.GFLOPS)
	assert.Positive(t, res.GBPS)
	return res
}

func TestMonarchCase(t *testing.T) {
	e := cpuEngine(t)
	c, err := MonarchCase(e, MonarchSize{Batch: 33, N: 64, Blocks: 8}, 1e9)
	require.NoError(t, err)
	assert.Equal(t, "monarch/batch=33/n=64/blocks=8/dtype=float32", c.Name())
	// fly's count: 2 * batch * (k q p + l s r) = 4 * batch * n * (n/blocks).
	assert.Equal(t, 4.0*33*64*8, c.FLOPs)
	// x, y and both factors once, 4 bytes each.
	assert.Equal(t, 4.0*(2*33*64+2*8*8*8), c.Bytes)
	assert.Equal(t, "fp32", c.Compute)
	res := runCase(t, c, false)
	assert.Equal(t, 1e-5, res.Check.Tol)

	// A budget of 3 rows' work checks rows 0..2.
	c, err = MonarchCase(e, MonarchSize{Batch: 33, N: 64, Blocks: 8}, 3*2*(8*8*8*2))
	require.NoError(t, err)
	res = runCase(t, c, true)
	assert.Equal(t, "rows 0..2 of 33", res.Check.Subset)

	_, err = MonarchCase(e, MonarchSize{Batch: 4, N: 60, Blocks: 8}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = MonarchCase(e, MonarchSize{Batch: 0, N: 64, Blocks: 8}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = MonarchCase(e, MonarchSize{Batch: 4, N: 64, Blocks: 8, DType: tensor.Float64}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = MonarchCase(e, MonarchSize{Batch: 4, N: 64, Blocks: 8, DType: tensor.BFloat16, TF32: true}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)
}

// The 16-bit dtypes: half the bytes, the spec's 1e-2 against the float64
// reference of the rounded inputs, an error that shows the rounding (so
// the output really is 16-bit), on a row subset too. The CPU computes them
// widened to float32, so its roofline class stays fp32.
func TestMonarchCaseHalf(t *testing.T) {
	e := cpuEngine(t)
	for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16} {
		c, err := MonarchCase(e, MonarchSize{Batch: 37, N: 96, Blocks: 6, DType: dt}, 5*2*(6*16*16*2))
		require.NoError(t, err)
		assert.Equal(t, "monarch/batch=37/n=96/blocks=6/dtype="+dt.String(), c.Name())
		assert.Equal(t, 2.0*(2*37*96+2*6*16*16), c.Bytes)
		assert.Equal(t, "fp32", c.Compute)
		res := runCase(t, c, true)
		assert.Equal(t, "rows 0..4 of 37", res.Check.Subset)
		assert.Equal(t, 1e-2, res.Check.Tol)
		assert.Greater(t, res.Check.Error, 1e-5, "a 16-bit output differs from float64 by more than float32 would")
	}
	// tf32 (run by the caller on cuda): float16's tolerance, its own name.
	c, err := MonarchCase(e, MonarchSize{Batch: 4, N: 64, Blocks: 8, TF32: true}, 1e9)
	require.NoError(t, err)
	assert.Equal(t, "monarch/batch=4/n=64/blocks=8/dtype=float32/math=tf32", c.Name())
	inst, err := c.Prepare(t.Context(), testRand(t))
	require.NoError(t, err)
	require.NoError(t, inst.Run(t.Context()))
	assert.Equal(t, 1e-2, inst.Check(t.Context()).Tol)
}

// The roofline class: tensor cores on cuda for 16-bit operands and tf32,
// float32 everywhere on the CPU.
func TestComputeClass(t *testing.T) {
	assert.Equal(t, "bf16", computeClass("cuda:0", tensor.BFloat16, false))
	assert.Equal(t, "f16", computeClass("cuda:sim", tensor.Float16, false))
	assert.Equal(t, "tf32", computeClass("cuda:0", tensor.Float32, true))
	assert.Equal(t, "fp32", computeClass("cuda:0", tensor.Float32, false))
	assert.Equal(t, "fp32", computeClass("cpu", tensor.BFloat16, false))
}

func TestGLACase(t *testing.T) {
	e := cpuEngine(t)
	for _, form := range []string{"chunked", "recurrent"} {
		c, err := GLACase(e, GLASize{B: 2, T: 70, H: 2, K: 16, V: 8, Form: form}, 1e9)
		require.NoError(t, err)
		assert.Equal(t, 5.0*2*70*2*16*8, c.FLOPs)
		res := runCase(t, c, true)
		assert.Equal(t, "sequence 0 of 2", res.Check.Subset)
	}
	c, err := GLACase(e, GLASize{B: 1, T: 100, H: 2, K: 16, V: 8}, 5*2*16*8*10)
	require.NoError(t, err)
	res := runCase(t, c, true)
	assert.Equal(t, "tokens 0..9 of 100", res.Check.Subset)

	_, err = GLACase(e, GLASize{B: 1, T: 1, H: 1, K: 1, V: 1, Form: "fast"}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = GLACase(e, GLASize{B: 1, T: 1, H: 1, K: 1, V: 1, DType: tensor.Int8}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)

	// 16-bit inputs and output: half the bytes, the spec's 1e-2, both forms,
	// a token prefix of sequence 0.
	for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16} {
		for _, form := range []string{"chunked", "recurrent"} {
			s := GLASize{B: 2, T: 90, H: 2, K: 32, V: 16, Form: form, DType: dt}
			c, err := GLACase(e, s, 5*2*32*16*70)
			require.NoError(t, err)
			assert.Equal(t, "gla/b=2/t=90/h=2/k=32/v=16/form="+form+"/dtype="+dt.String(), c.Name())
			assert.Equal(t, 2.0*(3*2*90*2*32+2*2*90*2*16), c.Bytes)
			res := runCase(t, c, true)
			assert.Equal(t, "sequence 0 of 2, tokens 0..69 of 90", res.Check.Subset)
			assert.Equal(t, 1e-2, res.Check.Tol)
			assert.Greater(t, res.Check.Error, 1e-5)
		}
	}
}

func TestW4A4Case(t *testing.T) {
	e := cpuEngine(t)
	c, err := W4A4Case(e, W4A4Size{M: 17, N: 24, K: 200, Group: 64, Int8Frac: 0.3}, 1e9)
	require.NoError(t, err)
	res := runCase(t, c, false)
	// 4-bit weights and mostly 4-bit activations: a few percent of error,
	// reported, not hidden.
	q := res.Extra["quant_rel_err"]
	assert.Greater(t, q, 1e-3)
	assert.Less(t, q, 0.5)
	assert.Equal(t, "int8", c.Compute)

	c, err = W4A4Case(e, W4A4Size{M: 17, N: 24, K: 200}, 2*24*200*4)
	require.NoError(t, err)
	res = runCase(t, c, true)
	assert.Equal(t, "rows 0..3 of 17", res.Check.Subset)
	assert.Equal(t, 128, res.Params["group"])

	_, err = W4A4Case(e, W4A4Size{M: 1, N: 1, K: 1, Int8Frac: 2}, 1e9)
	assert.ErrorIs(t, err, errs.ErrArgument)
}

func TestSpGEMMCase(t *testing.T) {
	e := cpuEngine(t)
	for _, kind := range []string{"rmat", "er"} {
		g := GenSpec{Kind: kind, Scale: 7, EdgeFactor: 4, Seed: rand.Uint64()}
		a, err := Generate[float32](g)
		require.NoError(t, err)
		c, err := SpGEMMCase(e, a, []Param{{"gen", kind}, {"scale", 7}}, 1e9)
		require.NoError(t, err)
		flops, err := sparse.SpGEMMFLOPs(a, a)
		require.NoError(t, err)
		assert.Equal(t, float64(flops), c.FLOPs)
		res := runCase(t, c, false)
		assert.Positive(t, res.Extra["nnz_c"])
		assert.Greater(t, res.Bytes, c.Bytes, "the output's traffic is added once nnz(C) is known")
	}
	// float64, a rectangular matrix (A*A^T) and a row subset.
	a, err := Generate[float64](GenSpec{Kind: "er", Scale: 6, EdgeFactor: 3, Seed: 3})
	require.NoError(t, err)
	a = leadingRows(a, 40)
	c, err := SpGEMMCase(e, a, nil, 200)
	require.NoError(t, err)
	assert.Equal(t, "spgemm/b=At/dtype=float64", c.Name())
	runCase(t, c, true)
}

func TestGenerate(t *testing.T) {
	g := GenSpec{Kind: "rmat", Scale: 10, EdgeFactor: 8, Seed: 42}
	a, err := Generate[float32](g)
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	assert.True(t, a.IsCanonical())
	assert.Equal(t, 1024, a.Rows)
	// Duplicates merge: R-MAT's skew makes many.
	assert.Less(t, a.NNZ(), int64(1024*8))
	assert.Greater(t, a.NNZ(), int64(1024*4))
	for _, v := range a.Val {
		assert.Greater(t, v, float32(0), "generated values are never zero")
	}
	// Skew: with a = 0.57, row 0 is far denser than the average row.
	assert.Greater(t, a.RowPtr[1]-a.RowPtr[0], int64(8*4))
	// Same seed, same matrix.
	b, err := Generate[float32](g)
	require.NoError(t, err)
	assert.Equal(t, a.ColInd, b.ColInd)

	er, err := Generate[float64](GenSpec{Kind: "er", Scale: 10, EdgeFactor: 8, Seed: 42})
	require.NoError(t, err)
	assert.Greater(t, er.NNZ(), int64(1024*8*95/100), "few duplicates in Erdos-Renyi")

	for _, bad := range []GenSpec{{Kind: "ba", Scale: 4, EdgeFactor: 1}, {Kind: "er", Scale: 0, EdgeFactor: 1}, {Kind: "er", Scale: 4, EdgeFactor: 0}} {
		_, err := Generate[float32](bad)
		assert.ErrorIs(t, err, errs.ErrArgument)
	}
	_, err = Generate[float32](GenSpec{Kind: "er", Scale: 30, EdgeFactor: 16})
	assert.ErrorIs(t, err, errs.ErrLimit)
}

func TestSGEMMCase(t *testing.T) {
	c, err := SGEMMCase(67, 2, 1e9)
	require.NoError(t, err)
	assert.True(t, c.Host)
	runCase(t, c, false)
	c, err = SGEMMCase(67, 2, 2*67*67*5)
	require.NoError(t, err)
	res := runCase(t, c, true)
	assert.Equal(t, "rows 0..4 of 67", res.Check.Subset)
}

// Outputs are poisoned before the first run, so a check of an output the
// kernel never wrote fails for every workload.
func TestCheckCatchesUnwrittenOutput(t *testing.T) {
	e := cpuEngine(t)
	a, err := Generate[float32](GenSpec{Kind: "er", Scale: 5, EdgeFactor: 2, Seed: 1})
	require.NoError(t, err)
	mk := []func() (Case, error){
		func() (Case, error) { return MonarchCase(e, MonarchSize{Batch: 4, N: 16, Blocks: 4}, 1e9) },
		func() (Case, error) { return GLACase(e, GLASize{B: 1, T: 8, H: 1, K: 4, V: 4}, 1e9) },
		func() (Case, error) {
			return MonarchCase(e, MonarchSize{Batch: 4, N: 16, Blocks: 4, DType: tensor.BFloat16}, 1e9)
		},
		func() (Case, error) {
			return GLACase(e, GLASize{B: 1, T: 8, H: 1, K: 4, V: 4, DType: tensor.Float16}, 1e9)
		},
		func() (Case, error) { return W4A4Case(e, W4A4Size{M: 4, N: 4, K: 32, Group: 16}, 1e9) },
		func() (Case, error) { return SGEMMCase(8, 1, 1e9) },
	}
	for _, f := range mk {
		c, err := f()
		require.NoError(t, err)
		inst, err := c.Prepare(t.Context(), testRand(t))
		require.NoError(t, err)
		chk := inst.Check(t.Context())
		assert.Equal(t, "failed", chk.Status, c.Name())
	}
	// SpGEMM allocates its output per run: checking before any run must
	// fail, not panic.
	c, err := SpGEMMCase(e, a, nil, 1e9)
	require.NoError(t, err)
	inst, err := c.Prepare(t.Context(), testRand(t))
	require.NoError(t, err)
	assert.Equal(t, "failed", inst.Check(t.Context()).Status)
}
