package quant

import (
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// QuantizeWeights quantizes w (n, k), row-major float32, to int4 per output
// channel n and group g of the given size along k: sw[n,g] = max|w[n,g]|/7
// and code = clamp(rne(w/sw), -7, 7) (the COMET W4 scheme; spec
// shared/spec/workloads.md). Values must be finite.
func QuantizeWeights(w []float32, n, k, group int) (*Weights, error) {
	const op = "quant.QuantizeWeights"
	if err := checkMatrix(op, "w", w, n, k, group); err != nil {
		return nil, err
	}
	qmax := make([]float32, Groups(k, group))
	for g := range qmax {
		qmax[g] = 7
	}
	codes, scales := quantizeRows(w, n, k, group, qmax)
	return &Weights{N: n, K: k, Group: group, Codes: tensor.PackInt4(codes, k), Scales: scales}, nil
}

// rowBytes is the packed length of one row of k int4 codes.
func rowBytes(k int) int { return (k + 1) / 2 }

// Validate checks that w is a well-formed weight format: sizes consistent,
// one scale per (row, group), scales finite and >= 0, codes in [-7, 7] (the
// nibble 0x8, -8, is rejected). The padding nibble of an odd row is ignored.
// Errors are errs.ErrArgument (group), errs.ErrShape (sizes) or
// errs.ErrFormat (codes and scales).
func (w *Weights) Validate() error {
	const op = "quant.Weights"
	if w == nil {
		return errs.Argument(op, "weights are nil")
	}
	if err := checkDims(op, w.N, w.K, w.Group); err != nil {
		return err
	}
	groups := Groups(w.K, w.Group)
	if want := w.N * rowBytes(w.K); len(w.Codes) != want {
		return errs.Shape(op, "codes hold %d bytes, want %d (%d rows of %d codes)", len(w.Codes), want, w.N, w.K)
	}
	if want := w.N * groups; len(w.Scales) != want {
		return errs.Shape(op, "scales hold %d values, want %d (%d rows x %d groups)", len(w.Scales), want, w.N, groups)
	}
	if err := checkScales(op, w.Scales, groups); err != nil {
		return err
	}
	rb := rowBytes(w.K)
	for n := range w.N {
		row := w.Codes[n*rb : (n+1)*rb]
		for k := range w.K {
			if tensor.Int4At(row, k) == -8 {
				return errs.Format(op, nil, "code [%d, %d] is the nibble 0x8 (-8); int4 codes lie in [-7, 7]", n, k)
			}
		}
	}
	return nil
}

// Code returns the code of row n at column k.
func (w *Weights) Code(n, k int) int8 {
	rb := rowBytes(w.K)
	return tensor.Int4At(w.Codes[n*rb:(n+1)*rb], k)
}

// Row unpacks the K codes of row n into dst (len(dst) >= K) and returns dst[:K].
func (w *Weights) Row(n int, dst []int8) []int8 {
	rb := rowBytes(w.K)
	row := w.Codes[n*rb : (n+1)*rb]
	dst = dst[:w.K]
	for k := range dst {
		dst[k] = tensor.Int4At(row, k)
	}
	return dst
}

// Dequantize returns the N x K float32 values Scales[n,g] * code.
func (w *Weights) Dequantize() []float32 {
	groups := Groups(w.K, w.Group)
	out := make([]float32, w.N*w.K)
	buf := make([]int8, w.K)
	for n := range w.N {
		row := w.Row(n, buf)
		for k, c := range row {
			out[n*w.K+k] = w.Scales[n*groups+k/w.Group] * float32(c)
		}
	}
	return out
}
