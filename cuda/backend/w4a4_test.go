package backend

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// TestW4A4NoDevice: a backend without a device validates the arguments
// (ErrArgument for missing operands) and fails a valid GEMM with a device
// error, never a panic.
func TestW4A4NoDevice(t *testing.T) {
	b := New(nil)
	require.ErrorIs(t, b.W4A4GEMM(t.Context(), backend.W4A4Args{}), errs.ErrArgument)

	r := check.NewRand(t)
	a, err := quant.QuantizeActivations(check.Float32s(check.Uniform(r, 2*9)), 2, 9, 4, 0.25)
	require.NoError(t, err)
	w, err := quant.QuantizeWeights(check.Float32s(check.Uniform(r, 3*9)), 3, 9, 4)
	require.NoError(t, err)
	y, err := tensor.New(tensor.Float32, 2, 3)
	require.NoError(t, err)
	require.ErrorIs(t, b.W4A4GEMM(t.Context(), backend.W4A4Args{A: a, W: w, Y: y}), errs.ErrDevice)
}
