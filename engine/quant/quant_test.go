package quant_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// randomMatrix is rows x cols of check.Uniform values with a random scale per
// column group, so groups differ in magnitude as real activations do.
func randomMatrix(r *rand.Rand, rows, cols, group int) []float32 {
	x := check.Float32s(check.Uniform(r, rows*cols))
	for g := range quant.Groups(cols, group) {
		s := float32(math.Exp2(float64(r.IntN(12) - 6)))
		lo, hi := quant.GroupBounds(cols, group, g)
		for i := range rows {
			for c := lo; c < hi; c++ {
				x[i*cols+c] *= s
			}
		}
	}
	return x
}

// The byte-level layout of the docs: codes 1, -1, 7 of one row pack to 0xF1
// (1 in the low nibble, -1 = 0xF in the high one) and 0x07 (7, then padding).
func TestQuantWeightsByteLayout(t *testing.T) {
	w, err := quant.QuantizeWeights([]float32{1, -1, 7}, 1, 3, 128)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xF1, 0x07}, w.Codes)
	assert.Equal(t, []float32{1}, w.Scales)
	assert.Equal(t, []int8{1, -1, 7}, w.Row(0, make([]int8, 3)))
	assert.Equal(t, []float32{1, -1, 7}, w.Dequantize())
}

func TestQuantPackRoundTrip(t *testing.T) {
	r := check.NewRand(t)
	for _, sz := range []struct{ rows, k, group int }{{5, 37, 8}, {3, 64, 16}, {4, 9, 4}, {2, 1, 128}, {6, 200, 64}} {
		x := randomMatrix(r, sz.rows, sz.k, sz.group)
		w, err := quant.QuantizeWeights(x, sz.rows, sz.k, sz.group)
		require.NoError(t, err)
		require.NoError(t, w.Validate())
		codes := tensor.UnpackInt4(w.Codes, sz.rows, sz.k)
		buf := make([]int8, sz.k)
		for n := range sz.rows {
			row := w.Row(n, buf)
			for k := range sz.k {
				require.Equal(t, codes[n*sz.k+k], row[k])
				require.Equal(t, row[k], w.Code(n, k))
			}
		}
		assert.Equal(t, w.Codes, tensor.PackInt4(codes, sz.k), "repacking the unpacked codes gives the same bytes")
		back, err := quant.NewWeights(codes, w.Scales, sz.rows, sz.k, sz.group)
		require.NoError(t, err)
		assert.Equal(t, w, back)

		for _, frac := range []float64{0, 0.25, 0.5, 1} {
			a, err := quant.QuantizeActivations(x, sz.rows, sz.k, sz.group, frac)
			require.NoError(t, err)
			require.NoError(t, a.Validate())
			all := make([]int8, 0, sz.rows*sz.k)
			for m := range sz.rows {
				row := a.Row(m, buf)
				for k := range sz.k {
					require.Equal(t, row[k], a.Code(m, k), "row %d col %d", m, k)
				}
				all = append(all, row...)
			}
			back, err := quant.NewActivations(all, a.Scales, a.Is8, sz.rows, sz.k, sz.group)
			require.NoError(t, err)
			assert.Equal(t, a, back)
			// The streams hold the 4-bit and 8-bit groups in group order.
			k4, k8 := a.Widths()
			assert.Equal(t, sz.k, k4+k8)
			c4 := tensor.UnpackInt4(a.Codes, sz.rows, k4)
			for m := range sz.rows {
				p4, p8 := 0, 0
				for g, eight := range a.Is8 {
					lo, hi := quant.GroupBounds(sz.k, sz.group, g)
					for k := lo; k < hi; k++ {
						if eight {
							require.Equal(t, a.Codes8[m*k8+p8], all[m*sz.k+k])
							p8++
						} else {
							require.Equal(t, c4[m*k4+p4], all[m*sz.k+k])
							p4++
						}
					}
				}
			}
		}
	}
}

// Neither quantizer ever produces the nibble 0x8 (-8) or the int8 -128, even
// on negative maxima and values that round past the clamp.
func TestQuantNoNibble8(t *testing.T) {
	r := check.NewRand(t)
	const rows, k, group = 16, 61, 4
	x := randomMatrix(r, rows, k, group)
	// Negative maxima in many groups: the code of the maximum is exactly -qmax.
	for i := 0; i < len(x); i += 3 {
		x[i] = -float32(math.Abs(float64(x[i]))) * 4
	}
	w, err := quant.QuantizeWeights(x, rows, k, group)
	require.NoError(t, err)
	a, err := quant.QuantizeActivations(x, rows, k, group, 0.5)
	require.NoError(t, err)
	var min4, min8 int8
	for _, packed := range [][]byte{w.Codes, a.Codes} {
		for _, b := range packed {
			require.NotEqual(t, byte(0x8), b&0xf)
			require.NotEqual(t, byte(0x80), b&0xf0)
			min4 = min(min4, int8(b<<4)>>4, int8(b)>>4)
		}
	}
	for _, c := range a.Codes8 {
		require.NotEqual(t, int8(-128), c)
		min8 = min(min8, c)
	}
	assert.Equal(t, int8(-7), min4, "negative maxima reach -7")
	assert.Equal(t, int8(-127), min8, "negative maxima reach -127")
}

