package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
	"gonum.org/v1/gonum/mat"
)

func monarchEngine() *engine.Engine { return engine.New(cpu.New(0)) }

// monarchByPermutations is fly's version 3 of blockdiag_butterfly_multiply_reference,
// independent of package ref: explicit block-diagonal and permutation
// matrices, y = P_out * blockdiag(w2) * P * blockdiag(w1) * x, applied to each row.
func monarchByPermutations(d ref.MonarchDims, x, w1, w2 []float64) []float64 {
	kq := d.K * d.Q
	bd1 := monarchBlockDiag(w1, d.K, d.Q, d.P)
	bd2 := monarchBlockDiag(w2, d.L, d.S, d.R)
	// '(r l) -> (l r)': row l*R + r picks column r*L + l.
	perm := make([]float64, kq*kq)
	for l := range d.L {
		for r := range d.R {
			perm[(l*d.R+r)*kq+r*d.L+l] = 1
		}
	}
	// '(l s) -> (s l)': row s*L + l picks column l*S + s.
	pout := make([]float64, d.M()*d.M())
	for l := range d.L {
		for s := range d.S {
			pout[(s*d.L+l)*d.M()+l*d.S+s] = 1
		}
	}
	y := make([]float64, 0, d.Batch*d.M())
	for b := range d.Batch {
		v := monarchMatVec(bd1, kq, x[b*d.N():(b+1)*d.N()])
		v = monarchMatVec(perm, kq, v)
		v = monarchMatVec(bd2, d.M(), v)
		y = append(y, monarchMatVec(pout, d.M(), v)...)
	}
	return y
}

// monarchBlockDiag is torch.block_diag of nb blocks of rows x cols.
func monarchBlockDiag(w []float64, nb, rows, cols int) []float64 {
	out := make([]float64, nb*rows*nb*cols)
	for b := range nb {
		for i := range rows {
			for j := range cols {
				out[(b*rows+i)*nb*cols+b*cols+j] = w[(b*rows+i)*cols+j]
			}
		}
	}
	return out
}

func monarchMatVec(a []float64, rows int, v []float64) []float64 {
	out := make([]float64, rows)
	for i := range out {
		sum := 0.0
		for j, x := range v {
			sum += a[i*len(v)+j] * x
		}
		out[i] = sum
	}
	return out
}

// monarchTensor returns a random tensor of dtype dt (never zero) and its
// float64 values after rounding to dt.
func monarchTensor(t *testing.T, r *rand.Rand, dt engine.DType, shape ...int) (*engine.Tensor, []float64) {
	t.Helper()
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	require.NoError(t, x.SetFromFloat64(check.Uniform(r, x.Len())))
	v, err := x.AsFloat64()
	require.NoError(t, err)
	return x, v
}

func monarchValues(t *testing.T, x *engine.Tensor) []float64 {
	t.Helper()
	v, err := x.AsFloat64()
	require.NoError(t, err)
	return v
}

// The acceptance shapes: square n = 1024 with blocks of 32, and the
// rectangular w1 (8, 192, 96), w2 (24, 16, 64), in float64 and float32,
// against fly's explicit-permutation formulation. The inputs are float32
// values, so one explicit evaluation serves both dtypes.
func TestMonarchMatchesFly(t *testing.T) {
	e := monarchEngine()
	for _, c := range []struct {
		name string
		d    ref.MonarchDims
	}{
		{"square1024", ref.MonarchDims{Batch: 2, K: 32, Q: 32, P: 32, L: 32, S: 32, R: 32}},
		{"rectangular", ref.MonarchDims{Batch: 2, K: 8, Q: 192, P: 96, L: 24, S: 16, R: 64}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := check.NewRand(t)
			d := c.d
			f32 := func(n int) []float64 { return check.Float64s(check.Float32s(check.Uniform(r, n))) }
			xv, w1v, w2v := f32(d.Batch*d.N()), f32(d.K*d.Q*d.P), f32(d.L*d.S*d.R)
			want := monarchByPermutations(d, xv, w1v, w2v)
			for _, tc := range []struct {
				dt  engine.DType
				tol float64
			}{{engine.Float64, 1e-12}, {engine.Float32, 1e-5}} {
				mk := func(v []float64, shape ...int) *engine.Tensor {
					x, err := tensor.New(tc.dt, shape...)
					require.NoError(t, err)
					require.NoError(t, x.SetFromFloat64(v))
					return x
				}
				y, err := e.Monarch(t.Context(), mk(xv, d.Batch, d.N()), mk(w1v, d.K, d.Q, d.P), mk(w2v, d.L, d.S, d.R))
				require.NoError(t, err)
				require.Equal(t, []int{d.Batch, d.M()}, y.Shape())
				require.Equal(t, tc.dt, y.DType())
				rel := check.RelFrobenius(monarchValues(t, y), want)
				require.LessOrEqualf(t, rel, tc.tol, "%v", tc.dt)
			}
		})
	}
}

