package quant

import (
	"cmp"
	"math"
	"slices"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// Int8Count is the number of 8-bit groups for a fraction frac of groups:
// ceil(frac * groups), evaluated in float64 as written (so that the choice
// matches other implementations of the formula bit for bit), with frac
// clamped to [0, 1] (NaN counts as 0).
func Int8Count(frac float64, groups int) int {
	if !(frac > 0) {
		return 0
	}
	return min(int(math.Ceil(min(frac, 1)*float64(groups))), groups)
}

// ChooseInt8Groups picks the activation groups kept at 8 bits for x (m, k),
// row-major: the Int8Count(frac, groups) groups with the largest max|x[:, g]|
// over the whole matrix, ties going to the lower group index, one choice for
// all rows. (COMET's FMPQ, Liu et al. 2024, arXiv:2410.12168, keeps the
// outlier blocks of 128 channels in 8 bits; the spec pins the choice to this
// ranking.) x must hold m*k values and group must be > 0;
// QuantizeActivations checks both.
func ChooseInt8Groups(x []float32, m, k, group int, frac float64) []bool {
	groups := Groups(k, group)
	is8 := make([]bool, groups)
	n8 := Int8Count(frac, groups)
	if n8 == 0 {
		return is8
	}
	gmax := make([]float32, groups)
	for r := range m {
		row := x[r*k : (r+1)*k]
		for g := range gmax {
			lo, hi := GroupBounds(k, group, g)
			gmax[g] = max(gmax[g], maxAbs(row[lo:hi]))
		}
	}
	order := make([]int, groups)
	for g := range order {
		order[g] = g
	}
	// Stable, so that equal maxima keep the lower index first.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(gmax[b], gmax[a]) })
	for _, g := range order[:n8] {
		is8[g] = true
	}
	return is8
}

// QuantizeActivations quantizes x (m, k), row-major float32, per row and
// group: the groups ChooseInt8Groups picks are 8-bit (qmax 127), the others
// 4-bit (qmax 7); sa[m,g] = max|x[m,g]|/qmax and code = clamp(rne(x/sa),
// -qmax, qmax). frac must lie in [0, 1] and values must be finite.
func QuantizeActivations(x []float32, m, k, group int, frac float64) (*Activations, error) {
	const op = "quant.QuantizeActivations"
	if err := checkMatrix(op, "x", x, m, k, group); err != nil {
		return nil, err
	}
	if !(frac >= 0 && frac <= 1) {
		return nil, errs.Argument(op, "int8 fraction must lie in [0, 1], got %v", frac)
	}
	is8 := ChooseInt8Groups(x, m, k, group, frac)
	qmax := make([]float32, len(is8))
	for g, eight := range is8 {
		qmax[g] = 7
		if eight {
			qmax[g] = 127
		}
	}
	codes, scales := quantizeRows(x, m, k, group, qmax)
	a := packActivations(codes, m, k, group, is8)
	a.Scales = scales
	return a, nil
}

// Widths returns K4 and K8, the number of columns in 4-bit and in 8-bit
// groups: the row lengths of the Codes and Codes8 streams.
func (a *Activations) Widths() (k4, k8 int) {
	for g, eight := range a.Is8 {
		lo, hi := GroupBounds(a.K, a.Group, g)
		if eight {
			k8 += hi - lo
		} else {
			k4 += hi - lo
		}
	}
	return k4, k8
}

// Validate checks that a is a well-formed activation format: sizes
// consistent, one Is8 flag per group, one scale per (row, group), scales
// finite and >= 0, int4 codes in [-7, 7] (the nibble 0x8 is rejected) and
// int8 codes in [-127, 127]. The padding nibble of an odd row is ignored.
// Errors are errs.ErrArgument (group), errs.ErrShape (sizes) or
// errs.ErrFormat (codes and scales).
func (a *Activations) Validate() error {
	const op = "quant.Activations"
	if a == nil {
		return errs.Argument(op, "activations are nil")
	}
	if err := checkDims(op, a.M, a.K, a.Group); err != nil {
		return err
	}
	groups := Groups(a.K, a.Group)
	if len(a.Is8) != groups {
		return errs.Shape(op, "%d int8 flags for %d groups", len(a.Is8), groups)
	}
	k4, k8 := a.Widths()
	rb := rowBytes(k4)
	if want := a.M * rb; len(a.Codes) != want {
		return errs.Shape(op, "int4 codes hold %d bytes, want %d (%d rows of %d codes)", len(a.Codes), want, a.M, k4)
	}
	if want := a.M * k8; len(a.Codes8) != want {
		return errs.Shape(op, "int8 codes hold %d values, want %d (%d rows of %d codes)", len(a.Codes8), want, a.M, k8)
	}
	if want := a.M * groups; len(a.Scales) != want {
		return errs.Shape(op, "scales hold %d values, want %d (%d rows x %d groups)", len(a.Scales), want, a.M, groups)
	}
	if err := checkScales(op, a.Scales, groups); err != nil {
		return err
	}
	for m := range a.M {
		row := a.Codes[m*rb : (m+1)*rb]
		for j := range k4 {
			if tensor.Int4At(row, j) == -8 {
				return errs.Format(op, nil, "int4 code %d of row %d is the nibble 0x8 (-8); int4 codes lie in [-7, 7]", j, m)
			}
		}
	}
	for i, c := range a.Codes8 {
		if c == -128 {
			return errs.Format(op, nil, "int8 code %d of row %d is -128; int8 codes lie in [-127, 127]", i%k8, i/k8)
		}
	}
	return nil
}

// Row unpacks the K codes of row m, in column order, into dst (len(dst) >= K)
// and returns dst[:K].
func (a *Activations) Row(m int, dst []int8) []int8 {
	k4, k8 := a.Widths()
	rb := rowBytes(k4)
	row4 := a.Codes[m*rb : (m+1)*rb]
	row8 := a.Codes8[m*k8 : (m+1)*k8]
	dst = dst[:a.K]
	p4, p8 := 0, 0
	for g, eight := range a.Is8 {
		lo, hi := GroupBounds(a.K, a.Group, g)
		if eight {
			p8 += copy(dst[lo:hi], row8[p8:])
			continue
		}
		for c := lo; c < hi; c++ {
			dst[c] = tensor.Int4At(row4, p4)
			p4++
		}
	}
	return dst
}

// Code returns the code of row m at column k. It walks the groups before k's
// to find its place in its stream; use Row to read whole rows.
func (a *Activations) Code(m, k int) int8 {
	k4, k8 := a.Widths()
	g := k / a.Group
	off := k - g*a.Group
	for h := range g {
		if a.Is8[h] == a.Is8[g] {
			off += a.Group // groups before g are full-size
		}
	}
	if a.Is8[g] {
		return a.Codes8[m*k8+off]
	}
	rb := rowBytes(k4)
	return tensor.Int4At(a.Codes[m*rb:(m+1)*rb], off)
}

// Dequantize returns the M x K float32 values Scales[m,g] * code.
func (a *Activations) Dequantize() []float32 {
	groups := Groups(a.K, a.Group)
	out := make([]float32, a.M*a.K)
	buf := make([]int8, a.K)
	for m := range a.M {
		row := a.Row(m, buf)
		for k, c := range row {
			out[m*a.K+k] = a.Scales[m*groups+k/a.Group] * float32(c)
		}
	}
	return out
}
