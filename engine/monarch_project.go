package engine

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
	"gonum.org/v1/gonum/mat"
)

// ProjectMonarch returns the factors (w1 (k, q, p), w2 (l, s, r)) of the
// Monarch matrix nearest to dense (l*s, k*p) in Frobenius norm, in dense's
// dtype (float32 or float64; the computation runs in float64).
//
// Why a per-block truncated SVD is optimal: the dense entry at row s*L + l,
// column kk*P + p is sum over r with r*L + l = kk*Q + qq of
// w2[l, s, r] * w1[kk, qq, p] (ref.MonarchDense). So for each pair (l, kk)
// the (S x P) block of those rows and columns is a sum of rank-1 terms, one
// for each r with floor((r*L + l)/Q) = kk, and every entry of w1 and w2
// belongs to exactly one pair. The blocks are therefore independent, each
// is any matrix of rank at most that count, and Eckart-Young makes its
// truncated SVD the best fit; the square case (every count 1) is the rank-1
// projection of the Monarch paper (fly's blockdiag_butterfly_project), which
// handles only square matrices. Singular values are split as sqrt(sigma) on
// each side, as fly does.
func ProjectMonarch(dense *Tensor, k, q, p, l, s, r int) (w1, w2 *Tensor, err error) {
	const op = "monarch projection"
	if dense == nil {
		return nil, nil, errs.Argument(op, "dense is nil")
	}
	if dense.Rank() != 2 {
		return nil, nil, errs.Shape(op, "dense must be a matrix, got shape %v", dense.Shape())
	}
	dt := dense.DType()
	if dt != Float32 && dt != Float64 {
		return nil, nil, errs.DType(op, "dense is %v, want float32 or float64", dt)
	}
	if !dense.OnHost() {
		return nil, nil, errs.Unsupported(op, "projection runs on the host, got %v", dense)
	}
	if k <= 0 || q <= 0 || p <= 0 || l <= 0 || s <= 0 || r <= 0 {
		return nil, nil, errs.Argument(op, "block counts and sizes must be positive, got k=%d q=%d p=%d l=%d s=%d r=%d", k, q, p, l, s, r)
	}
	// Bound the factor sizes before any product of them is formed.
	if _, err := tensor.NumElements([]int{k, q, p}); err != nil {
		return nil, nil, err
	}
	if _, err := tensor.NumElements([]int{l, s, r}); err != nil {
		return nil, nil, err
	}
	if l*r != k*q {
		return nil, nil, errs.Shape(op, "l*r = %d must equal k*q = %d (l=%d r=%d k=%d q=%d)", l*r, k*q, l, r, k, q)
	}
	m, n := dense.Dim(0), dense.Dim(1)
	if m != l*s || n != k*p {
		return nil, nil, errs.Shape(op, "dense has shape %v, want (l*s, k*p) = (%d, %d)", dense.Shape(), l*s, k*p)
	}
	a, err := dense.AsFloat64()
	if err != nil {
		return nil, nil, err
	}
	for i, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, errs.Argument(op, "dense[%d, %d] is %v; the projection needs finite values", i/n, i%n, v)
		}
	}
	if w1, err = tensor.New(dt, k, q, p); err != nil {
		return nil, nil, err
	}
	if w2, err = tensor.New(dt, l, s, r); err != nil {
		return nil, nil, err
	}
	pr := monarchProjection{a: a, k: k, q: q, p: p, l: l, s: s, r: r,
		f1: make([]float64, k*q*p), f2: make([]float64, l*s*r)}
	if err := pr.run(); err != nil {
		return nil, nil, err
	}
	f1, f2 := pr.f1, pr.f2
	if err := w1.SetFromFloat64(f1); err != nil {
		return nil, nil, err
	}
	if err := w2.SetFromFloat64(f2); err != nil {
		return nil, nil, err
	}
	return w1, w2, nil
}

// SquareMonarchShape returns the Monarch shape fly's blockdiag_butterfly_project
// uses for an n x n matrix: with a the largest divisor of n not above sqrt(n)
// and b = n/a, k = s = r = b and q = p = l = a (all sqrt(n) when n is a
// perfect square). It returns zeros for n <= 0.
func SquareMonarchShape(n int) (k, q, p, l, s, r int) {
	if n <= 0 {
		return 0, 0, 0, 0, 0, 0
	}
	a := int(math.Sqrt(float64(n)))
	for a*a > n {
		a--
	}
	for (a+1)*(a+1) <= n {
		a++
	}
	for n%a != 0 {
		a--
	}
	b := n / a
	return b, a, a, a, b, b
}