// fly's MonarchLinear with nblocks = 4: the weight shapes fly picks, and the
// output of pad -> Monarch -> truncate -> bias against the explicit form.
func TestMonarchLinearMatchesFly(t *testing.T) {
	e := monarchEngine()
	for _, c := range []struct {
		in, out       int
		w1, w2        []int
		inExt, outExt int
	}{
		{100, 70, []int{4, 18, 25}, []int{4, 18, 18}, 100, 72}, // in_ext >= out_ext, output truncated
		{30, 50, []int{4, 8, 8}, []int{4, 13, 8}, 32, 52},      // in_ext < out_ext, input padded, output truncated
		{64, 64, []int{4, 16, 16}, []int{4, 16, 16}, 64, 64},
		{7, 3, []int{4, 1, 2}, []int{4, 1, 1}, 8, 4},
	} {
		for _, tc := range []struct {
			dt  engine.DType
			tol float64
		}{{engine.Float64, 1e-12}, {engine.Float32, 1e-5}, {engine.BFloat16, 1e-2}} {
			for _, bias := range []bool{true, false} {
				t.Run(fmt.Sprintf("%dx%d/%v/bias=%v", c.in, c.out, tc.dt, bias), func(t *testing.T) {
					r := check.NewRand(t)
					layer, err := engine.NewMonarchLinear(c.in, c.out, 4, tc.dt)
					require.NoError(t, err)
					require.Equal(t, c.w1, layer.W1.Shape())
					require.Equal(t, c.w2, layer.W2.Shape())
					require.Equal(t, c.inExt, layer.InExtended())
					require.Equal(t, c.outExt, layer.OutExtended())
					var w1v, w2v, bv []float64
					layer.W1, w1v = monarchTensor(t, r, tc.dt, c.w1...)
					layer.W2, w2v = monarchTensor(t, r, tc.dt, c.w2...)
					if bias {
						layer.Bias, bv = monarchTensor(t, r, tc.dt, c.out)
					} else {
						layer.Bias = nil
					}
					const batch = 5
					x, xv := monarchTensor(t, r, tc.dt, batch, c.in)

					d := ref.MonarchDims{Batch: batch, K: 4, Q: c.w1[1], P: c.w1[2], L: 4, S: c.w2[1], R: c.w2[2]}
					xp := make([]float64, batch*c.inExt) // F.pad with zeros
					for b := range batch {
						copy(xp[b*c.inExt:], xv[b*c.in:(b+1)*c.in])
					}
					full := monarchByPermutations(d, xp, w1v, w2v)
					want := make([]float64, 0, batch*c.out)
					for b := range batch {
						for j := range c.out {
							v := full[b*c.outExt+j]
							if bias {
								v += bv[j]
							}
							want = append(want, v)
						}
					}
					y, err := layer.Forward(t.Context(), e, x)
					require.NoError(t, err)
					require.Equal(t, []int{batch, c.out}, y.Shape())
					require.Equal(t, tc.dt, y.DType())
					require.LessOrEqual(t, check.RelFrobenius(monarchValues(t, y), want), tc.tol)
				})
			}
		}
	}
}

