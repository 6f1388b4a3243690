package engine

import (
	"context"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// W4A4Result is a quantized GEMM with its error against the float32 GEMM.
type W4A4Result struct {
	Y *Tensor // float32 (M, N)
	// RelErr is ||y - x w^T||_F / ||x w^T||_F with x w^T in float32.
	RelErr float64
}

// W4A4GEMM returns y (M, N) float32 from quantized activations and weights.
func (e *Engine) W4A4GEMM(ctx context.Context, a *quant.Activations, w *quant.Weights) (*Tensor, error) {
	if err := backend.CheckW4A4Operands("w4a4", a, w); err != nil {
		return nil, err
	}
	y, err := tensor.New(Float32, a.M, w.N)
	if err != nil {
		return nil, err
	}
	if err := e.b.W4A4GEMM(ctx, backend.W4A4Args{A: a, W: w, Y: y}); err != nil {
		return nil, err
	}
	return y, nil
}

// W4A4GEMMInto writes the quantized GEMM into a.Y.
func (e *Engine) W4A4GEMMInto(ctx context.Context, a backend.W4A4Args) error {
	if err := backend.CheckW4A4(a); err != nil {
		return err
	}
	return e.b.W4A4GEMM(ctx, a)
}

// W4A4 quantizes x (M, K) and w (N, K), float32, with the given group size
// (0 means 128) and int8 fraction, runs the GEMM and reports its error.
func (e *Engine) W4A4(ctx context.Context, x, w *Tensor, group int, int8Frac float64) (W4A4Result, error) {
	group = resolveGroup(group)
	if err := backend.CheckW4A4Inputs("w4a4", x, w, group, int8Frac); err != nil {
		return W4A4Result{}, err
	}
	xq, err := QuantizeActivations(x, group, int8Frac)
	if err != nil {
		return W4A4Result{}, err
	}
	wq, err := QuantizeWeights(w, group)
	if err != nil {
		return W4A4Result{}, err
	}
	y, err := e.W4A4GEMM(ctx, xq, wq)
	if err != nil {
		return W4A4Result{}, err
	}
	want := gemmNT32(x, w)
	return W4A4Result{Y: y, RelErr: relFrobenius32(y.Float32(), want)}, nil
}

// QuantizeWeights quantizes w (N, K), a float32 host tensor, to int4 per
// output channel and group of the given size (0 means 128); see
// quant.QuantizeWeights.
func QuantizeWeights(w *Tensor, group int) (*quant.Weights, error) {
	const op = "w4a4.QuantizeWeights"
	if err := backend.CheckW4A4Matrix(op, "w", w); err != nil {
		return nil, err
	}
	return quant.QuantizeWeights(w.Float32(), w.Dim(0), w.Dim(1), resolveGroup(group))
}

// QuantizeActivations quantizes x (M, K), a float32 host tensor, per row and
// group of the given size (0 means 128), the int8Frac share of the groups
// with the largest magnitudes at 8 bits and the rest at 4; see
// quant.QuantizeActivations.
func QuantizeActivations(x *Tensor, group int, int8Frac float64) (*quant.Activations, error) {
	const op = "w4a4.QuantizeActivations"
	if err := backend.CheckW4A4Matrix(op, "x", x); err != nil {
		return nil, err
	}
	return quant.QuantizeActivations(x.Float32(), x.Dim(0), x.Dim(1), resolveGroup(group), int8Frac)
}

// resolveGroup maps the group size 0 to the default.
func resolveGroup(group int) int {
	if group == 0 {
		return quant.DefaultGroup
	}
	return group
}

// gemmNT32 is x w^T in float32, the unquantized product the W4A4 error is
// measured against. It is a plain float32 GEMM (gonum's, multithreaded, so
// that measuring the error does not cost more than the product measured).
func gemmNT32(x, w *Tensor) []float32 {
	m, n, k := x.Dim(0), w.Dim(0), x.Dim(1)
	c := make([]float32, m*n)
	if m == 0 || n == 0 || k == 0 {
		return c
	}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: m, Cols: k, Stride: k, Data: x.Float32()},
		blas32.General{Rows: n, Cols: k, Stride: k, Data: w.Float32()},
		0, blas32.General{Rows: m, Cols: n, Stride: n, Data: c})
	return c
}

// relFrobenius32 is ||got - want||_F / ||want||_F, accumulated in float64;
// when want is zero it is the absolute error ||got||_F.
func relFrobenius32(got, want []float32) float64 {
	var num, den float64
	for i, g := range got {
		d := float64(g) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
