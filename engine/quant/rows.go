package quant

import (
	"runtime"
	"sync"
)

// rowGrain is the least number of values a goroutine quantizes: below it
// the goroutine costs more than the work.
const rowGrain = 1 << 16

// forRows calls f over [0, rows) split into contiguous ranges, one a
// goroutine, as many as GOMAXPROCS allows and the rows x cols values
// justify; a small matrix runs on the caller's goroutine. Rows are
// independent in every quantizer, so the result is the same however many.
func forRows(rows, cols int, f func(r0, r1 int)) {
	n := min(runtime.GOMAXPROCS(0), rows, rows*cols/rowGrain)
	if n <= 1 {
		f(0, rows)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(rows*i/n, rows*(i+1)/n) })
	}
	wg.Wait()
}

// quantizeRows quantizes x (rows, k), row-major, per row and group g of the
// given size at qmax[g] (one entry a group): the codes (rows, k) and the
// scales (rows, groups), rows in parallel.
func quantizeRows(x []float32, rows, k, group int, qmax []float32) (codes []int8, scales []float32) {
	groups := len(qmax)
	codes = make([]int8, rows*k)
	scales = make([]float32, rows*groups)
	forRows(rows, k, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			for g, q := range qmax {
				lo, hi := GroupBounds(k, group, g)
				scales[r*groups+g] = quantizeGroup(x[r*k+lo:r*k+hi], q, codes[r*k+lo:r*k+hi])
			}
		}
	})
	return codes, scales
}