// InitRandom follows fly's reset_parameters bounds and fills every entry.
func TestMonarchLinearInitRandom(t *testing.T) {
	layer, err := engine.NewMonarchLinear(30, 50, 4, engine.Float32)
	require.NoError(t, err)
	require.NoError(t, layer.InitRandom(check.NewRand(t)))
	for _, c := range []struct {
		t     *engine.Tensor
		bound float64
	}{{layer.W1, 1 / math.Sqrt(8)}, {layer.W2, 1 / math.Sqrt(8)}, {layer.Bias, 1 / math.Sqrt(30)}} {
		v := monarchValues(t, c.t)
		maxAbs := 0.0
		for _, x := range v {
			require.NotZero(t, x)
			maxAbs = max(maxAbs, math.Abs(x))
		}
		require.LessOrEqual(t, maxAbs, c.bound)
		require.Greater(t, maxAbs, c.bound/2)
	}
}

func monarchRandomFactors(r *rand.Rand, d ref.MonarchDims) (w1, w2 []float64) {
	return check.Uniform(r, d.K*d.Q*d.P), check.Uniform(r, d.L*d.S*d.R)
}

func monarchDenseTensor(t *testing.T, d ref.MonarchDims, v []float64, dt engine.DType) *engine.Tensor {
	t.Helper()
	x, err := tensor.New(dt, d.M(), d.N())
	require.NoError(t, err)
	require.NoError(t, x.SetFromFloat64(v))
	return x
}

// Projecting a Monarch matrix gives back the same matrix (the factors
// themselves are only determined up to scaling within each block).
func TestProjectMonarchRecovers(t *testing.T) {
	for _, c := range []struct {
		name string
		d    ref.MonarchDims
	}{
		{"square256", ref.MonarchDims{K: 16, Q: 16, P: 16, L: 16, S: 16, R: 16}},
		{"rectangular", ref.MonarchDims{K: 8, Q: 192, P: 96, L: 24, S: 16, R: 64}},
		{"uneven-ranks", ref.MonarchDims{K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4}},
		{"wide-blocks", ref.MonarchDims{K: 4, Q: 3, P: 5, L: 2, S: 7, R: 6}},
	} {
		for _, tc := range []struct {
			dt  engine.DType
			tol float64
		}{{engine.Float64, 1e-10}, {engine.Float32, 1e-5}} {
			if tc.dt == engine.Float32 && c.name == "rectangular" {
				continue // float32 is covered by the smaller shapes; keep -race quick
			}
			t.Run(fmt.Sprintf("%s/%v", c.name, tc.dt), func(t *testing.T) {
				r := check.NewRand(t)
				d := c.d
				w1v, w2v := monarchRandomFactors(r, d)
				want := ref.MonarchDense(d, w1v, w2v)
				dense := monarchDenseTensor(t, d, want, tc.dt)
				want = monarchValues(t, dense)
				w1, w2, err := engine.ProjectMonarch(dense, d.K, d.Q, d.P, d.L, d.S, d.R)
				require.NoError(t, err)
				require.Equal(t, tc.dt, w1.DType())
				require.Equal(t, []int{d.K, d.Q, d.P}, w1.Shape())
				require.Equal(t, []int{d.L, d.S, d.R}, w2.Shape())
				got := ref.MonarchDense(d, monarchValues(t, w1), monarchValues(t, w2))
				require.LessOrEqual(t, check.RelFrobenius(got, want), tc.tol)
			})
		}
	}
}

// ProjectMonarchSquare uses fly's square shape, also for an n that is not a
// perfect square.
func TestProjectMonarchSquare(t *testing.T) {
	for _, c := range []struct{ n, k, q, p, l, s, r int }{
		{1024, 32, 32, 32, 32, 32, 32},
		{24, 6, 4, 4, 4, 6, 6},
		{7, 7, 1, 1, 1, 7, 7},
		{1, 1, 1, 1, 1, 1, 1},
	} {
		k, q, p, l, s, r := engine.SquareMonarchShape(c.n)
		require.Equal(t, []int{c.k, c.q, c.p, c.l, c.s, c.r}, []int{k, q, p, l, s, r}, "n=%d", c.n)
	}
	rng := check.NewRand(t)
	d := ref.MonarchDims{K: 6, Q: 4, P: 4, L: 4, S: 6, R: 6}
	w1v, w2v := monarchRandomFactors(rng, d)
	want := ref.MonarchDense(d, w1v, w2v)
	w1, w2, err := engine.ProjectMonarchSquare(monarchDenseTensor(t, d, want, engine.Float64))
	require.NoError(t, err)
	got := ref.MonarchDense(d, monarchValues(t, w1), monarchValues(t, w2))
	require.LessOrEqual(t, check.RelFrobenius(got, want), 1e-10)
}

