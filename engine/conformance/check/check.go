// Package check holds what the tests of every package (and of other backends) share: fresh random
// inputs that are never zero, and the error measures the spec's tolerances
// are stated in.
package check

import (
	"math"
	"math/rand/v2"
)

// Logger is the part of testing.TB that NewRand needs; taking it rather than
// testing.TB keeps the testing package out of the binaries (matmix bench)
// that use this package.
type Logger interface {
	Helper()
	Logf(format string, args ...any)
}

// NewRand returns a generator with a fresh seed, logging the seed so that a
// failure can be replayed.
func NewRand(t Logger) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x6d61746d6978))
}

// Uniform returns n values uniform in [-1, -0.05] ∪ [0.05, 1]: random and
// never zero, so a product that ignores an input cannot pass by chance.
func Uniform(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		x := 0.05 + 0.95*r.Float64()
		if r.IntN(2) == 0 {
			x = -x
		}
		v[i] = x
	}
	return v
}

// Float32s narrows v to float32.
func Float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// Float64s widens v to float64.
func Float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// RelFrobenius is ||got - want||_F / ||want||_F (the absolute error when want
// is zero). NaN anywhere in got gives +Inf, so an unwritten poisoned output fails.
func RelFrobenius(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range got {
		if math.IsNaN(got[i]) || math.IsInf(got[i], 0) {
			return math.Inf(1)
		}
		d := got[i] - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// RelRMS is the relative RMS error; with one reference it equals RelFrobenius
// (RMS(got-want)/RMS(want)), and is kept as its own name because the GLA
// tolerances are stated that way.
func RelRMS(got, want []float64) float64 { return RelFrobenius(got, want) }

// MaxAbsDiff is max |got - want| (+Inf on NaN or a length mismatch).
func MaxAbsDiff(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range got {
		if math.IsNaN(got[i]) {
			return math.Inf(1)
		}
		m = max(m, math.Abs(got[i]-want[i]))
	}
	return m
}
