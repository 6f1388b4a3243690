package sparse

import (
	"fmt"
	"math"
)

// Diff compares got against want for tests and returns "" when they agree, or
// a one-line description of the first difference. Both are brought to
// canonical form first (rows sorted, duplicates summed); their patterns must
// then be identical (structural zeros included), and each value must satisfy
// |got - want| <= tol * s, where s is the matching entry of scale, or
// max(|got|, |want|) when scale is nil. scale must have want's pattern; for a
// product A*B, |A|*|B| bounds the rounding error of every entry, cancelling
// sums included. NaN never matches.
func Diff[T Float](got, want *CSR[T], scale *CSR[float64], tol float64) string {
	g, err := got.SortedCanonical()
	if err != nil {
		return "got: " + err.Error()
	}
	w, err := want.SortedCanonical()
	if err != nil {
		return "want: " + err.Error()
	}
	var s *CSR[float64]
	if scale != nil {
		if s, err = scale.SortedCanonical(); err != nil {
			return "scale: " + err.Error()
		}
		if s.Rows != w.Rows || s.Cols != w.Cols || s.NNZ() != w.NNZ() {
			return fmt.Sprintf("scale is %dx%d with %d entries, want has %dx%d with %d", s.Rows, s.Cols, s.NNZ(), w.Rows, w.Cols, w.NNZ())
		}
	}
	if g.Rows != w.Rows || g.Cols != w.Cols {
		return fmt.Sprintf("got %dx%d, want %dx%d", g.Rows, g.Cols, w.Rows, w.Cols)
	}
	for i := range w.Rows {
		gl, gh, wl, wh := g.RowPtr[i], g.RowPtr[i+1], w.RowPtr[i], w.RowPtr[i+1]
		if gh-gl != wh-wl {
			return fmt.Sprintf("row %d: got %d entries, want %d", i, gh-gl, wh-wl)
		}
		for d := int64(0); d < wh-wl; d++ {
			gc, wc := g.ColInd[gl+d], w.ColInd[wl+d]
			if gc != wc {
				return fmt.Sprintf("row %d: got column %d, want %d", i, gc, wc)
			}
			gv, wv := float64(g.Val[gl+d]), float64(w.Val[wl+d])
			bound := max(math.Abs(gv), math.Abs(wv))
			if s != nil {
				if s.ColInd[wl+d] != wc {
					return fmt.Sprintf("row %d: scale has column %d where want has %d", i, s.ColInd[wl+d], wc)
				}
				bound = s.Val[wl+d]
			}
			if !(math.Abs(gv-wv) <= tol*bound) && gv != wv {
				return fmt.Sprintf("entry (%d, %d): got %.17g, want %.17g (|diff| %.3g > %.3g)", i, wc, gv, wv, math.Abs(gv-wv), tol*bound)
			}
		}
	}
	return ""
}