// Quantizer edge cases, values chosen so the exact codes are known.
func TestQuantizeWeightsEdgeCases(t *testing.T) {
	// Group 0: max 7, so the scale is 1 and x/s = x: ties go to even.
	// Group 1: all zeros: scale 0, codes 0.
	// Group 2: max 3.5 at +-max: scale 0.5, codes -7 and 7, and 1.75/0.5 = 3.5 -> 4.
	// Group 3 (short, 2 columns): a negative maximum -> -7 (after the clamp
	// if -0.3/(0.3/7) rounds past 7 in float32), and 0.1/(0.3/7) = 2.33 -> 2.
	w := []float32{
		7, 0.5, 1.5, 2.5, -0.5, -2.5,
		0, 0, 0, 0, 0, 0,
		-3.5, 3.5, 1.75, -1.25, 0.25, 0.75,
		-0.3, 0.1,
	}
	q, err := quant.QuantizeWeights(w, 1, len(w), 6)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 0, 0.5, float32(0.3) / 7}, q.Scales)
	got := q.Row(0, make([]int8, len(w)))
	want := []int8{
		7, 0, 2, 2, 0, -2,
		0, 0, 0, 0, 0, 0,
		-7, 7, 4, -2, 0, 2,
		-7, 2,
	}
	assert.Equal(t, want, got)
	deq := q.Dequantize()
	assert.Equal(t, []float32{0, 0, 0, 0, 0, 0}, deq[6:12], "a zero group dequantizes to zeros")
	assert.Equal(t, []float32{-3.5, 3.5, 2, -1, 0, 1}, deq[12:18])
}

func TestQuantizeActivationsEdgeCases(t *testing.T) {
	// One row, groups of 4: the 8-bit group (largest max, 127) keeps 127 and
	// ties to even at 0.5 and 1.5; the 4-bit group rounds 3.5 (a tie) to 4.
	x := []float32{
		127, 0.5, 1.5, -127,
		7, 3.5, -7, 2.5,
		0, 0, 0,
	}
	a, err := quant.QuantizeActivations(x, 1, len(x), 4, 0.25)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, false}, a.Is8)
	assert.Equal(t, []float32{1, 1, 0}, a.Scales)
	assert.Equal(t, []int8{127, 0, 2, -127, 7, 4, -7, 2, 0, 0, 0}, a.Row(0, make([]int8, len(x))))
	assert.Equal(t, []int8{127, 0, 2, -127}, a.Codes8)
}

