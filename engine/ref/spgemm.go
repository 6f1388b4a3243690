package ref

import (
	"slices"

	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM is C = A*B by Gustavson's row-wise method with a map accumulator:
// row i of C is the sum over A's entries (i,k) of A[i,k] * B[k,:]. Duplicate
// input entries are summed, output rows are sorted, and an entry whose sum
// cancels to zero stays (structural), as in GraphBLAS and cuSPARSE.
func SpGEMM(a, b *sparse.CSR[float64]) (*sparse.CSR[float64], error) {
	if err := sparse.CheckProduct(a, b); err != nil {
		return nil, err
	}
	c := &sparse.CSR[float64]{Rows: a.Rows, Cols: b.Cols, RowPtr: make([]int64, a.Rows+1), ColInd: []int32{}, Val: []float64{}}
	for i := range a.Rows {
		acc := map[int32]float64{}
		for p := a.RowPtr[i]; p < a.RowPtr[i+1]; p++ {
			k := a.ColInd[p]
			for q := b.RowPtr[k]; q < b.RowPtr[k+1]; q++ {
				acc[b.ColInd[q]] += a.Val[p] * b.Val[q]
			}
		}
		cols := make([]int32, 0, len(acc))
		for j := range acc {
			cols = append(cols, j)
		}
		slices.Sort(cols)
		for _, j := range cols {
			c.ColInd = append(c.ColInd, j)
			c.Val = append(c.Val, acc[j])
		}
		c.RowPtr[i+1] = int64(len(c.ColInd))
	}
	return c, nil
}