// On a random dense matrix the projection is optimal: no perturbation of
// its factors, in many random directions and at several sizes, comes closer
// to the dense matrix; and it beats random Monarchs by far.
func TestProjectMonarchOptimal(t *testing.T) {
	for _, d := range []ref.MonarchDims{
		{K: 4, Q: 4, P: 4, L: 4, S: 4, R: 4},
		{K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4},
		{K: 3, Q: 4, P: 5, L: 6, S: 2, R: 2},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d-%dx%dx%d", d.K, d.Q, d.P, d.L, d.S, d.R), func(t *testing.T) {
			r := check.NewRand(t)
			dv := check.Uniform(r, d.M()*d.N())
			w1, w2, err := engine.ProjectMonarch(monarchDenseTensor(t, d, dv, engine.Float64), d.K, d.Q, d.P, d.L, d.S, d.R)
			require.NoError(t, err)
			w1v, w2v := monarchValues(t, w1), monarchValues(t, w2)
			dist := func(a, b []float64) float64 {
				m := ref.MonarchDense(d, a, b)
				sum := 0.0
				for i := range dv {
					sum += (dv[i] - m[i]) * (dv[i] - m[i])
				}
				return math.Sqrt(sum)
			}
			best := dist(w1v, w2v)
			require.Less(t, best, dist(make([]float64, len(w1v)), make([]float64, len(w2v)))) // better than zero
			for trial := range 150 {
				eps := []float64{1e-1, 1e-2, 1e-4}[trial%3]
				d1, d2 := check.Uniform(r, len(w1v)), check.Uniform(r, len(w2v))
				if trial%5 == 0 {
					clear(d2) // move one factor only
				}
				p1, p2 := make([]float64, len(w1v)), make([]float64, len(w2v))
				for i := range p1 {
					p1[i] = w1v[i] + eps*d1[i]
				}
				for i := range p2 {
					p2[i] = w2v[i] + eps*d2[i]
				}
				require.GreaterOrEqualf(t, dist(p1, p2), best*(1-1e-12), "trial %d eps %g", trial, eps)
			}
			for range 20 {
				a, b := monarchRandomFactors(r, d)
				require.Greater(t, dist(a, b), best)
			}
			// Random perturbations cannot see past a saddle (say, a block
			// fitted at too low a rank, its extra factors zero), so also
			// descend from random starts by alternating least squares, which
			// knows nothing of blocks or SVDs: it must never get closer.
			for range 2 {
				a, b := monarchRandomFactors(r, d)
				for range 15 {
					b = monarchLeastSquares(t, dv, len(b), func(e []float64) []float64 { return ref.MonarchDense(d, a, e) })
					a = monarchLeastSquares(t, dv, len(a), func(e []float64) []float64 { return ref.MonarchDense(d, e, b) })
				}
				require.GreaterOrEqual(t, dist(a, b), best*(1-1e-9))
			}
		})
	}
}

// monarchLeastSquares returns the v minimizing ||target - f(v)|| for f
// linear, built column by column from f of the unit vectors.
func monarchLeastSquares(t *testing.T, target []float64, nv int, f func([]float64) []float64) []float64 {
	t.Helper()
	a := mat.NewDense(len(target), nv, nil)
	e := make([]float64, nv)
	for j := range nv {
		e[j] = 1
		for i, v := range f(e) {
			a.Set(i, j, v)
		}
		e[j] = 0
	}
	var x mat.Dense
	require.NoError(t, x.Solve(a, mat.NewDense(len(target), 1, append([]float64(nil), target...))))
	return mat.Col(nil, 0, &x)
}

