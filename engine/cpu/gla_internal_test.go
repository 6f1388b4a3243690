package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
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
	glaDecay(d64, x, 1, bh, bl, mh, ml)
	d32 := make([]float32, n)
	glaDecay(d32, check.Float32s(x), 1, bh, bl, mh, ml)
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

// glaKernelSets is every kernel set this CPU runs, each tested against the
// portable loops (the zero glaVec).
func glaKernelSets(t *testing.T) []glaVec {
	if len(glaVecs) == 0 {
		t.Log("no SIMD kernels on this build or CPU: the portable loops only")
	}
	return glaVecs
}

// ulps is the distance between two float32s in units in the last place.
func ulps(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if (a < 0) != (b < 0) {
		return math.MaxInt64
	}
	return max(d, -d)
}

// The decay kernels: 2^e within one float32 ulp of math.Exp2 over the whole
// range (float32 subnormals, underflow to 0 below -150, overflow to +Inf,
// -Inf to 0, NaN kept), clamped gates counted in m, every length (the tail
// past the vector width runs in Go), and x and s multiplied in as the
// portable loop does.
func TestGLADecayKernels(t *testing.T) {
	r := check.NewRand(t)
	special := []float64{0, -0.5, 0.5, -126, -126.5, -149, -149.5, -150, -151, -1e300, 127, 127.5, 128, 1e300,
		math.Inf(-1), math.Inf(1), math.NaN()}
	for _, v := range glaKernelSets(t) {
		t.Run(v.name, func(t *testing.T) {
			for _, n := range []int{1, 7, v.width - 1, v.width, v.width + 1, 2*v.width + 3, 64, 100, 4000} {
				bh, bl, mh, ml := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
				for i := range bh {
					bh[i], bl[i] = -170+300*r.Float64(), 0
					if i < len(special) && n > len(special) {
						bh[i] = special[i]
					}
					if i%11 == 5 {
						bl[i], mh[i], ml[i] = -3*r.Float64(), 3, 2 // one clamped gate between: 0
					}
				}
				ones := make([]float32, n)
				for i := range ones {
					ones[i] = 1
				}
				got := make([]float32, n)
				v.decayF32(got, ones, 1, bh, bl, mh, ml)
				for i, g := range got {
					e := bh[i] - bl[i] + glaGateFloor*(mh[i]-ml[i])
					want := float32(math.Exp2(e))
					switch {
					case math.IsNaN(e):
						require.True(t, math.IsNaN(float64(g)), "2^NaN = %v", g)
					case math.IsInf(float64(want), 1):
						require.True(t, math.IsInf(float64(g), 1) || g == math.MaxFloat32, "2^%v = %v", e, g)
					default:
						require.LessOrEqual(t, ulps(g, want), int64(1), "n %d: 2^%v = %v, want %v", n, e, g, want)
					}
				}

				x := check.Float32s(check.Uniform(r, n))
				for i := range bh {
					bh[i] = -40 * r.Float64()
				}
				got, want := make([]float32, n), make([]float32, n)
				v.decayF32(got, x, 0.375, bh, bl, mh, ml)
				glaVec{}.decayF32(want, x, 0.375, bh, bl, mh, ml)
				for i := range got {
					require.LessOrEqual(t, ulps(got[i], want[i]), int64(1), "n %d, %d: %v, want %v", n, i, got[i], want[i])
					if i%11 == 5 {
						require.Zero(t, got[i])
					}
				}
			}
		})
	}
}

// The gate kernels give the portable loop's cumulative gates bit for bit:
// plain gates, gates under the floor (counted in m), -Inf, NaN and +Inf;
// and the same bounds where no NaN is involved.
func TestGLAGateKernels(t *testing.T) {
	r := check.NewRand(t)
	for _, v := range glaKernelSets(t) {
		t.Run(v.name, func(t *testing.T) {
			for _, n := range []int{1, v.width - 1, v.width, v.width + 5, 64, 129} {
				g := check.Float32s(check.Uniform(r, n))
				for i := range g {
					g[i] = -2 * g[i]
					switch i % 13 {
					case 3:
						g[i] = -1e4
					case 7:
						g[i] = float32(math.Inf(-1))
					case 9:
						g[i] = -762.4 // log2 -1099.9: just above the floor
					}
				}
				pb, pm := check.Uniform(r, n), make([]float64, n)
				for i := range pm {
					pm[i] = float64(i % 3)
				}
				lo0, hi0 := check.Uniform(r, n), check.Uniform(r, n)
				for i := range lo0 {
					lo0[i], hi0[i] = -lo0[i], 2+hi0[i]
				}
				type out struct{ b, m, lo, hi []float64 }
				run := func(v glaVec, g []float32) out {
					o := out{make([]float64, n), make([]float64, n), append([]float64(nil), lo0...), append([]float64(nil), hi0...)}
					v.gatesF32(g, pb, pm, o.b, o.m, o.lo, o.hi)
					return o
				}
				got, want := run(v, g), run(glaVec{}, g)
				require.Equal(t, want, got, "n %d", n)
				for i := range g {
					if i%13 == 3 || i%13 == 7 {
						require.Equal(t, pm[i]+1, got.m[i])
						require.Equal(t, pb[i], got.b[i])
					}
				}

				g[n-1] = float32(math.Inf(1))
				g[0] = float32(math.NaN())
				got, want = run(v, g), run(glaVec{}, g)
				require.True(t, math.IsNaN(got.b[0]))
				require.True(t, n == 1 || math.IsInf(got.b[n-1], 1))
				require.Equal(t, want.b[1:], got.b[1:])
				require.Equal(t, want.m, got.m)
			}
		})
	}
}