// Every code is the nearest level to its value, the group's maximum is
// exactly +-qmax, and dequantized values are within half a scale step.
func TestQuantizeRoundTripError(t *testing.T) {
	r := check.NewRand(t)
	const rows, k, group = 7, 45, 8
	x := randomMatrix(r, rows, k, group)
	w, err := quant.QuantizeWeights(x, rows, k, group)
	require.NoError(t, err)
	a, err := quant.QuantizeActivations(x, rows, k, group, 0.4)
	require.NoError(t, err)
	groups := quant.Groups(k, group)
	require.Equal(t, 3, countTrue(a.Is8), "ceil(0.4*6) groups are 8-bit")
	for _, c := range []struct {
		deq    []float32
		scales []float32
		qmax   func(g int) float64
	}{
		{w.Dequantize(), w.Scales, func(int) float64 { return 7 }},
		{a.Dequantize(), a.Scales, func(g int) float64 {
			if a.Is8[g] {
				return 127
			}
			return 7
		}},
	} {
		for i := range rows {
			for g := range groups {
				lo, hi := quant.GroupBounds(k, group, g)
				var m float64
				for j := lo; j < hi; j++ {
					m = max(m, math.Abs(float64(x[i*k+j])))
				}
				s := float64(c.scales[i*groups+g])
				require.InEpsilon(t, m/c.qmax(g), s, 1e-6)
				for j := lo; j < hi; j++ {
					require.LessOrEqual(t, math.Abs(float64(c.deq[i*k+j]-x[i*k+j])), s/2*(1+1e-5))
					if math.Abs(float64(x[i*k+j])) == m {
						require.InDelta(t, m, math.Abs(float64(c.deq[i*k+j])), m*1e-6)
					}
				}
			}
		}
	}
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func TestQuantChooseInt8Groups(t *testing.T) {
	// Group maxima (groups of 2, 2 rows): 1, 5, 3, 5, 0.5.
	x := []float32{
		1, 0.5, -5, 1, 3, 0, 0, 2, 0.5, 0,
		0, -1, 1, 2, -2, 1, 5, -5, 0.1, 0.2,
	}
	for _, c := range []struct {
		frac float64
		want []bool
	}{
		{0, []bool{false, false, false, false, false}},
		{0.1, []bool{false, true, false, false, false}}, // ceil(0.5) = 1: the tie at 5 goes to group 1
		{0.25, []bool{false, true, false, true, false}}, // ceil(1.25) = 2
		{0.5, []bool{false, true, true, true, false}},   // ceil(2.5) = 3
		{0.8, []bool{true, true, true, true, false}},    // 4
		{1, []bool{true, true, true, true, true}},
	} {
		assert.Equal(t, c.want, quant.ChooseInt8Groups(x, 2, 10, 2, c.frac), "frac %v", c.frac)
	}
	assert.Equal(t, 0, quant.Int8Count(math.NaN(), 8))
	assert.Equal(t, 8, quant.Int8Count(2, 8))
	assert.Equal(t, 1, quant.Int8Count(1e-9, 8))
	assert.Equal(t, 0, quant.Int8Count(0.5, 0))
}

// The last group is shorter when K is not a multiple of G.
func TestQuantShortLastGroup(t *testing.T) {
	r := check.NewRand(t)
	const rows, k, group = 3, 11, 4 // groups of 4, 4, 3
	x := randomMatrix(r, rows, k, group)
	x[2*k+10] = 1000 // the short group holds the largest value: it is 8-bit at frac 1/3
	a, err := quant.QuantizeActivations(x, rows, k, group, 1.0/3)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false, true}, a.Is8)
	k4, k8 := a.Widths()
	assert.Equal(t, 8, k4)
	assert.Equal(t, 3, k8)
	assert.Len(t, a.Codes, rows*4)
	assert.Len(t, a.Codes8, rows*3)
	assert.Len(t, a.Scales, rows*3)
	assert.Equal(t, int8(127), a.Code(2, 10))
	w, err := quant.QuantizeWeights(x, rows, k, group)
	require.NoError(t, err)
	assert.Len(t, w.Codes, rows*6)
	assert.Equal(t, int8(7), w.Code(2, 10))
	lo, hi := quant.GroupBounds(k, group, 2)
	assert.Equal(t, [2]int{8, 11}, [2]int{lo, hi})
}

func TestQuantizersRejectBadInput(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	_, err := quant.QuantizeWeights(x, 2, 4, 2)
	assert.ErrorIs(t, err, errs.ErrShape)
	_, err = quant.QuantizeWeights(x, -2, -3, 2)
	assert.ErrorIs(t, err, errs.ErrShape)
	_, err = quant.QuantizeWeights(x, 2, 3, 0)
	assert.ErrorIs(t, err, errs.ErrArgument)
	bad := []float32{1, float32(math.NaN()), 3, 4, 5, float32(math.Inf(-1))}
	_, err = quant.QuantizeWeights(bad, 2, 3, 2)
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = quant.QuantizeActivations(bad, 2, 3, 2, 0)
	assert.ErrorIs(t, err, errs.ErrArgument)
	for _, f := range []float64{-0.1, 1.5, math.NaN()} {
		_, err = quant.QuantizeActivations(x, 2, 3, 2, f)
		assert.ErrorIs(t, err, errs.ErrArgument, "frac %v", f)
	}
	_, err = quant.QuantizeActivations(x, 3, 3, 2, 0)
	assert.ErrorIs(t, err, errs.ErrShape)
	_, err = quant.QuantizeActivations(x, 2, 3, -1, 0)
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = quant.NewWeights([]int8{1, 8}, []float32{1}, 1, 2, 2)
	assert.ErrorIs(t, err, errs.ErrFormat, "8 would wrap to the nibble 0x8")
	_, err = quant.NewActivations([]int8{100, 1}, []float32{1, 1}, []bool{false, true}, 1, 2, 1)
	assert.ErrorIs(t, err, errs.ErrFormat, "100 in a 4-bit group")
	_, err = quant.NewActivations([]int8{1, -128}, []float32{1, 1}, []bool{false, true}, 1, 2, 1)
	assert.ErrorIs(t, err, errs.ErrFormat)
	_, err = quant.NewActivations([]int8{1, 2}, []float32{1, 1}, []bool{false}, 1, 2, 1)
	assert.ErrorIs(t, err, errs.ErrShape)
}