// The gradients match central differences of <dy, y>; the product is linear
// in each operand, so the differences are exact up to rounding. float32 is
// compared with the float64 differences of the same (rounded) values.
func TestMonarchBackwardFiniteDifferences(t *testing.T) {
	e := monarchEngine()
	for _, tc := range []struct {
		dt  engine.DType
		tol float64
	}{{engine.Float64, 1e-9}, {engine.Float32, 1e-5}} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			r := check.NewRand(t)
			d := ref.MonarchDims{Batch: 3, K: 2, Q: 6, P: 3, L: 3, S: 5, R: 4}
			x, xv := monarchTensor(t, r, tc.dt, d.Batch, d.N())
			w1, w1v := monarchTensor(t, r, tc.dt, d.K, d.Q, d.P)
			w2, w2v := monarchTensor(t, r, tc.dt, d.L, d.S, d.R)
			dy, dyv := monarchTensor(t, r, tc.dt, d.Batch, d.M())
			xv, w1v, w2v = append([]float64(nil), xv...), append([]float64(nil), w1v...), append([]float64(nil), w2v...)
			loss := func() float64 {
				t64 := func(v []float64, shape ...int) *engine.Tensor {
					x, err := tensor.FromFloat64(v, shape...)
					require.NoError(t, err)
					return x
				}
				y, err := e.Monarch(t.Context(), t64(xv, d.Batch, d.N()), t64(w1v, d.K, d.Q, d.P), t64(w2v, d.L, d.S, d.R))
				require.NoError(t, err)
				sum := 0.0
				for i, v := range y.Float64() {
					sum += v * dyv[i]
				}
				return sum
			}
			g, err := e.MonarchBackward(t.Context(), x, w1, w2, dy)
			require.NoError(t, err)
			for _, c := range []struct {
				name  string
				param []float64
				got   *engine.Tensor
			}{{"dx", xv, g.DX}, {"dw1", w1v, g.DW1}, {"dw2", w2v, g.DW2}} {
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
				require.Equal(t, tc.dt, c.got.DType())
				require.LessOrEqualf(t, check.RelFrobenius(monarchValues(t, c.got), fd), tc.tol, c.name)
			}
		})
	}
}

// An empty batch is a valid product with an empty result.
func TestMonarchEmptyBatch(t *testing.T) {
	e := monarchEngine()
	r := check.NewRand(t)
	x, err := tensor.New(engine.Float32, 0, 12)
	require.NoError(t, err)
	w1, _ := monarchTensor(t, r, engine.Float32, 4, 3, 3)
	w2, _ := monarchTensor(t, r, engine.Float32, 2, 5, 6)
	y, err := e.Monarch(t.Context(), x, w1, w2)
	require.NoError(t, err)
	require.Equal(t, []int{0, 10}, y.Shape())
	g, err := e.MonarchBackward(t.Context(), x, w1, w2, y)
	require.NoError(t, err)
	require.Equal(t, make([]float64, w1.Len()), monarchValues(t, g.DW1))
	require.Equal(t, make([]float64, w2.Len()), monarchValues(t, g.DW2))
}