// ProjectMonarchSquare projects a square (n, n) dense matrix onto the
// nearest Monarch of shape SquareMonarchShape(n).
func ProjectMonarchSquare(dense *Tensor) (w1, w2 *Tensor, err error) {
	if dense == nil {
		return nil, nil, errs.Argument("monarch projection", "dense is nil")
	}
	if dense.Rank() != 2 || dense.Dim(0) != dense.Dim(1) || dense.Dim(0) == 0 {
		return nil, nil, errs.Shape("monarch projection", "dense must be a non-empty square matrix, got shape %v", dense.Shape())
	}
	k, q, p, l, s, r := SquareMonarchShape(dense.Dim(0))
	return ProjectMonarch(dense, k, q, p, l, s, r)
}

// monarchProjection holds one projection: the dense matrix a (l*s, k*p) and
// the factors f1 (k, q, p), f2 (l, s, r) being filled. Blocks are fitted
// concurrently: they write disjoint entries of f1 and f2.
type monarchProjection struct {
	a                []float64
	k, q, p, l, s, r int
	f1, f2           []float64
}

// run fits every (l, k) block on GOMAXPROCS goroutines.
func (pr *monarchProjection) run() error {
	blocks := pr.l * pr.k
	workers := min(runtime.GOMAXPROCS(0), blocks)
	var next atomic.Int64
	failed := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			sc := monarchProjScratch{blk: mat.NewDense(pr.s, pr.p, nil), sigma: make([]float64, min(pr.s, pr.p)), rs: make([]int, 0, pr.r)}
			for {
				i := int(next.Add(1) - 1)
				if i >= blocks {
					return
				}
				if err := pr.block(&sc, i/pr.k, i%pr.k); err != nil {
					failed[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range failed {
		if err != nil {
			return err
		}
	}
	return nil
}

// monarchProjScratch is one worker's reusable storage.
type monarchProjScratch struct {
	blk   *mat.Dense
	svd   mat.SVD
	u, v  mat.Dense
	sigma []float64
	rs    []int
}

// block fits block (li, kk): the (s x p) submatrix of rows s*L + li and
// columns kk*P + p, truncated to one rank-1 term per w2 column r that meets it.
func (pr *monarchProjection) block(sc *monarchProjScratch, li, kk int) error {
	l, q, p, s, r, n := pr.l, pr.q, pr.p, pr.s, pr.r, pr.k*pr.p
	// The w2 columns ri (and w1 rows qq) that meet in this block are those
	// with kk*Q <= ri*L + li < (kk+1)*Q.
	lo := 0
	if v := kk*q - li; v > 0 {
		lo = (v + l - 1) / l
	}
	hi := min(r, ((kk+1)*q-li+l-1)/l)
	sc.rs = sc.rs[:0]
	for ri := lo; ri < hi; ri++ {
		sc.rs = append(sc.rs, ri)
	}
	if len(sc.rs) == 0 {
		return nil // no parameter reaches this block: its best fit is zero
	}
	for si := range s {
		row := (si*l + li) * n
		for pi := range p {
			sc.blk.Set(si, pi, pr.a[row+kk*p+pi])
		}
	}
	if !sc.svd.Factorize(sc.blk, mat.SVDThin) {
		return errs.Argument("monarch projection", "svd of block (l=%d, k=%d) did not converge", li, kk)
	}
	sc.svd.Values(sc.sigma)
	sc.svd.UTo(&sc.u)
	sc.svd.VTo(&sc.v)
	for i, ri := range sc.rs[:min(len(sc.rs), len(sc.sigma))] {
		h := math.Sqrt(sc.sigma[i])
		qq := ri*l + li - kk*q
		for si := range s {
			pr.f2[(li*s+si)*r+ri] = h * sc.u.At(si, i)
		}
		for pi := range p {
			pr.f1[(kk*q+qq)*p+pi] = h * sc.v.At(pi, i)
		}
	}
	return nil
}
