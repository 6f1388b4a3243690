package quant

import (
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// NewWeights builds Weights from unpacked int4 codes (n x k, row-major, each
// in [-7, 7]) and their scales (n x Groups(k, group)), packing the codes; it
// is how weights quantized elsewhere come in. The result is validated.
func NewWeights(codes []int8, scales []float32, n, k, group int) (*Weights, error) {
	const op = "quant.NewWeights"
	if err := checkCodes(op, codes, n, k, group, nil); err != nil {
		return nil, err
	}
	w := &Weights{N: n, K: k, Group: group, Codes: tensor.PackInt4(codes, k), Scales: scales}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// NewActivations builds Activations from unpacked codes (m x k, row-major, in
// column order; in [-127, 127] in the groups is8 marks and in [-7, 7] in the
// others) and their scales (m x Groups(k, group)), splitting the rows into
// the int4 and int8 streams. The result is validated.
func NewActivations(codes []int8, scales []float32, is8 []bool, m, k, group int) (*Activations, error) {
	const op = "quant.NewActivations"
	if err := checkDims(op, m, k, group); err != nil {
		return nil, err
	}
	if len(is8) != Groups(k, group) {
		return nil, errs.Shape(op, "%d int8 flags for %d groups", len(is8), Groups(k, group))
	}
	if err := checkCodes(op, codes, m, k, group, is8); err != nil {
		return nil, err
	}
	a := packActivations(codes, m, k, group, is8)
	a.Scales = scales
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// checkCodes checks the size of an unpacked rows x k code matrix and that
// every code lies in its group's range (is8 nil: all groups 4-bit), so that
// packing cannot wrap a code into another.
func checkCodes(op string, codes []int8, rows, k, group int, is8 []bool) error {
	if err := checkDims(op, rows, k, group); err != nil {
		return err
	}
	if len(codes) != rows*k {
		return errs.Shape(op, "%d codes, want %d x %d = %d", len(codes), rows, k, rows*k)
	}
	for i, c := range codes {
		qmax := int8(7)
		if is8 != nil && is8[i%k/group] {
			qmax = 127
		}
		if c < -qmax || c > qmax {
			return errs.Format(op, nil, "code [%d, %d] is %d, outside [-%d, %d]", i/k, i%k, c, qmax, qmax)
		}
	}
	return nil
}

// packActivations splits unpacked codes (rows x k, column order) into the
// packed int4 stream and the int8 stream of the Activations format.
func packActivations(codes []int8, m, k, group int, is8 []bool) *Activations {
	a := &Activations{M: m, K: k, Group: group, Is8: is8}
	k4, k8 := a.Widths()
	codes4 := make([]int8, m*k4)
	a.Codes8 = make([]int8, m*k8)
	for r := range m {
		p4, p8 := r*k4, r*k8
		for g, eight := range is8 {
			lo, hi := GroupBounds(k, group, g)
			if eight {
				p8 += copy(a.Codes8[p8:], codes[r*k+lo:r*k+hi])
			} else {
				p4 += copy(codes4[p4:], codes[r*k+lo:r*k+hi])
			}
		}
	}
	a.Codes = tensor.PackInt4(codes4, k4)
	return a
}