func TestMonarchBadInputs(t *testing.T) {
	e := monarchEngine()
	r := check.NewRand(t)
	f32 := func(shape ...int) *engine.Tensor { x, _ := monarchTensor(t, r, engine.Float32, shape...); return x }
	f64 := func(shape ...int) *engine.Tensor { x, _ := monarchTensor(t, r, engine.Float64, shape...); return x }
	i32 := func(shape ...int) *engine.Tensor {
		n, err := tensor.NumElements(shape)
		require.NoError(t, err)
		x, err := tensor.FromInt32(make([]int32, n), shape...)
		require.NoError(t, err)
		return x
	}
	// Valid: x (3, 6), w1 (2, 6, 3), w2 (3, 5, 4), y (3, 15).
	x, w1, w2, y := f32(3, 6), f32(2, 6, 3), f32(3, 5, 4), f32(3, 15)
	for _, c := range []struct {
		name         string
		x, w1, w2, y *engine.Tensor
		want         error
		yOnly        bool // only y is wrong: Monarch, which allocates y, succeeds
	}{
		{"nil x", nil, w1, w2, y, engine.ErrArgument, false},
		{"nil w1", x, nil, w2, y, engine.ErrArgument, false},
		{"nil w2", x, w1, nil, y, engine.ErrArgument, false},
		{"nil y", x, w1, w2, nil, engine.ErrArgument, true},
		{"x rank 1", f32(18), w1, w2, y, engine.ErrShape, false},
		{"w1 rank 2", x, f32(12, 3), w2, y, engine.ErrShape, false},
		{"w2 rank 4", x, w1, f32(3, 5, 4, 1), y, engine.ErrShape, false},
		{"n != k*p", f32(3, 7), w1, w2, y, engine.ErrShape, false},
		{"l*r != k*q", x, w1, f32(3, 5, 5), f32(3, 15), engine.ErrShape, false},
		{"y rows", x, w1, w2, f32(2, 15), engine.ErrShape, true},
		{"y cols", x, w1, w2, f32(3, 16), engine.ErrShape, true},
		{"y rank", x, w1, w2, f32(45), engine.ErrShape, true},
		{"empty block axis", f32(3, 0), f32(0, 6, 3), w2, y, engine.ErrShape, false},
		{"empty block size", f32(3, 0), f32(2, 6, 0), w2, y, engine.ErrShape, false},
		{"w1 float64", x, f64(2, 6, 3), w2, y, engine.ErrDType, false},
		{"w2 float64", x, w1, f64(3, 5, 4), y, engine.ErrDType, false},
		{"y float64", x, w1, w2, f64(3, 15), engine.ErrDType, true},
		{"int32 operands", i32(3, 6), i32(2, 6, 3), i32(3, 5, 4), i32(3, 15), engine.ErrDType, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, e.MonarchInto(t.Context(), c.y, c.x, c.w1, c.w2), c.want)
			_, err := e.Monarch(t.Context(), c.x, c.w1, c.w2)
			if c.yOnly {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, c.want)
			}
		})
	}

	dy := f32(3, 15)
	for _, c := range []struct {
		name       string
		a          backend.MonarchGradArgs
		want       error
		outputOnly bool // only an output is wrong: MonarchBackward, which allocates them, succeeds
	}{
		{"nil dy", backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DX: f32(3, 6)}, engine.ErrArgument, false},
		{"dy shape", backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: f32(3, 14)}, engine.ErrShape, false},
		{"dy dtype", backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: f64(3, 15)}, engine.ErrDType, false},
		{"dx shape", backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: dy, DX: f32(3, 5)}, engine.ErrShape, true},
		{"dw1 shape", backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: dy, DW1: f32(2, 3, 6)}, engine.ErrShape, true},
		{"dw2 dtype", backend.MonarchGradArgs{X: x, W1: w1, W2: w2, DY: dy, DW2: f64(3, 5, 4)}, engine.ErrDType, true},
		{"bad inputs", backend.MonarchGradArgs{X: f32(3, 7), W1: w1, W2: w2, DY: dy}, engine.ErrShape, false},
		{"nil x", backend.MonarchGradArgs{W1: w1, W2: w2, DY: dy}, engine.ErrArgument, false},
	} {
		t.Run("backward/"+c.name, func(t *testing.T) {
			require.ErrorIs(t, e.MonarchBackwardInto(t.Context(), c.a), c.want)
			_, err := e.MonarchBackward(t.Context(), c.a.X, c.a.W1, c.a.W2, c.a.DY)
			if c.outputOnly {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, c.want)
			}
		})
	}
}

