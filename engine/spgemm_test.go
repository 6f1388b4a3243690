package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/sparse"
)

func TestSpGEMMEngine(t *testing.T) {
	r := check.NewRand(t)
	e := engine.New(cpu.New(2))
	a := conformance.RandomCSR(t, r, 21, 34, 0.2, true)
	b := conformance.RandomCSR(t, r, 34, 17, 0.2, true)
	c, err := engine.SpGEMM(t.Context(), e, a, b)
	require.NoError(t, err)
	conformance.RequireDenseProduct(t, c, a, b, 1e-12)
	a32, b32 := sparse.Convert[float32](a), sparse.Convert[float32](b)
	c32, err := engine.SpGEMM(t.Context(), e, a32, b32)
	require.NoError(t, err)
	conformance.RequireDenseProduct(t, c32, a32, b32, 1e-5)

	flops, err := engine.SpGEMMFLOPs(a, b)
	require.NoError(t, err)
	want := int64(0)
	for _, k := range a.ColInd {
		want += 2 * (b.RowPtr[k+1] - b.RowPtr[k])
	}
	require.Equal(t, want, flops)

	_, err = engine.SpGEMM(t.Context(), e, b, b)
	require.ErrorIs(t, err, engine.ErrShape)
	_, err = engine.SpGEMM(t.Context(), nil, a, b)
	require.ErrorIs(t, err, engine.ErrArgument)
	_, err = engine.SpGEMM(nil, e, a, b) //nolint:staticcheck // a nil context is the point
	require.ErrorIs(t, err, engine.ErrArgument)
	_, err = engine.SpGEMMFLOPs(b, b)
	require.ErrorIs(t, err, engine.ErrShape)
}

// The engine's limit reaches the backend.
func TestSpGEMMEngineLimit(t *testing.T) {
	r := check.NewRand(t)
	a := conformance.RandomCSR(t, r, 50, 50, 0.2, false)
	small := engine.New(cpu.New(2), engine.WithMaxSpGEMMBytes(4096))
	_, err := engine.SpGEMM(t.Context(), small, a, a)
	require.ErrorIs(t, err, engine.ErrLimit)
	require.Contains(t, err.Error(), "limit of 4096 bytes")
	_, err = engine.SpGEMM(t.Context(), engine.New(cpu.New(2)), a, a)
	require.NoError(t, err)
}
