package ref_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/ref"
)

// monarchShapes cover square, rectangular (q != p, r != q, l != k), one row
// and the spec's rectangular example.
var monarchShapes = []ref.MonarchDims{
	{Batch: 3, K: 4, Q: 4, P: 4, L: 4, S: 4, R: 4},
	{Batch: 2, K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4},
	{Batch: 1, K: 3, Q: 4, P: 5, L: 6, S: 2, R: 2},
	{Batch: 4, K: 5, Q: 3, P: 7, L: 3, S: 9, R: 5},
	{Batch: 2, K: 8, Q: 192, P: 96, L: 24, S: 16, R: 64},
}

func monarchInputs(r *rand.Rand, d ref.MonarchDims) (x, w1, w2 []float64) {
	return check.Uniform(r, d.Batch*d.N()), check.Uniform(r, d.K*d.Q*d.P), check.Uniform(r, d.L*d.S*d.R)
}

// The worked example of the docs, by hand: x = [1 2 3 4], w1 blocks I and
// [[1 1] [0 1]] give y1 = [1 2 7 4]; read as (r l) that is z = [[1 7] [2 4]];
// w2 blocks I and [[1 1] [1 -1]] give y2 = [[1 7] [6 -2]]; in (s l) order
// y = [1 6 7 -2].
func TestMonarchWorkedExample(t *testing.T) {
	d := ref.MonarchDims{Batch: 1, K: 2, Q: 2, P: 2, L: 2, S: 2, R: 2}
	w1 := []float64{1, 0, 0, 1, 1, 1, 0, 1}
	w2 := []float64{1, 0, 0, 1, 1, 1, 1, -1}
	y := make([]float64, 4)
	ref.MonarchForward(d, []float64{1, 2, 3, 4}, w1, w2, y)
	require.Equal(t, []float64{1, 6, 7, -2}, y)
	require.Equal(t, []float64{
		1, 0, 0, 0,
		0, 1, 0, 1,
		0, 0, 1, 1,
		0, 1, 0, -1,
	}, ref.MonarchDense(d, w1, w2))
}

// fly's version 1 for a square Monarch (k = q = p = l = s = r):
// einsum('bkp,kqp,qlk->blq'), i.e. y[b, s*L + l] = sum_{k,p} x[b, k, p] w1[k, l, p] w2[l, s, k].
func TestMonarchForwardMatchesFlySquareEinsum(t *testing.T) {
	r := check.NewRand(t)
	const b = 5
	d := ref.MonarchDims{Batch: 3, K: b, Q: b, P: b, L: b, S: b, R: b}
	x, w1, w2 := monarchInputs(r, d)
	want := make([]float64, d.Batch*d.M())
	for bi := range d.Batch {
		for l := range b {
			for s := range b {
				sum := 0.0
				for k := range b {
					for p := range b {
						sum += x[bi*d.N()+k*b+p] * w1[(k*b+l)*b+p] * w2[(l*b+s)*b+k]
					}
				}
				want[bi*d.M()+s*b+l] = sum
			}
		}
	}
	got := make([]float64, len(want))
	ref.MonarchForward(d, x, w1, w2, got)
	require.LessOrEqual(t, check.RelFrobenius(got, want), 1e-14)
}

// MonarchDense (built from the index coupling) times x equals the forward.
func TestMonarchDenseMatchesForward(t *testing.T) {
	r := check.NewRand(t)
	for _, d := range monarchShapes {
		x, w1, w2 := monarchInputs(r, d)
		dense := ref.MonarchDense(d, w1, w2)
		want := make([]float64, d.Batch*d.M())
		for b := range d.Batch {
			for i := range d.M() {
				sum := 0.0
				for j := range d.N() {
					sum += dense[i*d.N()+j] * x[b*d.N()+j]
				}
				want[b*d.M()+i] = sum
			}
		}
		got := make([]float64, len(want))
		ref.MonarchForward(d, x, w1, w2, got)
		require.LessOrEqualf(t, check.RelFrobenius(got, want), 1e-12, "%+v", d)
	}
}

// The product is linear in each of x, w1 and w2 separately, so a central
// difference along one coordinate is exact up to rounding: every gradient
// entry is checked against it.
func TestMonarchBackwardFiniteDifferences(t *testing.T) {
	r := check.NewRand(t)
	for _, d := range monarchShapes[:4] {
		x, w1, w2 := monarchInputs(r, d)
		dy := check.Uniform(r, d.Batch*d.M())
		loss := func() float64 {
			y := make([]float64, len(dy))
			ref.MonarchForward(d, x, w1, w2, y)
			sum := 0.0
			for i := range y {
				sum += y[i] * dy[i]
			}
			return sum
		}
		dx, dw1, dw2 := make([]float64, len(x)), make([]float64, len(w1)), make([]float64, len(w2))
		ref.MonarchBackward(d, x, w1, w2, dy, dx, dw1, dw2)
		for _, c := range []struct {
			name       string
			param, got []float64
		}{{"dx", x, dx}, {"dw1", w1, dw1}, {"dw2", w2, dw2}} {
			fd := make([]float64, len(c.param))
			const h = 1e-3
			for i := range c.param {
				v := c.param[i]
				c.param[i] = v + h
				plus := loss()
				c.param[i] = v - h
				minus := loss()
				c.param[i] = v
				fd[i] = (plus - minus) / (2 * h)
			}
			require.LessOrEqualf(t, check.RelFrobenius(c.got, fd), 1e-9, "%s %+v", c.name, d)
		}
	}
}

// Nil outputs are skipped and the others still come out right, whatever
// the outputs held before.
func TestMonarchBackwardPartialOutputs(t *testing.T) {
	r := check.NewRand(t)
	d := monarchShapes[1]
	x, w1, w2 := monarchInputs(r, d)
	dy := check.Uniform(r, d.Batch*d.M())
	dx, dw1, dw2 := make([]float64, len(x)), make([]float64, len(w1)), make([]float64, len(w2))
	ref.MonarchBackward(d, x, w1, w2, dy, dx, dw1, dw2)
	only := check.Uniform(r, len(w1)) // garbage that must be overwritten
	ref.MonarchBackward(d, x, w1, w2, dy, nil, only, nil)
	require.Equal(t, dw1, only)
	only = check.Uniform(r, len(w2))
	ref.MonarchBackward(d, x, w1, w2, dy, nil, nil, only)
	require.Equal(t, dw2, only)
	only = check.Uniform(r, len(x))
	ref.MonarchBackward(d, x, w1, w2, dy, only, nil, nil)
	require.Equal(t, dx, only)
}
