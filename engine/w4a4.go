package engine

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
)

// W4A4Result is a quantized GEMM with its error against the float32 GEMM.
type W4A4Result struct {
	Y *Tensor // float32 (M, N)
	// RelErr is ||y - x w^T||_F / ||x w^T||_F with x w^T in float32.
	RelErr float64
}

// W4A4GEMM returns y (M, N) float32 from quantized activations and weights.
func (e *Engine) W4A4GEMM(ctx context.Context, a *quant.Activations, w *quant.Weights) (*Tensor, error) {
	return nil, errs.Unsupported("w4a4", "not implemented yet")
}

// W4A4GEMMInto writes the quantized GEMM into a.Y.
func (e *Engine) W4A4GEMMInto(ctx context.Context, a backend.W4A4Args) error {
	return errs.Unsupported("w4a4", "not implemented yet")
}

// W4A4 quantizes x (M, K) and w (N, K), float32, with the given group size
// (0 means 128) and int8 fraction, runs the GEMM and reports its error.
func (e *Engine) W4A4(ctx context.Context, x, w *Tensor, group int, int8Frac float64) (W4A4Result, error) {
	return W4A4Result{}, errs.Unsupported("w4a4", "not implemented yet")
}