// The float32 vector products against the portable loops, at every length
// around the vector width: products and scaling bit for bit, the inner
// product (summed in another order) to float32 rounding.
func TestGLAVecKernels(t *testing.T) {
	r := check.NewRand(t)
	for _, v := range glaKernelSets(t) {
		t.Run(v.name, func(t *testing.T) {
			for n := 1; n <= 4*v.width+3; n++ {
				x, y := check.Float32s(check.Uniform(r, n)), check.Float32s(check.Uniform(r, n))
				got, want := make([]float32, n), make([]float32, n)
				v.mulF32(got, x, y)
				glaVec{}.mulF32(want, x, y)
				require.Equal(t, want, got, "mul %d", n)
				v.mulF32(got, got, x) // in place
				glaVec{}.mulF32(want, want, x)
				require.Equal(t, want, got, "mul in place %d", n)

				v.scalF32(got, 1.75)
				glaVec{}.scalF32(want, 1.75)
				require.Equal(t, want, got, "scal %d", n)

				var abs float64
				for i := range x {
					abs += math.Abs(float64(x[i]) * float64(y[i]))
				}
				d, wd := v.dotF32(x, y), glaVec{}.dotF32(x, y)
				require.InDelta(t, float64(wd), float64(d), 1e-6*abs, "dot %d", n)
			}
		})
	}
}

// glaChunkRun runs one chunk of job j from state s0 in the one-product form
// (wide) or the sub-chunk form, after checking which one gates picks.
func glaChunkRun[T float](t *testing.T, j glaJob[T], s0 []T, wide, wantWide bool) (o, s []T) {
	d := j.d
	w := newGLAWork[T](d.K, d.V, backend.GLAChunked)
	copy(w.S, s0)
	j.o = make([]T, d.T*d.V)
	require.Equal(t, wantWide, j.gates(w, 0, 0, d.T))
	if wide {
		j.chunkWide(w, 0, 0, d.T, true)
	} else {
		j.chunkSub(w, 0, 0, d.T, true)
	}
	return j.o, w.S
}

