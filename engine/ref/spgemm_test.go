package ref_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/sparse"
)

// The reference against a dense triple loop: random messy operands (unsorted
// rows, duplicates), rectangular, empty rows and empty shapes.
func TestSpGEMMRefDense(t *testing.T) {
	r := check.NewRand(t)
	for _, s := range []struct {
		m, k, n int
		density float64
	}{{0, 0, 0, 1}, {0, 3, 4, 1}, {3, 0, 4, 1}, {4, 3, 0, 1}, {1, 1, 1, 1}, {9, 14, 6, 0.3}, {31, 23, 40, 0.1}, {50, 50, 50, 0.03}} {
		t.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), func(t *testing.T) {
			a := conformance.RandomCSR(t, r, s.m, s.k, s.density, true)
			b := conformance.RandomCSR(t, r, s.k, s.n, s.density, true)
			c, err := ref.SpGEMM(a, b)
			require.NoError(t, err)
			conformance.RequireDenseProduct(t, c, a, b, 1e-12)
		})
	}
}

func TestSpGEMMRefStructuralZeroAndErrors(t *testing.T) {
	a, err := sparse.FromCOO(1, 2, []int{0, 0}, []int{0, 1}, []float64{0.5, 0.5})
	require.NoError(t, err)
	b, err := sparse.FromCOO(2, 3, []int{1, 0}, []int{2, 2}, []float64{-1, 1})
	require.NoError(t, err)
	c, err := ref.SpGEMM(a, b)
	require.NoError(t, err)
	require.Equal(t, []int64{0, 1}, c.RowPtr)
	require.Equal(t, []int32{2}, c.ColInd)
	require.Equal(t, []float64{0}, c.Val)

	_, err = ref.SpGEMM(a, a)
	require.ErrorIs(t, err, errs.ErrShape)
	bad := b.Clone()
	bad.RowPtr[1] = 5
	_, err = ref.SpGEMM(a, bad)
	require.ErrorIs(t, err, errs.ErrArgument)
}
