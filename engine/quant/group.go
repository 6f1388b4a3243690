package quant

import (
	"math"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// quantizeGroup quantizes one group v symmetrically to [-qmax, qmax] as the
// spec pins it: s = max|v| / qmax in float32, code = clamp(rne(v / s)) with the
// division in float32 and ties to even. It writes the codes to dst and
// returns s. A scale of 0 (a group of zeros, or a maximum so small that
// max/qmax underflows) gives codes 0: every code dequantizes to 0 then.
func quantizeGroup(v []float32, qmax float32, dst []int8) float32 {
	s := maxAbs(v) / qmax
	if s == 0 {
		clear(dst[:len(v)])
		return 0
	}
	dst = dst[:len(v)]
	for i, x := range v {
		dst[i] = int8(min(max(roundEven32(x/s), -qmax), qmax))
	}
	return s
}

// roundEven32 rounds x to the nearest integer, ties to even, for |x| <
// 2^22: adding and subtracting 1.5*2^23 leaves float32 no bits below the
// unit, and float32 addition rounds to nearest even (Go evaluates float32
// expressions in float32, without excess precision). Codes are at most
// qmax + 1 in magnitude, far inside that range; NaN never reaches here.
func roundEven32(x float32) float32 {
	const magic = 1.5 * (1 << 23)
	return (x + magic) - magic
}

// maxAbs is max|x| over v (0 for an empty v).
func maxAbs(v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, abs32(x))
	}
	return m
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// checkMatrix checks that data holds the rows x cols matrix a quantizer was
// asked for, that group is positive and that every value is finite (max|x|
// of a group with an Inf or NaN has no meaningful scale).
func checkMatrix(op, name string, data []float32, rows, cols, group int) error {
	if group <= 0 {
		return errs.Argument(op, "group size must be > 0, got %d", group)
	}
	n, err := tensor.NumElements([]int{rows, cols})
	if err != nil {
		return err
	}
	if len(data) != n {
		return errs.Shape(op, "%s has %d values, want %d x %d = %d", name, len(data), rows, cols, n)
	}
	for i, x := range data {
		// An exponent of all ones is Inf or NaN.
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return errs.Argument(op, "%s[%d, %d] is %v; quantization needs finite values", name, i/cols, i%cols, x)
		}
	}
	return nil
}

// checkScales checks that every scale is finite and non-negative, as
// max|v|/qmax always is.
func checkScales(op string, scales []float32, groups int) error {
	for i, s := range scales {
		if !(s >= 0) || math.IsInf(float64(s), 0) {
			return errs.Format(op, nil, "scale [%d, %d] is %v; scales must be finite and >= 0", i/groups, i%groups, s)
		}
	}
	return nil
}

// checkDims checks the sizes a format's header gives: rows and k
// non-negative, their product bounded, group positive.
func checkDims(op string, rows, k, group int) error {
	if group <= 0 {
		return errs.Argument(op, "group size must be > 0, got %d", group)
	}
	_, err := tensor.NumElements([]int{rows, k})
	return err
}
