package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
)

// exp2f32 is math.Exp2 rounded to float32 to within one float32 ulp over
// its whole range, float32 subnormals and overflow included, at random
// points and at the integers and half-integers where its split switches.
func TestGLAExp2f32(t *testing.T) {
	r := check.NewRand(t)
	xs := []float64{0, -0.5, 0.5, -1, -126, -126.5, -149, -149.5, -150, -151, 127, 127.5, 128}
	for range 20000 {
		xs = append(xs, -160+290*r.Float64())
	}
	for x := -160.0; x <= 130; x += 0.5 {
		xs = append(xs, x)
	}
	for _, x := range xs {
		got, want := exp2f32(x), float32(math.Exp2(x))
		if math.IsInf(float64(want), 1) {
			// Just below 2^128 either rounding may overflow.
			assert.True(t, math.IsInf(float64(got), 1) || got == math.MaxFloat32, "2^%v = %v", x, got)
			continue
		}
		d := int64(math.Float32bits(got)) - int64(math.Float32bits(want))
		require.LessOrEqual(t, max(d, -d), int64(1), "2^%v = %v, want %v", x, got, want)
	}
	assert.Equal(t, float32(1), exp2f32(0))
	assert.Equal(t, float32(0), exp2f32(math.Inf(-1)))
	assert.Equal(t, float32(0), exp2f32(-1e300))
	assert.True(t, math.IsInf(float64(exp2f32(math.Inf(1))), 1))
	assert.True(t, math.IsNaN(float64(exp2f32(math.NaN()))))
}

// glaDecay gives the same factors in float32 and float64, clamped gates
// (counted in m) included: they decay to exactly 0.
func TestGLADecay(t *testing.T) {
	r := check.NewRand(t)
	const n = 37
	bh, bl, mh, ml := check.Uniform(r, n), check.Uniform(r, n), make([]float64, n), make([]float64, n)
	x := check.Uniform(r, n)
	for i := range bh {
		bh[i], bl[i] = -20*bh[i], -bl[i]
		if i%5 == 0 {
			mh[i], ml[i] = 2, 1 // one clamped gate between the rows
		}
	}
	d64 := make([]float64, n)
	glaDecay(d64, x, bh, bl, mh, ml)
	d32 := make([]float32, n)
	glaDecay(d32, check.Float32s(x), bh, bl, mh, ml)
	for i := range d64 {
		want := x[i] * math.Exp2(bh[i]-bl[i]+glaGateFloor*(mh[i]-ml[i]))
		assert.InDelta(t, want, d64[i], 1e-15*math.Abs(want), "float64 %d", i)
		assert.InDelta(t, want, float64(d32[i]), 3e-7*math.Abs(want), "float32 %d", i)
		if i%5 == 0 {
			assert.Zero(t, d32[i])
			assert.Zero(t, d64[i])
		}
	}
}