func TestMonarchLinearBadInputs(t *testing.T) {
	e := monarchEngine()
	r := check.NewRand(t)
	for _, c := range []struct {
		in, out, nb int
		dt          engine.DType
		want        error
	}{
		{0, 4, 2, engine.Float32, engine.ErrArgument},
		{4, -1, 2, engine.Float32, engine.ErrArgument},
		{4, 4, 0, engine.Float32, engine.ErrArgument},
		{4, 4, 2, engine.Int8, engine.ErrDType},
		{1 << 40, 1 << 40, 1, engine.Float32, engine.ErrLimit},
	} {
		_, err := engine.NewMonarchLinear(c.in, c.out, c.nb, c.dt)
		require.ErrorIs(t, err, c.want, "%+v", c)
	}
	layer, err := engine.NewMonarchLinear(10, 6, 4, engine.Float32)
	require.NoError(t, err)
	require.NoError(t, layer.InitRandom(r))
	x, _ := monarchTensor(t, r, engine.Float32, 2, 10)
	_, err = layer.Forward(t.Context(), e, nil)
	require.ErrorIs(t, err, engine.ErrArgument)
	bad, _ := monarchTensor(t, r, engine.Float32, 2, 9)
	_, err = layer.Forward(t.Context(), e, bad)
	require.ErrorIs(t, err, engine.ErrShape)
	bad, _ = monarchTensor(t, r, engine.Float64, 2, 10)
	_, err = layer.Forward(t.Context(), e, bad)
	require.ErrorIs(t, err, engine.ErrDType)

	w1 := layer.W1
	layer.W1, _ = monarchTensor(t, r, engine.Float32, 4, 3, 3) // fly's shape is (4, 2, 3)
	_, err = layer.Forward(t.Context(), e, x)
	require.ErrorIs(t, err, engine.ErrShape)
	layer.W1, _ = monarchTensor(t, r, engine.Float64, w1.Shape()...)
	_, err = layer.Forward(t.Context(), e, x)
	require.ErrorIs(t, err, engine.ErrDType)
	layer.W1 = w1
	layer.Bias, _ = monarchTensor(t, r, engine.Float32, 7)
	_, err = layer.Forward(t.Context(), e, x)
	require.ErrorIs(t, err, engine.ErrShape)
	layer.Bias = nil
	_, err = layer.Forward(t.Context(), e, x)
	require.NoError(t, err)
}

func TestProjectMonarchBadInputs(t *testing.T) {
	r := check.NewRand(t)
	dense, _ := monarchTensor(t, r, engine.Float64, 15, 6) // fits k=2 q=6 p=3 l=3 s=5 r=4
	_, _, err := engine.ProjectMonarch(dense, 2, 6, 3, 3, 5, 4)
	require.NoError(t, err)
	ints, err := tensor.FromInt32(make([]int32, 90), 15, 6)
	require.NoError(t, err)
	half, _ := monarchTensor(t, r, engine.BFloat16, 15, 6)
	vec, _ := monarchTensor(t, r, engine.Float64, 90)
	nan, _ := monarchTensor(t, r, engine.Float64, 15, 6)
	nan.Float64()[7] = math.NaN()
	for _, c := range []struct {
		name             string
		dense            *engine.Tensor
		k, q, p, l, s, r int
		want             error
	}{
		{"nil", nil, 2, 6, 3, 3, 5, 4, engine.ErrArgument},
		{"rank 1", vec, 2, 6, 3, 3, 5, 4, engine.ErrShape},
		{"int32", ints, 2, 6, 3, 3, 5, 4, engine.ErrDType},
		{"bfloat16", half, 2, 6, 3, 3, 5, 4, engine.ErrDType},
		{"zero k", dense, 0, 6, 3, 3, 5, 4, engine.ErrArgument},
		{"negative s", dense, 2, 6, 3, 3, -5, 4, engine.ErrArgument},
		{"l*r != k*q", dense, 2, 6, 3, 3, 5, 5, engine.ErrShape},
		{"dense rows", dense, 2, 6, 3, 4, 5, 3, engine.ErrShape},
		{"dense cols", dense, 3, 4, 3, 3, 5, 4, engine.ErrShape},
		{"too large", dense, 1 << 20, 1 << 20, 1 << 20, 1, 1, 1, engine.ErrLimit},
		{"not finite", nan, 2, 6, 3, 3, 5, 4, engine.ErrArgument},
	} {
		_, _, err := engine.ProjectMonarch(c.dense, c.k, c.q, c.p, c.l, c.s, c.r)
		require.ErrorIs(t, err, c.want, c.name)
	}
	_, _, err = engine.ProjectMonarchSquare(dense)
	require.ErrorIs(t, err, engine.ErrShape)
	_, _, err = engine.ProjectMonarchSquare(nil)
	require.ErrorIs(t, err, engine.ErrArgument)
}