// The one-product chunk (chunkWide) and the sub-chunk one (chunkSub) agree
// with the float64 sub-chunk form on chunks whose gates spread up to
// glaSpan, partial chunks included; gates spreading further, NaN and a
// clamped gate after the first row send a chunk to chunkSub, a clamped
// first gate does not.
func TestGLAChunkForms(t *testing.T) {
	r := check.NewRand(t)
	const K, V = 24, 20
	for _, L := range []int{3, 17, glaChunk} {
		for _, spread := range []float64{0.01, glaSpan - 1, 2 * glaSpan} {
			t.Run(fmt.Sprintf("L%d/spread%v", L, spread), func(t *testing.T) {
				d := backend.GLADims{B: 1, T: L, H: 1, K: K, V: V, Offsets: []int{0, L}}
				// float32 inputs, so that the float64 form sees the same ones.
				in := func(n int) []float64 { return check.Float64s(check.Float32s(check.Uniform(r, n))) }
				j := glaJob[float64]{q: in(L * K), k: in(L * K), v: in(L * V), g: make([]float64, L*K),
					d: d, scale: 0.3, form: backend.GLAChunked}
				// Each cumulative gate falls by spread/2 to spread (log2) over
				// rows 1.. of the chunk; the first gates may be anything.
				for i, u := range check.Uniform(r, L*K) {
					j.g[i] = float64(float32(-(0.5 + 0.5*math.Abs(u)) * spread / math.Log2E / float64(max(L, 2)-1)))
					if i < K && L > 1 {
						j.g[i] = -5
					}
				}
				s0 := in(K * V)
				wide := spread < glaSpan
				oRef, sRef := glaChunkRun(t, j, s0, false, wide)
				j32 := glaJob[float32]{q: check.Float32s(j.q), k: check.Float32s(j.k), v: check.Float32s(j.v),
					g: check.Float32s(j.g), d: d, scale: 0.3, form: backend.GLAChunked}
				forms := []bool{false}
				if wide {
					forms = append(forms, true)
					o, s := glaChunkRun(t, j, s0, true, wide)
					assert.LessOrEqual(t, check.RelFrobenius(o, oRef), 1e-13, "float64 o")
					assert.LessOrEqual(t, check.RelFrobenius(s, sRef), 1e-13, "float64 S")
				}
				for _, form := range forms {
					o, s := glaChunkRun(t, j32, check.Float32s(s0), form, wide)
					assert.LessOrEqual(t, check.RelFrobenius(check.Float64s(o), oRef), 1e-5, "wide %v o", form)
					assert.LessOrEqual(t, check.RelFrobenius(check.Float64s(s), sRef), 1e-6, "wide %v S", form)
				}
			})
		}
	}
	d := backend.GLADims{B: 1, T: 3, H: 1, K: 2, V: 1, Offsets: []int{0, 3}}
	w := newGLAWork[float64](2, 1, backend.GLAChunked)
	for name, c := range map[string]struct {
		g    []float64
		wide bool
	}{
		"small":           {[]float64{-1, -1, -2, -2, -3, -3}, true},
		"spread":          {[]float64{-1, -1, -30, -1, -1, -1}, false},
		"nan":             {[]float64{-1, -1, math.NaN(), -1, -1, -1}, false},
		"clamped first":   {[]float64{math.Inf(-1), -1e4, -1, -1, -1, -1}, true},
		"clamped later":   {[]float64{-1, -1, -1, math.Inf(-1), -1, -1}, false},
		"positive, small": {[]float64{1, -1, 2, 1, -1, 3}, true},
	} {
		j := glaJob[float64]{g: c.g, d: d}
		assert.Equal(t, c.wide, j.gates(w, 0, 0, 3), name)
	}
}

// The automatic path splits over chunks where pairs leave threads idle and
// some pair has several chunks, never for the recurrent form, on one thread,
// or when the states would pass glaSplitMaxBytes; the forced path splits
// wherever the states fit.
func TestGLASplitChoice(t *testing.T) {
	dims := func(B, T, H, K int) backend.GLADims {
		d := backend.GLADims{B: B, T: T, H: H, K: K, V: K, Offsets: make([]int, B+1)}
		for s := range d.Offsets {
			d.Offsets[s] = s * T
		}
		return d
	}
	for _, c := range []struct {
		name    string
		d       backend.GLADims
		threads int
		form    backend.GLAForm
		path    glaPath
		want    bool
	}{
		{"one pair, 2 threads", dims(1, 4096, 1, 64), 2, backend.GLAChunked, glaPathAuto, true},
		{"2 pairs, 16 threads", dims(1, 4096, 2, 64), 16, backend.GLAChunked, glaPathAuto, true},
		{"3 pairs, 2 threads", dims(1, 4096, 3, 64), 2, backend.GLAChunked, glaPathAuto, false},
		{"5 pairs, 4 threads", dims(1, 4096, 5, 64), 4, backend.GLAChunked, glaPathAuto, true},
		{"8 pairs, 2 threads", dims(1, 4096, 8, 64), 2, backend.GLAChunked, glaPathAuto, false},
		{"15 pairs, 16 threads", dims(1, 4096, 15, 64), 16, backend.GLAChunked, glaPathAuto, false},
		{"one thread", dims(1, 4096, 1, 64), 1, backend.GLAChunked, glaPathAuto, false},
		{"one chunk each", dims(1, glaChunk, 1, 64), 2, backend.GLAChunked, glaPathAuto, false},
		{"recurrent", dims(1, 4096, 1, 64), 2, backend.GLARecurrent, glaPathAuto, false},
		{"states too large", dims(1, 1<<22, 1, 128), 2, backend.GLAChunked, glaPathAuto, false},
		{"forced, one chunk", dims(1, glaChunk, 1, 64), 1, backend.GLAChunked, glaPathChunks, true},
		{"forced, too large", dims(1, 1<<22, 1, 128), 2, backend.GLAChunked, glaPathChunks, false},
		{"forced pairs", dims(1, 4096, 1, 64), 2, backend.GLAChunked, glaPathPairs, false},
		{"forced, K = V = 0", dims(1, 4096, 1, 0), 2, backend.GLAChunked, glaPathChunks, false},
	} {
		j := glaJob[float32]{d: c.d, form: c.form, path: c.path}
		_, ok := j.split(c.threads)
		assert.Equal(t, c.want, ok, c.name)
	}
}