func TestQuantValidate(t *testing.T) {
	r := check.NewRand(t)
	const rows, k, group = 3, 9, 4 // groups of 4, 4, 1; odd rows
	x := randomMatrix(r, rows, k, group)
	for _, c := range []struct {
		name   string
		break_ func(w *quant.Weights)
		kind   error
	}{
		{"group 0", func(w *quant.Weights) { w.Group = 0 }, errs.ErrArgument},
		{"negative N", func(w *quant.Weights) { w.N = -1 }, errs.ErrShape},
		{"short codes", func(w *quant.Weights) { w.Codes = w.Codes[1:] }, errs.ErrShape},
		{"K too large for the codes", func(w *quant.Weights) { w.K = 11 }, errs.ErrShape},
		{"missing scale", func(w *quant.Weights) { w.Scales = w.Scales[1:] }, errs.ErrShape},
		{"scale for another group size", func(w *quant.Weights) { w.Group = 2 }, errs.ErrShape},
		{"NaN scale", func(w *quant.Weights) { w.Scales[4] = float32(math.NaN()) }, errs.ErrFormat},
		{"negative scale", func(w *quant.Weights) { w.Scales[0] = -1 }, errs.ErrFormat},
		{"infinite scale", func(w *quant.Weights) { w.Scales[8] = float32(math.Inf(1)) }, errs.ErrFormat},
		{"nibble 0x8 low", func(w *quant.Weights) { w.Codes[7] = w.Codes[7]&0xf0 | 0x8 }, errs.ErrFormat},
		{"nibble 0x8 high", func(w *quant.Weights) { w.Codes[3] = w.Codes[3]&0x0f | 0x80 }, errs.ErrFormat},
	} {
		w, err := quant.QuantizeWeights(x, rows, k, group)
		require.NoError(t, err)
		require.NoError(t, w.Validate())
		c.break_(w)
		assert.ErrorIs(t, w.Validate(), c.kind, "weights: %s", c.name)
	}
	// The padding nibble of an odd row is not a code: it is ignored.
	w, err := quant.QuantizeWeights(x, rows, k, group)
	require.NoError(t, err)
	w.Codes[4] |= 0x80
	assert.NoError(t, w.Validate())

	for _, c := range []struct {
		name   string
		break_ func(a *quant.Activations)
		kind   error
	}{
		{"group 0", func(a *quant.Activations) { a.Group = 0 }, errs.ErrArgument},
		{"negative M", func(a *quant.Activations) { a.M = -3 }, errs.ErrShape},
		{"missing flag", func(a *quant.Activations) { a.Is8 = a.Is8[1:] }, errs.ErrShape},
		{"flag flipped", func(a *quant.Activations) { a.Is8[2] = !a.Is8[2] }, errs.ErrShape},
		{"short int4 codes", func(a *quant.Activations) { a.Codes = a.Codes[1:] }, errs.ErrShape},
		{"long int8 codes", func(a *quant.Activations) { a.Codes8 = append(a.Codes8, 1) }, errs.ErrShape},
		{"missing scale", func(a *quant.Activations) { a.Scales = a.Scales[:len(a.Scales)-1] }, errs.ErrShape},
		{"NaN scale", func(a *quant.Activations) { a.Scales[2] = float32(math.NaN()) }, errs.ErrFormat},
		{"int8 -128", func(a *quant.Activations) { a.Codes8[5] = -128 }, errs.ErrFormat},
		{"nibble 0x8", func(a *quant.Activations) { a.Codes[0] = a.Codes[0]&0xf0 | 0x8 }, errs.ErrFormat},
	} {
		a, err := quant.QuantizeActivations(x, rows, k, group, 0.5)
		require.NoError(t, err)
		require.NoError(t, a.Validate())
		c.break_(a)
		assert.ErrorIs(t, a.Validate(), c.kind, "activations: %s", c.name)
	}
	var nilW *quant.Weights
	var nilA *quant.Activations
	assert.ErrorIs(t, nilW.Validate(), errs.ErrArgument)
	assert.ErrorIs(t, nilA.Validate(), errs.ErrArgument)
	// Errors are typed, and usable with errors.As.
	var e *errs.Error
	assert.True(t, errors.As((&quant.Weights{N: 1, K: 1, Group: 1}).Validate(), &e))
}
