package ref_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
)

// The reference against an independent float64 evaluation: the sum over k of
// the dequantized products (sa*qa)*(sw*qw), formed in float64 from codes read
// with Row (the reference reads them with Code).
func TestW4A4RefFormula(t *testing.T) {
	r := check.NewRand(t)
	for _, sz := range []struct {
		m, n, k, group int
		frac           float64
	}{{5, 7, 37, 8, 0}, {3, 4, 64, 16, 0.25}, {6, 3, 9, 4, 1}, {2, 5, 1, 128, 1}} {
		x := check.Float32s(check.Uniform(r, sz.m*sz.k))
		wf := check.Float32s(check.Uniform(r, sz.n*sz.k))
		a, err := quant.QuantizeActivations(x, sz.m, sz.k, sz.group, sz.frac)
		require.NoError(t, err)
		w, err := quant.QuantizeWeights(wf, sz.n, sz.k, sz.group)
		require.NoError(t, err)

		groups := quant.Groups(sz.k, sz.group)
		sums := ref.W4A4GroupSums(a, w)
		want := make([]float64, sz.m*sz.n)
		for m := range sz.m {
			qa := a.Row(m, make([]int8, sz.k))
			for n := range sz.n {
				qw := w.Row(n, make([]int8, sz.k))
				for g := range groups {
					lo, hi := quant.GroupBounds(sz.k, sz.group, g)
					var s int64
					for k := lo; k < hi; k++ {
						s += int64(qa[k]) * int64(qw[k])
						want[m*sz.n+n] += float64(a.Scales[m*groups+g]) * float64(qa[k]) * float64(w.Scales[n*groups+g]) * float64(qw[k])
					}
					require.Equal(t, s, sums[(m*sz.n+n)*groups+g])
				}
			}
		}
		got := ref.W4A4(a, w)
		require.Less(t, check.RelFrobenius(got, want), 1e-12, "%+v", sz)
	}
}
